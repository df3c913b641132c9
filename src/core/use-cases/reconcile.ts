import { sameResultContent, type CheckedItem } from '../checked-item.ts';
import type { ComplianceEngine, RunContext } from '../compliance/engine.ts';
import { sha256Hex } from '../digest.ts';
import { ArgusError } from '../errors.ts';
import { checkedKey, resultsKey } from '../keys.ts';
import type { Attestation, AttestationResult, Resource } from '../model.ts';
import type { AttestationProvider, ProviderOutcome } from '../ports/attestation-provider.ts';
import type { Clock } from '../ports/clock.ts';
import type { EvidenceLedger, EvidenceRecord } from '../ports/evidence-ledger.ts';
import type { Store, WriteOp } from '../ports/store.ts';
import type { ResultsItem } from '../results-item.ts';
import { agentOwnerOf } from '../work/ownership.ts';

export interface ProviderLookup {
  get(name: string): AttestationProvider | undefined;
}

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

/** Due work by resource: the attestations of each resource that need a run. */
export type DueWork = Map<string, string[]>;

/** Never attested, stale or expired pairs at `now`, grouped by resource. */
export function planDueWork(engine: ComplianceEngine, now: number): { due: DueWork; planned: number } {
  engine.advanceTo(now);
  engine.flush();
  const due: DueWork = new Map();
  let planned = 0;
  for (const { resource, attestation } of engine.dueWork()) {
    // Agent-owned pairs are pulled by their agent as work items (src/core/work), not run here.
    if (agentOwnerOf(engine, resource) !== undefined) continue;
    let list = due.get(resource);
    if (!list) due.set(resource, (list = []));
    list.push(attestation);
    planned++;
  }
  return { due, planned };
}

/** Stable shard of a resource (FNV-1a), so a plan can hand out shard descriptors, not items. */
export function shardOf(resource: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < resource.length; i++) {
    h ^= resource.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
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
  const { store, engine, providers, clock } = deps;
  const counts = emptyCounts();
  const ops: WriteOp[] = [];
  /** Checked-at writes of resources whose results did not change (committed one by one). */
  const checkedOps: WriteOp[] = [];
  const evidence: EvidenceRecord[] | undefined = deps.evidence ? [] : undefined;
  for (const [name, attestations] of batch) {
    const resource = engine.index.resources.get(name);
    if (!resource) continue;
    const contexts = engine.runContexts(name, attestations);
    const key = resultsKey(name);
    const current = await store.get<ResultsItem>(key.pk, key.sk);
    const stored = current?.data.results ?? {};
    const results: Record<string, AttestationResult> = { ...stored };
    const checkedAt: Record<string, number> = {};
    let changed = false;
    for (const attName of attestations) {
      const attestation = engine.index.attestations.get(attName);
      const context = contexts.get(attName);
      if (!attestation || !context) continue;
      const pending = runOne(providers, attestation, resource, context, clock, evidence);
      // Synchronous providers (CEL) return the result itself: no promise, no microtask per pair.
      const result = pending instanceof Promise ? await pending : pending;
      results[attName] = result;
      const before = Object.hasOwn(stored, attName) ? stored[attName] : undefined;
      if (before && sameResultContent(before, result)) checkedAt[attName] = result.executedAt;
      else changed = true;
      counts.evaluated++;
      if (result.outcome === 'Passed') counts.passed++;
      else if (result.outcome === 'Failed') counts.failed++;
      else counts.errored++;
    }
    if (changed || !current) {
      const item: ResultsItem = { resource: name, results };
      ops.push({ type: 'put', pk: key.pk, sk: key.sk, data: item, ifVersion: current ? current.version : 'absent' });
    } else if (Object.keys(checkedAt).length > 0) {
      const ck = checkedKey(name);
      const previous = await store.get<CheckedItem>(ck.pk, ck.sk);
      const item: CheckedItem = { resource: name, checkedAt: { ...(previous?.data.checkedAt ?? {}), ...checkedAt } };
      checkedOps.push({ type: 'put', pk: ck.pk, sk: ck.sk, data: item, ifVersion: previous ? previous.version : 'absent' });
    }
  }
  // Evidence first: a result is never committed without its ledger entry.
  if (deps.evidence && evidence && evidence.length > 0) await deps.evidence.appendBatch(evidence);
  if (ops.length > 0) await store.transact(ops);
  // One small plain write per unchanged resource (a transaction would bill it twice).
  if (checkedOps.length > 0) await Promise.all(checkedOps.map((op) => store.transact([op])));
  counts.writes = ops.length + checkedOps.length;
  return counts;
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
  const { due, planned } = planDueWork(engine, startedAt);
  const counts = emptyCounts();
  const work = [...due];
  let aborted = false;
  for (let i = 0; i < work.length; i += batchSize) {
    if (options.signal?.aborted) {
      aborted = true;
      break;
    }
    addCounts(counts, await attestResources(options, work.slice(i, i + batchSize)));
    options.onProgress?.({ done: counts.evaluated, total: planned });
  }
  engine.flush();
  return { planned, ...counts, startedAt, durationMs: clock.now() - startedAt, aborted };
}

