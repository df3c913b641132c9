import { CloudWatchClient, PutMetricDataCommand, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import { ArgusError } from '../../core/errors.ts';
import { METRIC } from '../../core/metric-names.ts';
import type { SeriesValue } from '../../core/remote-write/client.ts';
import { CLOUDWATCH_NAMESPACE } from '../../core/slo/alarms.ts';

/** PutMetricData limits (CloudWatch API reference). */
export const PUT_METRIC_DATA_LIMITS = {
  maxMetricsPerRequest: 1000,
  /** 1 MB per request; we stop well before it (the JSON encoding adds framing). */
  maxRequestBytes: 1_000_000,
  maxDimensions: 30,
} as const;

/** Per-pair series would be one CloudWatch metric per (resource, requirement): costly, so off by default. */
const DEFAULT_EXCLUDED: ReadonlySet<string> = new Set([METRIC.resourceRequirementCompliant]);

export interface CloudWatchPublisherOptions {
  readonly client?: CloudWatchClient;
  /** @default 'Argus' */
  readonly namespace?: string;
  /** Which series to publish. @default every series but argus_resource_requirement_compliant */
  readonly include?: (series: SeriesValue) => boolean;
  /** @default 5 */
  readonly maxAttempts?: number;
  /** @default 200 */
  readonly minBackoffMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Budget per request; lower it in tests to see the size split. @default 900000 */
  readonly maxRequestBytes?: number;
}

export class CloudWatchPublishError extends ArgusError {
  constructor(message: string, context: Record<string, unknown>, options?: { cause?: unknown }) {
    super('CLOUDWATCH', message, context, options);
    this.name = 'CloudWatchPublishError';
  }
}

export interface CloudWatchPublishResult {
  readonly requests: number;
  readonly metrics: number;
  /** Series left out: not finite (CloudWatch rejects NaN and ±Inf) or too many dimensions. */
  readonly skipped: number;
}

const THROTTLING = new Set(['Throttling', 'ThrottlingException', 'ThrottledException', 'RequestThrottledException', 'TooManyRequestsException', 'RequestLimitExceeded', 'LimitExceededException']);

/** Throttling and server faults are retried; anything else (InvalidParameterValue, AccessDenied) is not. */
export function isRetryable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { name?: unknown; $fault?: unknown; $metadata?: { httpStatusCode?: unknown }; $retryable?: unknown };
  if (typeof e.name === 'string' && THROTTLING.has(e.name)) return true;
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  return e.$fault === 'server' || (typeof status === 'number' && (status === 429 || status >= 500));
}

/** One datum per series: labels become dimensions (same names as on /metrics). */
export function toMetricDatum(series: SeriesValue, timestamp: Date): MetricDatum {
  return {
    MetricName: series.name,
    Dimensions: Object.entries(series.labels)
      .filter(([, v]) => v !== '')
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([Name, Value]) => ({ Name, Value })),
    Value: series.value,
    Timestamp: timestamp,
    Unit: series.name.endsWith('_seconds') ? 'Seconds' : series.name.endsWith('_total') || series.name.endsWith('_pairs') ? 'Count' : 'None',
    StorageResolution: 60,
  };
}

/** A generous estimate of a datum's encoded size. */
function datumBytes(d: MetricDatum): number {
  let n = 160 + (d.MetricName?.length ?? 0);
  for (const dim of d.Dimensions ?? []) n += 40 + (dim.Name?.length ?? 0) + (dim.Value?.length ?? 0);
  return n;
}

/**
 * Publishes the compliance series to CloudWatch with PutMetricData, batched within the API's
 * limits (1,000 metrics and 1 MB per request, 30 dimensions per metric), retrying throttling and
 * server faults with exponential backoff.
 */
export class CloudWatchPublisher {
  private readonly client: CloudWatchClient;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: CloudWatchPublisherOptions = {}) {
    this.client = options.client ?? new CloudWatchClient({});
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Splits data into requests within the count and size limits. */
  batches(data: readonly MetricDatum[]): MetricDatum[][] {
    const maxBytes = this.options.maxRequestBytes ?? 900_000;
    const out: MetricDatum[][] = [];
    let current: MetricDatum[] = [];
    let bytes = 0;
    for (const d of data) {
      const size = datumBytes(d);
      if (current.length > 0 && (current.length >= PUT_METRIC_DATA_LIMITS.maxMetricsPerRequest || bytes + size > maxBytes)) {
        out.push(current);
        current = [];
        bytes = 0;
      }
      current.push(d);
      bytes += size;
    }
    if (current.length > 0) out.push(current);
    return out;
  }

  async publish(series: readonly SeriesValue[], at: number): Promise<CloudWatchPublishResult> {
    const include = this.options.include ?? ((s: SeriesValue) => !DEFAULT_EXCLUDED.has(s.name));
    const timestamp = new Date(at);
    const data: MetricDatum[] = [];
    let skipped = 0;
    for (const s of series) {
      if (!include(s)) continue;
      if (!Number.isFinite(s.value) || Object.keys(s.labels).length > PUT_METRIC_DATA_LIMITS.maxDimensions) {
        skipped++;
        continue;
      }
      data.push(toMetricDatum(s, timestamp));
    }
    const batches = this.batches(data);
    for (const batch of batches) await this.put(batch);
    return { requests: batches.length, metrics: data.length, skipped };
  }

  private async put(batch: MetricDatum[]): Promise<void> {
    const namespace = this.options.namespace ?? CLOUDWATCH_NAMESPACE;
    const maxAttempts = Math.max(1, this.options.maxAttempts ?? 5);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(new PutMetricDataCommand({ Namespace: namespace, MetricData: batch }));
        return;
      } catch (error) {
        if (!isRetryable(error) || attempt >= maxAttempts) {
          const name = error instanceof Error ? error.name : 'Error';
          throw new CloudWatchPublishError(
            `PutMetricData failed after ${attempt} attempt(s): ${name}: ${error instanceof Error ? error.message : String(error)}`,
            { namespace, metrics: batch.length, attempts: attempt },
            { cause: error },
          );
        }
        const ceiling = (this.options.minBackoffMs ?? 200) * 2 ** (attempt - 1);
        await this.sleep(ceiling / 2 + Math.random() * (ceiling / 2));
      }
    }
  }
}
