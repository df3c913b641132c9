/**
 * The payloads between the reconcile workflow's states (statemachines/reconcile.asl.json) and
 * their checks. They stay small whatever the organisation's size: shard descriptors and counts,
 * never work items, so the same definition runs as a Distributed Map on AWS.
 */
import { ArgusError } from '../src/core/errors.ts';

/** An event a handler cannot use: says which field is wrong. */
export class InvalidEventError extends ArgusError {
  constructor(handler: string, problem: string, context: Record<string, unknown> = {}) {
    super('INVALID_EVENT', `${handler}: ${problem}`, { handler, ...context });
    this.name = 'InvalidEventError';
  }
}

/** Execution input (EventBridge Scheduler's target input on AWS, the runner locally). */
export interface ReconcileInput {
  /** Shards the due work is split into (one Map iteration each at most). */
  readonly shards: number;
  /** Resources committed per transaction inside a shard. */
  readonly batchSize: number;
  /** Map iterations running at once. */
  readonly maxConcurrency: number;
}

export interface PlanEvent {
  readonly shards: number;
  readonly batchSize: number;
}

/** One non-empty shard of the plan. */
export interface ShardWork {
  readonly shard: number;
  /** (resource, attestation) pairs due in this shard when planned. */
  readonly planned: number;
}

export interface PlanResult {
  readonly runId: string;
  /** Epoch ms the plan was made at: shards find their work as of this time. */
  readonly asOf: number;
  readonly planned: number;
  readonly shards: number;
  readonly batchSize: number;
  readonly work: readonly ShardWork[];
}

/** What the Map's ItemSelector hands each AttestShard iteration. */
export interface ShardEvent {
  readonly runId: string;
  readonly asOf: number;
  readonly shard: number;
  readonly shards: number;
  readonly batchSize: number;
  readonly planned: number;
}

export interface ShardResult {
  readonly shard: number;
  readonly planned: number;
  readonly evaluated: number;
  readonly passed: number;
  readonly failed: number;
  readonly errored: number;
  readonly writes: number;
  /** Stopped between batches (local runs only): committed batches stay, the rest stays due. */
  readonly aborted: boolean;
}

/** What the ShardFailed Pass state reports for a shard that failed after its retries. */
export interface FailedShard {
  readonly shard: number;
  readonly planned: number;
  readonly error: string;
  readonly cause: string;
}

export interface SummariseEvent {
  readonly runId: string;
  readonly asOf: number;
  readonly planned: number;
  readonly shards: ReadonlyArray<ShardResult | FailedShard>;
}

export interface RunSummary {
  readonly runId: string;
  readonly startedAt: number;
  readonly planned: number;
  readonly evaluated: number;
  readonly passed: number;
  readonly failed: number;
  readonly errored: number;
  readonly writes: number;
  readonly durationMs: number;
  readonly aborted: boolean;
  readonly failedShards: readonly FailedShard[];
}

// ---------------------------------------------------------------------------------------------
// Event checks: a handler validates what it receives before calling its use case.
// ---------------------------------------------------------------------------------------------

export function objectEvent(handler: string, event: unknown): Readonly<Record<string, unknown>> {
  if (!event || typeof event !== 'object' || Array.isArray(event)) throw new InvalidEventError(handler, 'the event must be a JSON object');
  return event as Readonly<Record<string, unknown>>;
}

export function intField(handler: string, event: Readonly<Record<string, unknown>>, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = event[field];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new InvalidEventError(handler, `${field} must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`, { field });
  }
  return v;
}

export function stringField(handler: string, event: Readonly<Record<string, unknown>>, field: string): string {
  const v = event[field];
  if (typeof v !== 'string' || v === '') throw new InvalidEventError(handler, `${field} must be a non-empty string, got ${JSON.stringify(v)}`, { field });
  return v;
}

/** Upper bound on shards: the Map's results come back in one state output (256 KiB on AWS). */
export const MAX_SHARDS = 1000;

export function isFailedShard(r: ShardResult | FailedShard): r is FailedShard {
  return typeof (r as FailedShard).error === 'string';
}

/** Dependencies passed as they are, or made per invocation (AWS: clients at module scope, fresh engine). */
/** Dependencies, or a function building them per invocation from what the invocation is about. */
export type DepsSource<T> = T | ((context: DepsContext) => T | Promise<T>);

/** What a deps factory may key on (the AttestShard handler gives its shard). */
export interface DepsContext {
  readonly shard?: number;
}

export async function resolveDeps<T extends object>(source: DepsSource<T>, context: DepsContext = {}): Promise<T> {
  return typeof source === 'function' ? await (source as (context: DepsContext) => T | Promise<T>)(context) : source;
}
