/**
 * Work items in the Store. Every transition is one transaction conditioned on the version of the
 * item that was read, so a stale writer (an agent whose lease was lost, a second sweeper) gets a
 * ConflictError and changes nothing. Keys (src/core/keys.ts, docs/agents.md):
 * `WORK#<provider>` / `ITEM#<id>`, `STATE#<state>#<id>` (open items only), `PAIR#<resource>#<attestation>`.
 *
 * Retention: the transition that finishes an item sets its `ttl` (src/core/work/retention.ts). The
 * item is then the only key left: its STATE pointer and the pair's PAIR pointer are deleted in that
 * same transaction (the PAIR pointer already when it aborted), so nothing else needs a `ttl`. Once
 * the `ttl` passed every read here treats the item as absent, whether or not it was deleted yet.
 */
import type { ComplianceEngine } from '../compliance/engine.ts';
import { sha256Hex } from '../digest.ts';
import { ArgusError, ConflictError } from '../errors.ts';
import { resultsKey, workItemKey, workPairKey, workPartition, workStateKey } from '../keys.ts';
import type { AttestationResult, Provider } from '../model.ts';
import { queryAll, type StoredItem, type Store, type VersionCondition, type WriteOp } from '../ports/store.ts';
import { resultsItemOf, resultsOf, type AnyResultsItem } from '../results-item.ts';
import {
  DEFAULT_FINISHED_RETENTION_MS,
  DEFAULT_WORK_TIMEOUTS,
  InvalidTransitionError,
  isTerminal,
  LeaseLostError,
  newWorkItem,
  OPEN_STATES,
  transition,
  type NewWork,
  type WorkEvent,
  type WorkItem,
  type WorkState,
  type WorkTimeouts,
} from './machine.ts';
import { agentOwnerOf } from './ownership.ts';
import { isExpired, withRetention } from './retention.ts';

export { agentOwnerOf };

/** A re-queued pair gets at most this many attempts in one run; later ones wait for the next run. */
export const MAX_ATTEMPTS = 5;

/** Expired finished items are purged in pages of this many items (one query each)... */
export const PURGE_PAGE_SIZE = 100;
/** ...and at most this many pages per call, so a large backlog never blocks a sweeper pass. */
export const PURGE_MAX_PAGES = 5;

interface Pointer {
  readonly id: string;
}

export interface WorkStoreOptions {
  readonly timeouts?: WorkTimeouts;
  readonly maxAttempts?: number;
}

/**
 * A result for an item that is not there: finished and removed after its retention (or never
 * created). Refused like any late result (409 LEASE_LOST), and nothing is written.
 */
export class WorkItemGoneError extends LeaseLostError {
  constructor(id: string) {
    super({ id, state: 'Failed', reason: 'Error', revision: 0 }, 'complete', 'no such work item');
    this.message = `work item ${id}: no such item (finished and past its retention, or never created); the result is refused`;
    this.name = 'WorkItemGoneError';
  }
}

/** What one purge call did: items deleted, and where to go on (absent once the partition was read to its end). */
export interface PurgeOutcome {
  readonly removed: number;
  readonly cursor?: string;
}

/** The id of attempt `attempt` of a pair in a run: the same inputs give the same id (idempotent create). */
export function workId(provider: string, runId: string, resource: string, attestation: string, attempt: number): string {
  return `${sha256Hex(`${provider}\u0000${runId}\u0000${resource}\u0000${attestation}`).slice(0, 24)}.${attempt}`;
}

