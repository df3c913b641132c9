/**
 * Summarise: the last Task of the workflow. Adds up the shard results, reports the shards that
 * failed after their retries, and publishes the run's metrics through a sink (CloudWatch
 * embedded metric format on AWS, the local /metrics registry locally).
 */
import { systemClock, type Clock } from '../src/core/ports/clock.ts';
import { CLOUDWATCH_NAMESPACE } from '../src/core/slo/alarms.ts';
import { addCounts, emptyCounts } from '../src/core/use-cases/reconcile.ts';
import {
  intField,
  InvalidEventError,
  isFailedShard,
  objectEvent,
  resolveDeps,
  stringField,
  type DepsSource,
  type FailedShard,
  type RunSummary,
  type ShardResult,
} from './reconcile-contract.ts';

/** Receives each run's summary (metrics publishing). */
export type RunSummarySink = (summary: RunSummary) => void | Promise<void>;

export interface SummariseDeps {
  readonly clock: Clock;
  readonly publish?: RunSummarySink;
}

export function createSummariseHandler(deps: DepsSource<SummariseDeps>): (event: unknown) => Promise<RunSummary> {
  return async (event) => {
    const e = objectEvent('reconcile-summarise', event);
    const runId = stringField('reconcile-summarise', e, 'runId');
    const asOf = intField('reconcile-summarise', e, 'asOf', 0);
    const planned = intField('reconcile-summarise', e, 'planned', 0);
    const shards = e.shards;
    if (!Array.isArray(shards)) throw new InvalidEventError('reconcile-summarise', 'shards must be an array of shard results', { field: 'shards' });
    const { clock, publish } = await resolveDeps(deps);
    const counts = emptyCounts();
    const failedShards: FailedShard[] = [];
    let aborted = false;
    for (const [i, raw] of shards.entries()) {
      const r = objectEvent(`reconcile-summarise shards[${i}]`, raw) as unknown as ShardResult | FailedShard;
      if (isFailedShard(r)) failedShards.push({ shard: r.shard, planned: r.planned, error: r.error, cause: typeof r.cause === 'string' ? r.cause : String(r.cause) });
      else {
        addCounts(counts, r);
        aborted ||= r.aborted === true;
      }
    }
    const summary: RunSummary = { runId, startedAt: asOf, planned, ...counts, durationMs: Math.max(0, clock.now() - asOf), aborted, failedShards };
    await publish?.(summary);
    return summary;
  };
}

/**
 * A sink writing CloudWatch embedded metric format to stdout (Lambda ships it to CloudWatch
 * Metrics without an API call).
 */
export function embeddedMetricFormatSink(namespace = 'Argus'): RunSummarySink {
  return (s) => {
    const metrics = { ReconcilePlanned: s.planned, ReconcileEvaluated: s.evaluated, ReconcilePassed: s.passed, ReconcileFailed: s.failed, ReconcileErrored: s.errored, ReconcileFailedShards: s.failedShards.length };
    const line = {
      _aws: {
        Timestamp: s.startedAt + s.durationMs,
        CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [[]], Metrics: [...Object.keys(metrics).map((Name) => ({ Name, Unit: 'Count' })), { Name: 'ReconcileDuration', Unit: 'Milliseconds' }] }],
      },
      runId: s.runId,
      ...metrics,
      ReconcileDuration: s.durationMs,
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  };
}

/** AWS (index.handler): no table access; the run's metrics go to CloudWatch as embedded metric format. */
export const handler = createSummariseHandler({ clock: systemClock, publish: embeddedMetricFormatSink(CLOUDWATCH_NAMESPACE) });
