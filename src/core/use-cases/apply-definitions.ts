import { canonicalJson } from '../digest.ts';
import { ConflictError } from '../errors.ts';
import { checkedKey, definitionKey, resultsKey } from '../keys.ts';
import type { AnyDefinition, DefinitionKind } from '../model.ts';
import type { Store, WriteOp } from '../ports/store.ts';

export interface DefinitionRef {
  readonly kind: DefinitionKind;
  readonly name: string;
}

export interface ApplyOutcome {
  readonly created: DefinitionRef[];
  readonly configured: DefinitionRef[];
  readonly unchanged: DefinitionRef[];
  readonly deleted: DefinitionRef[];
}

export interface ApplyOptions {
  /** Definitions to delete in the same transaction (a deleted Resource takes its results and checked-at items along). */
  readonly deletes?: readonly DefinitionRef[];
  /** Attempts when a concurrent writer wins the race (each attempt re-reads). */
  readonly attempts?: number;
}

/**
 * Writes definitions all or nothing: one transaction, each write conditioned on the version it
 * read, unchanged definitions skipped. Re-running the same apply is a no-op.
 */
export async function applyDefinitions(store: Store, defs: readonly AnyDefinition[], options: ApplyOptions = {}): Promise<ApplyOutcome> {
  const attempts = options.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await applyOnce(store, defs, options.deletes ?? []);
    } catch (error) {
      if (!(error instanceof ConflictError) || attempt >= attempts) throw error;
    }
  }
}

async function applyOnce(store: Store, defs: readonly AnyDefinition[], deletes: readonly DefinitionRef[]): Promise<ApplyOutcome> {
  const { outcome, ops } = await planApply(store, defs, deletes);
  if (ops.length > 0) await store.transact(ops);
  return outcome;
}

/**
 * What an apply would do, read from the store without writing: the outcome it would report and
 * the conditional writes it would commit (a dry run shows the outcome; an apply commits the writes).
 */
export async function planApply(store: Store, defs: readonly AnyDefinition[], deletes: readonly DefinitionRef[] = []): Promise<{ outcome: ApplyOutcome; ops: WriteOp[] }> {
  const outcome: ApplyOutcome = { created: [], configured: [], unchanged: [], deleted: [] };
  const ops: WriteOp[] = [];
  for (const def of defs) {
    const ref = { kind: def.kind, name: def.metadata.name };
    const { pk, sk } = definitionKey(def.kind, def.metadata.name);
    const current = await store.get<AnyDefinition>(pk, sk);
    if (current && canonicalJson(current.data) === canonicalJson(def)) {
      outcome.unchanged.push(ref);
      continue;
    }
    ops.push({ type: 'put', pk, sk, data: def, ifVersion: current ? current.version : 'absent' });
    (current ? outcome.configured : outcome.created).push(ref);
  }
  for (const ref of deletes) {
    const { pk, sk } = definitionKey(ref.kind, ref.name);
    const current = await store.get(pk, sk);
    if (!current) continue;
    ops.push({ type: 'delete', pk, sk, ifVersion: current.version });
    outcome.deleted.push(ref);
    if (ref.kind === 'Resource') {
      const rk = resultsKey(ref.name);
      const results = await store.get(rk.pk, rk.sk);
      if (results) ops.push({ type: 'delete', pk: rk.pk, sk: rk.sk, ifVersion: results.version });
      const ck = checkedKey(ref.name);
      const checked = await store.get(ck.pk, ck.sk);
      if (checked) ops.push({ type: 'delete', pk: ck.pk, sk: ck.sk, ifVersion: checked.version });
    }
  }
  return { outcome, ops };
}