function pointerOps(before: WorkItem | undefined, after: WorkItem): WriteOp[] {
  const ops: WriteOp[] = [];
  if (before && before.state === after.state) return ops;
  if (before && !isTerminal(before.state)) {
    const k = workStateKey(before.provider, before.state, before.id);
    ops.push({ type: 'delete', pk: k.pk, sk: k.sk, ifVersion: 'any' });
  }
  if (!isTerminal(after.state)) {
    const k = workStateKey(after.provider, after.state, after.id);
    ops.push({ type: 'put', pk: k.pk, sk: k.sk, data: { id: after.id } satisfies Pointer, ifVersion: before ? 'any' : 'absent' });
  }
  // The pair pointer belongs to the live attempt: it goes when that attempt aborts or ends.
  const leavesLive = before !== undefined && before.state !== 'Aborted' && (after.state === 'Aborted' || isTerminal(after.state));
  if (leavesLive) {
    const k = workPairKey(after.provider, after.resource, after.attestation);
    ops.push({ type: 'delete', pk: k.pk, sk: k.sk, ifVersion: 'any' });
  }
  return ops;
}

/** One write per key in a transaction: a re-queue's new pair pointer replaces the old one's delete. */
function lastWriteWins(ops: readonly WriteOp[]): WriteOp[] {
  const byKey = new Map<string, WriteOp>();
  for (const op of ops) {
    const key = `${op.pk}\u0000${op.sk}`;
    byKey.delete(key);
    byKey.set(key, op);
  }
  return [...byKey.values()];
}

export class WorkStore {
  readonly timeouts: WorkTimeouts;
  readonly maxAttempts: number;
  /** How long a finished item is kept (`timeouts.finishedRetentionMs`). */
  readonly retentionMs: number;

  constructor(
    readonly store: Store,
    options: WorkStoreOptions = {},
  ) {
    this.timeouts = options.timeouts ?? DEFAULT_WORK_TIMEOUTS;
    this.maxAttempts = options.maxAttempts ?? MAX_ATTEMPTS;
    this.retentionMs = this.timeouts.finishedRetentionMs ?? DEFAULT_FINISHED_RETENTION_MS;
    if (!(this.retentionMs > 0)) throw new ArgusError('CONFIG', `finishedRetentionMs must be a positive number of milliseconds (Infinity keeps finished items), got ${this.retentionMs}`);
  }

  /** The item, or undefined when there is none or it finished and its `ttl` passed at `now`. */
  async get(provider: string, id: string, now: number): Promise<StoredItem<WorkItem> | undefined> {
    const k = workItemKey(provider, id);
    const item = await this.store.get<WorkItem>(k.pk, k.sk);
    return item && !isExpired(item.data, now) ? item : undefined;
  }

  /**
   * Creates a Pending item. Idempotent: creating the same id again returns the stored item, and
   * while a pair has a live item a create for it returns that one (`created: false`).
   */
  async create(w: NewWork, now: number): Promise<{ readonly item: StoredItem<WorkItem>; readonly created: boolean }> {
    const item = newWorkItem(w, now, this.timeouts);
    const k = workItemKey(w.provider, w.id);
    const pair = workPairKey(w.provider, w.resource, w.attestation);
    let ifVersion: VersionCondition = 'absent';
    for (;;) {
      try {
        await this.store.transact([
          { type: 'put', pk: k.pk, sk: k.sk, data: item, ifVersion },
          ...pointerOps(undefined, item),
          { type: 'put', pk: pair.pk, sk: pair.sk, data: { id: w.id } satisfies Pointer, ifVersion: 'absent' },
        ]);
        return { item: { pk: k.pk, sk: k.sk, version: ifVersion === 'absent' ? 1 : ifVersion + 1, data: item }, created: true };
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
        const raw = await this.store.get<WorkItem>(k.pk, k.sk);
        if (raw && !isExpired(raw.data, now)) return { item: raw, created: false };
        // An expired item that DynamoDB has not deleted yet counts as absent: overwrite it on its version.
        if (raw && ifVersion === 'absent') {
          ifVersion = raw.version;
          continue;
        }
        const live = await this.store.get<Pointer>(pair.pk, pair.sk);
        const other = live ? await this.get(w.provider, live.data.id, now) : undefined;
        if (other) return { item: other, created: false };
        throw error;
      }
    }
  }

