import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { CheckedItem } from '../checked-item.ts';
import type { RunRecord } from '../compliance/definition-index.ts';
import type { ComplianceEngine } from '../compliance/engine.ts';
import { ArgusError } from '../errors.ts';
import { outputEvidence } from '../evidence/output-evidence.ts';
import { checkedKey, resultsKey } from '../keys.ts';
import type { ProviderOutcome } from '../ports/attestation-provider.ts';
import type { Clock } from '../ports/clock.ts';
import type { EvidenceLedger, ResourceRunsEvidence } from '../ports/evidence-ledger.ts';
import type { ItemKey, Store, WriteOp } from '../ports/store.ts';
import { isKeyedResultsItem, resultsItem, sameStoredContent, storedByAttestation, type AnyResultsItem, type StoredResult } from '../results-item.ts';
import { ResultsItemEncoder } from '../results-item-json.ts';
import { agentOwnerOf } from '../work/ownership.ts';
import { PreparedRuns, type ProviderLookup } from './prepared-runs.ts';

export type { ProviderLookup } from './prepared-runs.ts';

export interface ReconcileProgress {
  readonly done: number;
  readonly total: number;
}

export interface ReconcileOptions {
  readonly store: Store;
  /** Plans the work; results reach it back through the store's change feed. */
  readonly engine: ComplianceEngine;
  readonly providers: ProviderLookup;
  readonly clock: Clock;
  /** Resources whose results are committed together in one transaction. */
  readonly batchSize?: number;
  readonly onProgress?: (progress: ReconcileProgress) => void;
  /** Stops between batches: committed batches stay, the rest stays due. */
  readonly signal?: AbortSignal;
  /** When given, every result and its output is appended here before the batch commits. */
  readonly evidence?: EvidenceLedger;
}

export interface ReconcileSummary {
  readonly planned: number;
  readonly evaluated: number;
  readonly passed: number;
  readonly failed: number;
  readonly errored: number;
  /** Store items written (one per resource that had due work: its results or its checked-at item). */
  readonly writes: number;
  readonly startedAt: number;
  readonly durationMs: number;
  readonly aborted: boolean;
}

/** Due work by resource, each resource once: the attestations of each that need a run. */
export type DueWork = Array<readonly [resource: string, attestations: readonly string[]]>;

/** Never attested, stale or expired pairs at `now`, grouped by resource. */
export function planDueWork(engine: ComplianceEngine, now: number): { due: DueWork; planned: number } {
  engine.advanceTo(now);
  engine.flush();
  const due = engine.dueWorkByResource();
  let planned = 0;
  let kept = 0;
  // In place, with an indexed loop: a full reconcile plans every resource of the organisation.
  for (let i = 0; i < due.length; i++) {
    const work = due[i] as [string, readonly string[]];
    // Agent-owned pairs are pulled by their agent as work items (src/core/work), not run here.
    if (agentOwnerOf(engine, work[0]) !== undefined) continue;
    due[kept++] = work;
    planned += work[1].length;
  }
  due.length = kept;
  return { due, planned };
}

export interface AttestDeps {
  readonly store: Store;
  readonly engine: ComplianceEngine;
  readonly providers: ProviderLookup;
  readonly clock: Clock;
  readonly evidence?: EvidenceLedger;
}

export interface BatchCounts {
  evaluated: number;
  passed: number;
  failed: number;
  errored: number;
  /** Store items written (one per resource). */
  writes: number;
}

export function emptyCounts(): BatchCounts {
  return { evaluated: 0, passed: 0, failed: 0, errored: 0, writes: 0 };
}

/** A batch evaluated and ready to commit: its writes, its evidence and what it counted. */
export interface PreparedBatch {
  readonly counts: BatchCounts;
  /** The results items that changed, committed together in one transaction. */
  readonly ops: readonly WriteOp[];
  /** Checked-at writes of resources whose results did not change (committed one by one). */
  readonly checkedOps: readonly WriteOp[];
  /** The runs to append to the evidence ledger (empty without one). */
  readonly evidence: readonly ResourceRunsEvidence[];
}

