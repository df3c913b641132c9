/**
 * The verification walk, pure over what a ledger holds: entry lines, checkpoint lines, the head
 * record and a way to read outputs. It stops at the first failure and names it (which entry or
 * checkpoint, which check), the way `aws cloudtrail validate-logs` names the first bad file.
 */
import { sha256Hex } from '../digest.ts';
import type { SignatureVerifier } from '../ports/evidence-ledger.ts';
import {
  checkpointPayload,
  digestHex,
  GENESIS_HASH,
  parseCheckpointLine,
  parseEntryLine,
  type Checkpoint,
  type HeadRecord,
} from './chain.ts';

export type VerifyFailureCode =
  /** An entry line cannot be read (framing, JSON or fields). */
  | 'entry-unreadable'
  /** An entry's seq is not its position: entries were removed, inserted or reordered. */
  | 'entry-out-of-sequence'
  /** An entry's `prev` is not the previous entry's hash. */
  | 'chain-broken'
  /** An entry's bytes do not hash to its stored hash: it was changed. */
  | 'entry-hash-mismatch'
  | 'output-missing'
  | 'output-mismatch'
  /** The ledger ends before the committed head: entries were removed from the end. */
  | 'ledger-truncated'
  /** The entry at the head's position is not the one the head names. */
  | 'head-mismatch'
  | 'head-missing'
  | 'checkpoint-unreadable'
  | 'checkpoint-out-of-sequence'
  | 'checkpoint-chain-broken'
  /** A checkpoint signs a head the ledger does not have (beyond its end, or another hash). */
  | 'checkpoint-mismatch'
  | 'signature-invalid'
  | 'unknown-key'
  | 'checkpoints-truncated';

export interface VerifyFailure {
  readonly code: VerifyFailureCode;
  readonly message: string;
  /** The entry that fails (1-based), when the failure is about one. */
  readonly seq?: number;
  /** The checkpoint that fails (1-based). */
  readonly checkpoint?: number;
  /** 1-based line in the file named by `file`. */
  readonly line?: number;
  readonly file: 'ledger' | 'checkpoints' | 'head' | 'output';
}

export interface VerifyReport {
  readonly ok: boolean;
  /** Committed entries walked. */
  readonly entries: number;
  readonly checkpoints: number;
  /** Highest entry covered by a valid signature (0 when none). */
  readonly signedThrough: number;
  /** Committed entries after the last checkpoint: chained, but not yet signed. */
  readonly unsignedEntries: number;
  /** Complete or torn lines past the committed head (left by a crash; the writer removes them on open). */
  readonly uncommittedLines: number;
  readonly outputsChecked: number;
  readonly keyIds: readonly string[];
  readonly failure?: VerifyFailure;
}

export interface RawLine {
  readonly text: string;
  /** 1-based. */
  readonly number: number;
  /** False for a last line without its newline. */
  readonly terminated: boolean;
}

export interface LedgerContents {
  /** Undefined when there is no head record although the ledger is not empty. */
  readonly head: HeadRecord | undefined;
  readonly entryLines: Iterable<RawLine>;
  readonly checkpointLines: Iterable<RawLine>;
  /** The stored bytes of an output by digest hex, undefined when absent. */
  readOutput(hex: string): Uint8Array | string | undefined;
}