  /**
   * Applies `event` and writes the item on the version read; extra ops join the transaction. An
   * event that finishes the item sets its `ttl` in this same write.
   */
  async apply(stored: StoredItem<WorkItem>, event: WorkEvent, now: number, extra: (next: WorkItem) => WriteOp[] = () => []): Promise<StoredItem<WorkItem>> {
    const next = withRetention(transition(stored.data, event, now, this.timeouts), now, this.retentionMs);
    await this.store.transact(lastWriteWins([{ type: 'put', pk: stored.pk, sk: stored.sk, data: next, ifVersion: stored.version }, ...pointerOps(stored.data, next), ...extra(next)]));
    return { pk: stored.pk, sk: stored.sk, version: stored.version + 1, data: next };
  }

  /** Open items of a provider in one state (oldest id order), via the state pointers. */
  async inState(provider: string, state: WorkState, now: number, limit = 1000): Promise<StoredItem<WorkItem>[]> {
    const page = await this.store.query<Pointer>(workPartition(provider), { skPrefix: `STATE#${state}#`, limit });
    const out: StoredItem<WorkItem>[] = [];
    for (const p of page.items) {
      const item = await this.get(provider, p.data.id, now);
      if (item && item.data.state === state) out.push(item);
    }
    return out;
  }

  /** Every item of a provider, open or finished but not expired at `now` (for the admin view and tests). */
  async all(provider: string, now: number): Promise<WorkItem[]> {
    return (await queryAll<WorkItem>(this.store, workPartition(provider), 'ITEM#')).map((i) => i.data).filter((w) => !isExpired(w, now));
  }

  /**
   * Deletes finished items whose `ttl` passed (the embedded store has no TTL; on DynamoDB this
   * only gets there first). Reads at most `maxPages` pages of `pageSize` items from `cursor`; each
   * delete is conditioned on the version read, so an item that changed meanwhile is skipped.
   * Finished items have no pointers left (see the module comment), so the item is all there is.
   */
  async purgeExpired(provider: string, now: number, options: { readonly cursor?: string; readonly pageSize?: number; readonly maxPages?: number } = {}): Promise<PurgeOutcome> {
    let cursor = options.cursor;
    let removed = 0;
    for (let page = 0; page < (options.maxPages ?? PURGE_MAX_PAGES); page++) {
      const found = await this.store.query<WorkItem>(workPartition(provider), { skPrefix: 'ITEM#', limit: options.pageSize ?? PURGE_PAGE_SIZE, ...(cursor === undefined ? {} : { cursor }) });
      for (const item of found.items) {
        if (!isTerminal(item.data.state) || !isExpired(item.data, now)) continue;
        try {
          await this.store.transact([{ type: 'delete', pk: item.pk, sk: item.sk, ifVersion: item.version }]);
          removed++;
        } catch (error) {
          if (!(error instanceof ConflictError)) throw error;
        }
      }
      cursor = found.cursor;
      if (cursor === undefined) break;
    }
    return cursor === undefined ? { removed } : { removed, cursor };
  }

  /**
   * Claims up to `max` Scheduled items for one agent instance: each is a conditional update on the
   * item's version read in (provider, Scheduled); an item another claimer took first is skipped.
   */
  async claim(provider: string, claimId: string, max: number, now: number): Promise<StoredItem<WorkItem>[]> {
    const out: StoredItem<WorkItem>[] = [];
    for (const candidate of await this.inState(provider, 'Scheduled', now, Math.max(max * 2, 10))) {
      if (out.length >= max) break;
      try {
        out.push(await this.apply(candidate, { type: 'claim', claimId }, now));
      } catch (error) {
        if (!(error instanceof ConflictError) && !(error instanceof InvalidTransitionError)) throw error;
      }
    }
    return out;
  }