/**
 * Runs the due attestations of a batch of resources and commits their results in one
 * transaction (one item per resource). All or nothing: a crash before the commit leaves the work
 * due; the conditional write rejects a concurrent writer instead of losing its results.
 *
 * A resource whose re-run results all equal the stored ones apart from when they ran (outcome,
 * message, evidence digest and run context) keeps its results item: only its small CHECKED item
 * gets the new run times, one plain conditional write each, after the transaction (each resource
 * stands alone; a crash before it leaves that work due). Evidence is appended for every run.
 */
export async function attestResources(deps: AttestDeps, batch: ReadonlyArray<readonly [resource: string, attestations: readonly string[]]>): Promise<BatchCounts> {
  const prepared = await prepareBatch(deps, batch, new PreparedRuns(deps.providers));
  await commitBatch(deps, prepared);
  return prepared.counts;
}

/**
 * Evaluates a batch: runs its attestations and builds its writes, without writing anything.
 * With an encoder, each results item goes with its JSON text, for a store that logs JSON.
 */
export async function prepareBatch(
  deps: AttestDeps,
  batch: ReadonlyArray<readonly [resource: string, attestations: readonly string[]]>,
  runners: PreparedRuns,
  encoder?: ResultsItemEncoder,
): Promise<PreparedBatch> {
  const { store } = deps;
  // First every run of the batch, back to back, then the bookkeeping: a tight loop of provider
  // calls keeps the CEL evaluator's code and data hot instead of interleaving it with the store's.
  const runs = await runBatch(deps, batch, runners, deps.evidence !== undefined);
  const evidence = deps.evidence === undefined ? [] : runs;

  const counts = emptyCounts();
  const ops: WriteOp[] = [];
  const checkedOps: WriteOp[] = [];
  // One batch read of the batch's results items (one round trip per 100 keys on DynamoDB).
  const keys: ItemKey[] = new Array(runs.length);
  for (let i = 0; i < runs.length; i++) keys[i] = resultsKey((runs[i] as ResourceRunsEvidence).resource);
  const currents = await store.getMany<AnyResultsItem>(keys);
  const confirmedOnly: Array<{ readonly name: string; readonly checkedAt: Record<string, number> }> = [];
  // Indexed: this runs for every resource of a reconcile.
  for (let i = 0; i < runs.length; i++) {
    const { resource: name, resourceDigest, runs: entries } = runs[i] as ResourceRunsEvidence;
    const key = keys[i] as ItemKey;
    const current = currents[i];
    const stored = current === undefined ? undefined : storedByAttestation(current.data, resourceDigest);
    // Made only for a resource with a confirmed re-run (a full reconcile has none).
    let checkedAt: Record<string, number> | undefined;
    let changed = false;
    for (let k = 0; k < entries.length; k++) {
      const entry = entries[k] as StoredResult;
      const before = stored?.get(entry[0]);
      if (before && sameStoredContent(before, entry)) (checkedAt ??= {})[entry[0]] = entry[3];
      else changed = true;
      counts.evaluated++;
      if (entry[1] === 'Passed') counts.passed++;
      else if (entry[1] === 'Failed') counts.failed++;
      else counts.errored++;
    }
    // A results item in the first, keyed form is rewritten in the current one.
    if (changed || !current || isKeyedResultsItem(current.data)) {
      let results: readonly StoredResult[] = entries;
      if (stored !== undefined) {
        for (const entry of entries) stored.set(entry[0], entry);
        results = [...stored.values()];
      }
      const ifVersion = current ? current.version : 'absent';
      if (encoder === undefined) ops.push({ type: 'put', pk: key.pk, sk: key.sk, data: resultsItem(name, resourceDigest, results), ifVersion });
      else {
        const { item, json } = encoder.encode(name, resourceDigest, results);
        ops.push({ type: 'put', pk: key.pk, sk: key.sk, data: item, json, ifVersion });
      }
    } else if (checkedAt !== undefined) confirmedOnly.push({ name, checkedAt });
  }
  if (confirmedOnly.length > 0) {
    const checkedKeys = confirmedOnly.map(({ name }) => checkedKey(name));
    const previous = await store.getMany<CheckedItem>(checkedKeys);
    confirmedOnly.forEach(({ name, checkedAt }, i) => {
      const ck = checkedKeys[i] as ItemKey;
      const before = previous[i];
      const item: CheckedItem = { resource: name, checkedAt: { ...(before?.data.checkedAt ?? {}), ...checkedAt } };
      checkedOps.push({ type: 'put', pk: ck.pk, sk: ck.sk, data: item, ifVersion: before ? before.version : 'absent' });
    });
  }
  counts.writes = ops.length + checkedOps.length;
  return { counts, ops, checkedOps, evidence };
}