/** Walks entries, then the head, then the checkpoints and their signatures; stops at the first failure. */
export async function verifyLedger(contents: LedgerContents, verifier: SignatureVerifier): Promise<VerifyReport> {
  const head = contents.head;
  const counts = { entries: 0, checkpoints: 0, signedThrough: 0, uncommittedLines: 0, outputsChecked: 0 };
  const keyIds = new Set<string>();
  const done = (failure?: VerifyFailure): VerifyReport => ({
    ok: failure === undefined,
    ...counts,
    unsignedEntries: Math.max(0, counts.entries - counts.signedThrough),
    keyIds: [...keyIds].sort(),
    ...(failure ? { failure } : {}),
  });
  if (!head) return done({ code: 'head-missing', file: 'head', message: 'the ledger has entries but no head record: it cannot say what was committed' });

  // Checkpoints first, read only: the walk needs to know which entries they sign.
  const checkpoints: Array<{ cp: Checkpoint; line: number }> = [];
  let cpUncommitted = 0;
  for (const line of contents.checkpointLines) {
    if (checkpoints.length >= head.checkpoints.n) {
      cpUncommitted++;
      continue;
    }
    const parsed = line.terminated ? parseCheckpointLine(line.text) : { ok: false as const, reason: 'torn line' };
    if (!parsed.ok) {
      return done({ code: 'checkpoint-unreadable', file: 'checkpoints', checkpoint: checkpoints.length + 1, line: line.number, message: `checkpoint line ${line.number}: ${parsed.reason}` });
    }
    checkpoints.push({ cp: parsed.checkpoint, line: line.number });
  }
  const signedHashes = new Map<number, string>();
  for (const { cp } of checkpoints) signedHashes.set(cp.seq, cp.hash);
  const hashAt = new Map<number, string>();

  const outputs = new Map<string, 'ok' | 'missing' | 'mismatch'>();
  let prev = GENESIS_HASH;
  for (const line of contents.entryLines) {
    if (counts.entries >= head.seq) {
      counts.uncommittedLines++;
      continue;
    }
    const seq = counts.entries + 1;
    const at = { seq, line: line.number, file: 'ledger' as const };
    if (!line.terminated) return done({ code: 'entry-unreadable', ...at, message: `entry ${seq} (line ${line.number}) is torn: it has no end of line` });
    const parsed = parseEntryLine(line.text);
    if (!parsed.ok) return done({ code: 'entry-unreadable', ...at, message: `entry ${seq} (line ${line.number}) cannot be read: ${parsed.reason}` });
    const { entry } = parsed;
    if (entry.seq !== seq) {
      return done({ code: 'entry-out-of-sequence', ...at, message: `line ${line.number} holds entry ${entry.seq} where entry ${seq} belongs: entries were removed, inserted or reordered` });
    }
    if (parsed.actualHash !== parsed.storedHash) {
      return done({ code: 'entry-hash-mismatch', ...at, message: `entry ${seq} (line ${line.number}) was changed: its bytes hash to ${parsed.actualHash}, it says ${parsed.storedHash}` });
    }
    if (entry.prev !== prev) {
      return done({ code: 'chain-broken', ...at, message: `entry ${seq} (line ${line.number}) does not follow entry ${seq - 1}: prev ${entry.prev}, expected ${prev}` });
    }
    const digest = entry.result.evidenceDigest;
    if (digest !== undefined) {
      const hex = digestHex(digest);
      let state = outputs.get(hex);
      if (state === undefined) {
        const bytes = contents.readOutput(hex);
        state = bytes === undefined ? 'missing' : sha256Hex(bytes) === hex ? 'ok' : 'mismatch';
        outputs.set(hex, state);
        counts.outputsChecked++;
      }
      if (state !== 'ok') {
        const what = state === 'missing' ? 'is missing' : 'was changed: its bytes do not hash to its name';
        return done({ code: state === 'missing' ? 'output-missing' : 'output-mismatch', seq, line: line.number, file: 'output', message: `entry ${seq} (line ${line.number}): output ${digest} ${what}` });
      }
    }
    if (signedHashes.has(seq)) hashAt.set(seq, entry.hash);
    prev = entry.hash;
    counts.entries = seq;
  }
  if (counts.entries < head.seq) {
    return done({ code: 'ledger-truncated', file: 'ledger', seq: counts.entries + 1, message: `the ledger ends after entry ${counts.entries} but its head says ${head.seq} entries were committed: entry ${counts.entries + 1} onwards was removed` });
  }
  if (prev !== head.hash) {
    return done({ code: 'head-mismatch', file: 'head', seq: head.seq, message: `entry ${head.seq} hashes to ${prev} but the head names ${head.hash}` });
  }

  if (checkpoints.length < head.checkpoints.n) {
    return done({ code: 'checkpoints-truncated', file: 'checkpoints', checkpoint: checkpoints.length + 1, message: `the head says ${head.checkpoints.n} checkpoints were written, the file holds ${checkpoints.length}` });
  }
  let prevCp = GENESIS_HASH;
  for (const { cp, line } of checkpoints) {
    const at = { checkpoint: counts.checkpoints + 1, line, file: 'checkpoints' as const };
    if (cp.n !== at.checkpoint) return done({ code: 'checkpoint-out-of-sequence', ...at, message: `line ${line} holds checkpoint ${cp.n} where checkpoint ${at.checkpoint} belongs` });
    if (cp.prev !== prevCp) return done({ code: 'checkpoint-chain-broken', ...at, message: `checkpoint ${cp.n} does not follow checkpoint ${cp.n - 1}` });
    const signed = hashAt.get(cp.seq);
    if (cp.seq > counts.entries || signed !== cp.hash) {
      const why = cp.seq > counts.entries ? `entry ${cp.seq}, but the ledger has ${counts.entries}` : `entry ${cp.seq} with hash ${cp.hash}, but that entry hashes to ${signed}`;
      return done({ code: 'checkpoint-mismatch', ...at, seq: cp.seq, message: `checkpoint ${cp.n} signs ${why}` });
    }
    const check = await verifier.verify(cp.keyId, cp.algorithm, Buffer.from(checkpointPayload(cp), 'utf8'), Buffer.from(cp.signature, 'base64'));
    if (check === 'unknown-key') return done({ code: 'unknown-key', ...at, message: `checkpoint ${cp.n} is signed by key ${cp.keyId}, which is not trusted` });
    if (check !== 'valid') return done({ code: 'signature-invalid', ...at, message: `checkpoint ${cp.n} (entry ${cp.seq}): the signature does not verify with key ${cp.keyId}` });
    keyIds.add(cp.keyId);
    prevCp = cp.digest;
    counts.checkpoints++;
    counts.signedThrough = Math.max(counts.signedThrough, cp.seq);
  }
  if (prevCp !== head.checkpoints.digest) {
    return done({ code: 'head-mismatch', file: 'head', checkpoint: counts.checkpoints, message: `the last checkpoint's digest is ${prevCp} but the head names ${head.checkpoints.digest}` });
  }
  counts.uncommittedLines += cpUncommitted;
  return done();
}