  /**
   * Aborts an open item. With `requeue`, the next attempt is created (Pending → Scheduled) in the
   * same transaction, unless the pair has had `maxAttempts` already.
   */
  async abort(stored: StoredItem<WorkItem>, reason: 'Cancellation' | 'Timeout', message: string, now: number, requeue: boolean): Promise<StoredItem<WorkItem>> {
    const event: WorkEvent = stored.data.state === 'Aborted' || stored.data.deadline === undefined || stored.data.deadline > now || reason === 'Cancellation' ? { type: 'abort', reason, message } : { type: 'expire' };
    return this.apply(stored, event, now, (next) => (requeue && next.state === 'Aborted' ? this.requeueOps(next, now) : []));
  }

  private requeueOps(aborted: WorkItem, now: number): WriteOp[] {
    if (aborted.attempt >= this.maxAttempts) return [];
    const attempt = aborted.attempt + 1;
    const id = workId(aborted.provider, aborted.runId, aborted.resource, aborted.attestation, attempt);
    const fresh = newWorkItem({ id, provider: aborted.provider, resource: aborted.resource, attestation: aborted.attestation, runId: aborted.runId, attempt, context: aborted.context, timeoutMs: aborted.timeoutMs }, now, this.timeouts);
    const scheduled = transition(fresh, { type: 'assign', providerId: aborted.providerId ?? aborted.provider }, now, this.timeouts);
    const k = workItemKey(aborted.provider, id);
    const pair = workPairKey(aborted.provider, aborted.resource, aborted.attestation);
    return [
      { type: 'put', pk: k.pk, sk: k.sk, data: scheduled, ifVersion: 'absent' },
      ...pointerOps(undefined, scheduled),
      { type: 'put', pk: pair.pk, sk: pair.sk, data: { id } satisfies Pointer, ifVersion: 'any' },
    ];
  }

  /**
   * The deadline sweeper: every open item of the provider whose deadline passed moves on
   * (Aborted(Timeout) and re-queued as a new attempt; an Aborted one becomes Failed). Runs on the
   * control plane whether or not the agent is there. Returns how many items it moved.
   */
  async sweep(provider: string, now: number): Promise<number> {
    let moved = 0;
    for (const state of OPEN_STATES) {
      for (const item of await this.inState(provider, state, now)) {
        if (item.data.deadline === undefined || item.data.deadline > now) continue;
        try {
          await this.apply(item, { type: 'expire' }, now, (next) => (next.state === 'Aborted' ? this.requeueOps(next, now) : []));
          moved++;
        } catch (error) {
          // Someone else moved it first (the agent reported, another sweeper ran).
          if (!(error instanceof ConflictError) && !(error instanceof InvalidTransitionError)) throw error;
        }
      }
    }
    return moved;
  }

  /** Aborts the unfinished items of a run (the run was cancelled or timed out); they are not re-queued. */
  async abortRun(providers: readonly string[], runId: string, reason: 'Cancellation' | 'Timeout', now: number): Promise<number> {
    let aborted = 0;
    for (const provider of providers) {
      for (const state of ['Pending', 'Scheduled', 'ReadyToScan', 'InProgress'] as const) {
        for (const item of await this.inState(provider, state, now)) {
          if (item.data.runId !== runId) continue;
          try {
            await this.abort(item, reason, `run ${runId} ${reason === 'Timeout' ? 'timed out' : 'was cancelled'}`, now, false);
            aborted++;
          } catch (error) {
            if (!(error instanceof ConflictError) && !(error instanceof InvalidTransitionError)) throw error;
          }
        }
      }
    }
    return aborted;
  }