/** Commits a prepared batch: its evidence first, then its results, then its checked-at times. */
export async function commitBatch(deps: AttestDeps, prepared: PreparedBatch): Promise<void> {
  const { store } = deps;
  // Evidence first: a result is never committed without its ledger entry.
  if (deps.evidence && prepared.evidence.length > 0) await deps.evidence.appendRuns(prepared.evidence);
  if (prepared.ops.length > 0) await store.transact(prepared.ops);
  // One small plain write per unchanged resource (a transaction would bill it twice).
  if (prepared.checkedOps.length > 0) await Promise.all(prepared.checkedOps.map((op) => store.transact([op])));
}

export function addCounts(into: BatchCounts, more: BatchCounts): void {
  into.evaluated += more.evaluated;
  into.passed += more.passed;
  into.failed += more.failed;
  into.errored += more.errored;
  into.writes += more.writes;
}

/**
 * One reconcile in one process: find due work (never attested, stale, expired), run each
 * attestation's provider on its resource, and commit the results resource by resource in
 * batches. A crash loses at most the batch in flight; the next reconcile finds that work due.
 */
export async function reconcile(options: ReconcileOptions): Promise<ReconcileSummary> {
  const { engine, clock } = options;
  const batchSize = options.batchSize ?? 250;
  // A batch size of 0 or less would loop forever; NaN would silently attest nothing.
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new ArgusError('INVALID_ARGUMENT', `batchSize must be a positive integer, got ${batchSize}`, { batchSize });
  const startedAt = clock.now();
  const { due: work, planned } = planDueWork(engine, startedAt);
  const counts = emptyCounts();
  // The embedded store logs each results item's JSON: most of it repeats from run to run.
  const encoder = new ResultsItemEncoder();
  const runners = new PreparedRuns(options.providers);
  let aborted = false;
  // One batch commits while the next is evaluated: the store's write and sync overlap the CPU
  // work. Batches hold disjoint resources, so the next one never reads what is in flight.
  let inFlight: Promise<BatchCounts> | undefined;
  const landed = async (): Promise<void> => {
    if (inFlight === undefined) return;
    const committed = inFlight;
    inFlight = undefined;
    addCounts(counts, await committed);
    options.onProgress?.({ done: counts.evaluated, total: planned });
  };
  for (let i = 0; i < work.length; i += batchSize) {
    if (options.signal?.aborted) {
      aborted = true;
      break;
    }
    const prepared = await prepareBatch(options, work.slice(i, i + batchSize), runners, encoder);
    await landed();
    const commit = commitBatch(options, prepared).then(() => prepared.counts);
    // Awaited by `landed`; this only keeps a failure from being reported as unhandled meanwhile.
    commit.catch(() => undefined);
    inFlight = commit;
  }
  await landed();
  engine.flush();
  return { planned, ...counts, startedAt, durationMs: clock.now() - startedAt, aborted };
}

/**
 * The runs of a batch, resource by resource, as stored entries; with `keepOutputs` each with its
 * output (by position), as the evidence ledger takes them.
 */