function runOne(
  providers: ProviderLookup,
  attestation: Attestation,
  resource: Resource,
  context: RunContext,
  clock: Clock,
  evidence: EvidenceRecord[] | undefined,
): AttestationResult | Promise<AttestationResult> {
  const started = clock.now();
  const outcome = attempt(providers.get(attestation.spec.provider), attestation, resource);
  return outcome instanceof Promise
    ? outcome.then((o) => toResult(o, attestation, resource, context, started, clock, evidence))
    : toResult(outcome, attestation, resource, context, started, clock, evidence);
}

function toResult(
  outcome: ProviderOutcome,
  attestation: Attestation,
  resource: Resource,
  context: RunContext,
  started: number,
  clock: Clock,
  evidence: EvidenceRecord[] | undefined,
): AttestationResult {
  // The evidence digest is over the output as stored (JSON), so it can be checked byte for byte.
  // One object per run: without output, evidenceDigest is undefined, which JSON leaves out.
  const result: AttestationResult = {
    resource: resource.metadata.name,
    attestation: attestation.metadata.name,
    outcome: outcome.outcome,
    message: outcome.message,
    executedAt: started,
    durationMs: clock.now() - started,
    attestationDigest: context.attestationDigest,
    resourceDigest: context.resourceDigest,
    requirementVersions: context.requirementVersions,
    evidenceDigest: outcome.output === undefined ? undefined : evidenceDigestOf(outcome.output),
  };
  // The output goes to the evidence ledger beside its result (results in run order).
  evidence?.push({ result, output: outcome.output });
  return result;
}

/** Digests by output text: a rule's outputs repeat across resources (CEL: expression and value). */
const evidenceDigests = new Map<string, string>();
const EVIDENCE_DIGESTS_KEPT = 4096;

function evidenceDigestOf(output: unknown): string {
  const text = JSON.stringify(output);
  let digest = evidenceDigests.get(text);
  if (digest === undefined) {
    digest = `sha256:${sha256Hex(text)}`;
    if (evidenceDigests.size >= EVIDENCE_DIGESTS_KEPT) evidenceDigests.clear();
    evidenceDigests.set(text, digest);
  }
  return digest;
}

function attempt(provider: AttestationProvider | undefined, attestation: Attestation, resource: Resource): ProviderOutcome | Promise<ProviderOutcome> {
  if (!provider) return { outcome: 'Errored', message: `unknown provider "${attestation.spec.provider}"` };
  try {
    const value = provider.attest(attestation, resource);
    // Synchronous providers (CEL) skip the timer: their own bound applies.
    return value instanceof Promise ? withTimeout(value, attestation.spec.timeoutMs).catch((error: unknown) => threw(provider, error)) : value;
  } catch (error) {
    return threw(provider, error);
  }
}

// Module level, not a closure per run: this sits on the path of every attestation.
function threw(provider: AttestationProvider, error: unknown): ProviderOutcome {
  return { outcome: 'Errored', message: `provider ${provider.name} threw: ${error instanceof Error ? error.message : String(error)}` };
}

function withTimeout(promise: Promise<ProviderOutcome>, ms: number): Promise<ProviderOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ProviderOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ outcome: 'Errored', message: `timed out after ${ms} ms` }), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