  /**
   * An agent's result: InProgress → Done/Failed and the result into the resource's RESULTS item,
   * in one transaction on the versions read. A report after the lease was lost (or a second
   * report) throws LeaseLostError and writes nothing, so a result is never counted twice.
   */
  async complete(
    provider: string,
    id: string,
    report: { readonly claimId: string; readonly outcome: 'Passed' | 'Failed' | 'Errored'; readonly message: string; readonly output?: unknown; readonly executedAt: number; readonly durationMs: number },
    now: number,
  ): Promise<{ readonly item: StoredItem<WorkItem>; readonly result: AttestationResult }> {
    for (let tries = 0; ; tries++) {
      const stored = await this.get(provider, id, now);
      // Same answer as a late result on the finished item: refused, nothing written.
      if (!stored) throw new WorkItemGoneError(id);
      const w = stored.data;
      const base = {
        resource: w.resource,
        attestation: w.attestation,
        outcome: report.outcome,
        message: report.message,
        executedAt: report.executedAt,
        durationMs: report.durationMs,
        attestationDigest: w.context.attestationDigest,
        resourceDigest: w.context.resourceDigest,
        requirementVersions: w.context.requirementVersions,
      };
      const result: AttestationResult = report.output === undefined ? base : { ...base, evidenceDigest: `sha256:${sha256Hex(JSON.stringify(report.output))}` };
      const rk = resultsKey(w.resource);
      const current = await this.store.get<AnyResultsItem>(rk.pk, rk.sk);
      const results = resultsItemOf(w.resource, [...(current ? resultsOf(current.data) : []), result]);
      try {
        const item = await this.apply(stored, { type: 'complete', claimId: report.claimId, outcome: report.outcome, message: report.message }, now, () => [
          { type: 'put', pk: rk.pk, sk: rk.sk, data: results, ifVersion: current ? current.version : 'absent' },
        ]);
        return { item, result };
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
        // The item moved under us: the lease is gone. The results item moved: read again.
        const again = await this.get(provider, id, now);
        if (!again || again.version !== stored.version) throw new LeaseLostError(stored.data, 'complete', 'the item changed while the result was written');
        if (tries >= 3) throw error;
      }
    }
  }
}

/** Agent Provider names among the definitions. */
export function agentProviders(engine: ComplianceEngine): string[] {
  return [...engine.index.providers.values()].filter((p: Provider) => p.spec.type === 'agent').map((p) => p.metadata.name);
}

/**
 * Turns the due pairs of agent-owned resources into work items (created and assigned to their
 * provider), skipping pairs that have a live item. `only` limits it to one provider (the lazy
 * path of that provider's claim). Returns the items created.
 */
export async function dispatchAgentWork(work: WorkStore, engine: ComplianceEngine, runId: string, now: number, only?: string): Promise<number> {
  engine.advanceTo(now);
  engine.flush();
  const byProvider = new Map<string, Array<{ resource: string; attestation: string }>>();
  for (const pair of engine.dueWork()) {
    const owner = agentOwnerOf(engine, pair.resource);
    if (owner === undefined || (only !== undefined && owner !== only)) continue;
    let list = byProvider.get(owner);
    if (!list) byProvider.set(owner, (list = []));
    list.push(pair);
  }
  let created = 0;
  for (const [provider, pairs] of byProvider) {
    // PAIR pointers exist only while the pair has an open item, never for a finished one.
    const live = new Set((await queryAll<Pointer>(work.store, workPartition(provider), 'PAIR#')).map((p) => p.sk));
    for (const { resource, attestation } of pairs) {
      if (live.has(workPairKey(provider, resource, attestation).sk)) continue;
      const context = engine.runContext(resource, attestation);
      const att = engine.index.attestations.get(attestation);
      if (!context || !att) continue;
      const id = workId(provider, runId, resource, attestation, 1);
      const { item, created: isNew } = await work.create({ id, provider, resource, attestation, runId, attempt: 1, context, timeoutMs: att.spec.timeoutMs }, now);
      if (!isNew) continue;
      try {
        await work.apply(item, { type: 'assign', providerId: provider }, now);
        created++;
      } catch (error) {
        if (!(error instanceof ConflictError) && !(error instanceof InvalidTransitionError)) throw error;
      }
    }
  }
  return created;
}