async function runBatch(
  deps: AttestDeps,
  batch: ReadonlyArray<readonly [resource: string, attestations: readonly string[]]>,
  runners: PreparedRuns,
  keepOutputs: boolean,
): Promise<ResourceRunsEvidence[]> {
  const { engine, clock } = deps;
  const runs: ResourceRunsEvidence[] = [];
  // Indexed loops: this async function's loops run for every pair, and `for...of` here kept an
  // iterator result per step (seen in allocation profiles).
  for (let b = 0; b < batch.length; b++) {
    // Lets the commit in flight move on to its next write (see YIELD_EVERY).
    if (b > 0 && b % YIELD_EVERY === 0) await yieldToEventLoop();
    const [name, attestations] = batch[b] as readonly [string, readonly string[]];
    const resource = engine.index.resources.get(name);
    if (!resource) continue;
    const resourceDigest = resource.spec.digest;
    const planRecords = engine.index.planRunRecords(resource);
    const records = planRecords.byName;
    // The plan's whole key list (every pair due): each record and run by position, no look-up by name.
    const inOrder = attestations === planRecords.keys ? planRecords.inKeyOrder : undefined;
    const planRuns = inOrder !== undefined ? runners.ofPlan(planRecords) : undefined;
    // Sized up front (the results item keeps it): an empty array grows to 17 slots at its first write.
    const entries: StoredResult[] = new Array(attestations.length);
    const outputs: unknown[] | undefined = keepOutputs ? new Array(attestations.length) : undefined;
    let ran = 0;
    // One clock read per run: a run starts when the one before it ended.
    let time = clock.now();
    for (let a = 0; a < attestations.length; a++) {
      const attName = attestations[a] as string;
      // The run record holds the attestation: one look-up per run. An attestation that no
      // longer reaches the resource still gets its run context from the engine.
      const record = inOrder !== undefined ? inOrder[a] : records.get(attName);
      let run = planRuns?.[a];
      if (run === undefined) {
        const attestation = record === undefined ? engine.index.attestations.get(attName) : record.attestation;
        if (attestation !== undefined) run = runners.of(attestation);
      }
      const context = record ?? engine.runContext(name, attName);
      if (run === undefined || !context) continue;
      const started = time;
      const pending = run(resource);
      // Synchronous providers (CEL) return the outcome itself: no promise, no microtask per pair.
      const outcome = pending instanceof Promise ? await pending : pending;
      time = clock.now();
      const entry = storedRun(attName, outcome, started, time - started, context);
      if (outputs !== undefined) outputs[ran] = outcome.output;
      entries[ran++] = entry;
    }
    if (ran < entries.length) entries.length = ran;
    runs.push({ resource: name, resourceDigest, runs: entries, outputs: outputs ?? NO_OUTPUTS });
  }

  return runs;
}

/**
 * Resources run between two turns of the event loop. A commit in flight is a chain of writes (the
 * ledger's lines and head, then the store's log), each started when the one before completes,
 * which needs a turn; without one it waited for the end of the batch. Every 8 resources measured
 * best with the ledger on (bench/RESULTS.md, tenth session).
 */
const YIELD_EVERY = 8;

/** The outputs of runs made without an evidence ledger: none kept. */
const NO_OUTPUTS: readonly unknown[] = Object.freeze([]);

/**
 * A run as its results item stores it, frozen (the store keeps it without a copy). The evidence
 * digest is over the output as stored (JSON), so it can be checked byte for byte.
 */
function storedRun(attestation: string, outcome: ProviderOutcome, executedAt: number, durationMs: number, context: Pick<RunRecord, 'attestationDigest' | 'requirementVersions'>): StoredResult {
  const evidenceDigest = outputEvidence(outcome.output)?.digest ?? null;
  return Object.freeze([attestation, outcome.outcome, outcome.message, executedAt, durationMs, context.attestationDigest, context.requirementVersions, evidenceDigest] as const);
}
