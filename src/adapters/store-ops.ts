/**
 * What every Store adapter checks and encodes the same way: write validation, the fingerprint of
 * a request for client-token idempotency, and opaque query cursors.
 */
import { createHash } from 'node:crypto';
import { StoreError } from '../core/errors.ts';
import type { WriteOp } from '../core/ports/store.ts';

/** Rejects malformed writes before anything is written, naming the write and its key. */
export function validateOps(ops: readonly WriteOp[]): void {
  // Keys seen, by partition key: no joined string per write (a reconcile's batch writes hundreds).
  const seen = new Map<string, Set<string>>();
  for (let index = 0; index < ops.length; index++) {
    const op = ops[index] as WriteOp;
    if (op.type !== 'put' && op.type !== 'delete') throw new StoreError(`write ${index}: unknown type`, whereOf(index, op));
    if (typeof op.pk !== 'string' || op.pk === '' || typeof op.sk !== 'string' || op.sk === '') {
      throw new StoreError(`write ${index}: pk and sk must be non-empty strings`, whereOf(index, op));
    }
    const v = op.ifVersion;
    if (v !== 'any' && v !== 'absent' && !(Number.isSafeInteger(v) && v >= 1)) {
      throw new StoreError(`write ${index} (${op.pk} / ${op.sk}): ifVersion must be 'absent', 'any' or a version >= 1`, { ...whereOf(index, op), ifVersion: v });
    }
    let sks = seen.get(op.pk);
    if (sks === undefined) seen.set(op.pk, (sks = new Set()));
    // As in DynamoDB: one transaction writes a key at most once (DynamoDB's own error names no key).
    if (sks.has(op.sk)) throw new StoreError(`write ${index}: ${op.pk} / ${op.sk} appears twice in one transaction`, whereOf(index, op));
    sks.add(op.sk);
  }
}

/** The context of an error about write `index`. */
function whereOf(index: number, op: WriteOp): { index: number; pk: string; sk: string } {
  return { index, pk: op.pk, sk: op.sk };
}

/** Identifies a request by its keys and conditions (not its data: cheap for big transactions). */
export function fingerprint(ops: readonly WriteOp[]): string {
  const hash = createHash('sha256');
  for (const op of ops) hash.update(`${op.type}\u0000${op.pk}\u0000${op.sk}\u0000${String(op.ifVersion)}\n`);
  return hash.digest('base64url');
}

export function encodeCursor(pk: string, sk: string): string {
  return Buffer.from(JSON.stringify([pk, sk]), 'utf8').toString('base64url');
}

/** Returns the sort key to resume after; the cursor must come from the same partition. */
export function decodeCursor(cursor: string, pk: string): string {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  if (!Array.isArray(decoded) || decoded[0] !== pk || typeof decoded[1] !== 'string') {
    throw new StoreError(`invalid query cursor for partition ${pk}`, { pk, cursor });
  }
  return decoded[1];
}
