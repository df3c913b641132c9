import snappy from 'snappyjs';
import { ArgusError } from '../errors.ts';
import type { Clock } from '../ports/clock.ts';
import type { OutgoingRequest, RemoteWriteAuth } from './auth.ts';
import { encodeWriteRequest, seriesKey, seriesLabels, type Label, type TimeSeries } from './protobuf.ts';

/** A value of a series at the time of its snapshot (ComplianceSeries fits). */
export interface SeriesValue {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The response parts the client reads; `fetch`'s Response fits. */
export interface HttpResponseLike {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/** Port for the HTTP call; `globalThis.fetch` fits. */
export type HttpTransport = (
  url: string,
  init: { method: 'POST'; headers: Record<string, string>; body: Uint8Array; signal?: AbortSignal },
) => Promise<HttpResponseLike>;

export type DropReason = 'buffer_full' | 'too_old' | 'rejected';

export interface RemoteWriteClientOptions {
  /** e.g. http://127.0.0.1:9090/api/v1/write or an AMP workspace's .../api/v1/remote_write. */
  readonly url: string;
  readonly auth?: RemoteWriteAuth;
  /** @default globalThis.fetch */
  readonly transport?: HttpTransport;
  readonly clock?: Clock;
  /** @default 2000 (Prometheus's max_samples_per_send default range) */
  readonly maxSamplesPerRequest?: number;
  /** Samples kept while the receiver is down; the oldest are dropped beyond it. @default 100000 */
  readonly maxBufferedSamples?: number;
  /**
   * Samples older than this are dropped instead of sent: Prometheus refuses samples older than
   * about an hour behind its newest (out of bounds). @default 3600000 (1 h)
   */
  readonly maxSampleAgeMs?: number;
  /** Tries per request on 5xx, 429 and network errors (never on other 4xx). @default 5 */
  readonly maxAttempts?: number;
  /** @default 250 */
  readonly minBackoffMs?: number;
  /** @default 10000 */
  readonly maxBackoffMs?: number;
  /** Per request. @default 30000 */
  readonly timeoutMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1). @default Math.random */
  readonly random?: () => number;
}

/** The receiver refused a request or stayed unreachable. */
export class RemoteWriteError extends ArgusError {
  readonly status: number | undefined;
  readonly retryable: boolean;

  constructor(message: string, context: { url: string; status?: number; retryable: boolean }, options?: { cause?: unknown }) {
    super('REMOTE_WRITE', message, context, options);
    this.name = 'RemoteWriteError';
    this.status = context.status;
    this.retryable = context.retryable;
  }
}

export interface FlushResult {
  /** Samples accepted by the receiver in this flush. */
  readonly sent: number;
  readonly requests: number;
  /** Samples still buffered (the receiver was unreachable or failing). */
  readonly pending: number;
  readonly error?: RemoteWriteError;
}

interface Piece {
  readonly timestamp: number;
  readonly series: readonly { readonly labels: readonly Label[]; readonly value: number }[];
}

export const REMOTE_WRITE_HEADERS: Readonly<Record<string, string>> = {
  'content-encoding': 'snappy',
  'content-type': 'application/x-protobuf',
  'x-prometheus-remote-write-version': '0.1.0',
  'user-agent': 'argus-remote-write/0.1',
};

/**
 * Prometheus remote-write 1.0 sender with a bounded buffer. `enqueue` takes a snapshot of series
 * values at one timestamp; `flush` sends what is buffered oldest first, in requests of at most
 * `maxSamplesPerRequest` samples, retrying with exponential backoff and jitter on 5xx, 429 and
 * network errors (never on other 4xx, whose samples are dropped as `rejected`). A request that
 * still fails stays buffered for the next flush, so a receiver that is down or slow loses
 * nothing until the buffer is full; what is dropped is counted by reason.
 */
export class RemoteWriteClient {
  private readonly queue: Piece[] = [];
  private bufferedSamples = 0;
  private readonly droppedByReason: Record<DropReason, number> = { buffer_full: 0, too_old: 0, rejected: 0 };
  private inFlight: Promise<FlushResult> | undefined;
  /** Retry-After of the last 429, used by the next backoff. */
  private retryAfterMs: number | undefined;
  private readonly transport: HttpTransport;
  private readonly clock: Clock;
  private readonly maxPerRequest: number;
  private readonly maxBuffered: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(private readonly options: RemoteWriteClientOptions) {
    this.transport = options.transport ?? ((url, init) => fetch(url, init));
    this.clock = options.clock ?? { now: () => Date.now() };
    this.maxPerRequest = Math.max(1, options.maxSamplesPerRequest ?? 2000);
    this.maxBuffered = Math.max(this.maxPerRequest, options.maxBufferedSamples ?? 100_000);
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
  }

  get buffered(): number {
    return this.bufferedSamples;
  }

  get dropped(): Readonly<Record<DropReason, number>> {
    return { ...this.droppedByReason };
  }

  /** Buffers one snapshot; drops the oldest buffered samples when the buffer is full. */
  enqueue(series: readonly SeriesValue[], timestamp: number): void {
    const all = series.filter((s) => !Number.isNaN(s.value)).map((s) => ({ labels: seriesLabels(s.name, s.labels), value: s.value }));
    for (let i = 0; i < all.length; i += this.maxPerRequest) {
      const piece: Piece = { timestamp, series: all.slice(i, i + this.maxPerRequest) };
      this.queue.push(piece);
      this.bufferedSamples += piece.series.length;
    }
    while (this.bufferedSamples > this.maxBuffered) {
      const oldest = this.queue.shift() as Piece;
      this.bufferedSamples -= oldest.series.length;
      this.droppedByReason.buffer_full += oldest.series.length;
    }
  }

  /** Sends everything buffered; concurrent calls share one flush. */
  flush(): Promise<FlushResult> {
    this.inFlight ??= this.doFlush().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async doFlush(): Promise<FlushResult> {
    let sent = 0;
    let requests = 0;
    let rejected: RemoteWriteError | undefined;
    for (;;) {
      this.dropTooOld();
      if (this.queue.length === 0) return { sent, requests, pending: 0, ...(rejected ? { error: rejected } : {}) };
      const take = this.nextBatch();
      const count = take.reduce((n, p) => n + p.series.length, 0);
      requests++;
      const error = await this.sendWithRetry(toTimeSeries(take));
      if (error && error.retryable) return { sent, requests, pending: this.bufferedSamples, error };
      this.queue.splice(0, take.length);
      this.bufferedSamples -= count;
      if (error) {
        this.droppedByReason.rejected += count;
        rejected = error;
      } else sent += count;
    }
  }

  private dropTooOld(): void {
    const maxAge = this.options.maxSampleAgeMs ?? 3_600_000;
    const horizon = this.clock.now() - maxAge;
    while (this.queue.length > 0 && (this.queue[0] as Piece).timestamp < horizon) {
      const old = this.queue.shift() as Piece;
      this.bufferedSamples -= old.series.length;
      this.droppedByReason.too_old += old.series.length;
    }
  }

  private nextBatch(): Piece[] {
    const out: Piece[] = [];
    let n = 0;
    for (const p of this.queue) {
      if (out.length > 0 && n + p.series.length > this.maxPerRequest) break;
      out.push(p);
      n += p.series.length;
    }
    return out;
  }

  /** Undefined on success, else the last error (retryable when the pieces should stay buffered). */
  private async sendWithRetry(series: TimeSeries[]): Promise<RemoteWriteError | undefined> {
    const body = snappy.compress(encodeWriteRequest(series));
    const url = new URL(this.options.url);
    const maxAttempts = Math.max(1, this.options.maxAttempts ?? 5);
    let last: RemoteWriteError | undefined;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      if (attempt > 0) await this.sleep(this.backoff(attempt, last));
      const outcome = await this.sendOnce(url, body);
      if (!outcome) return undefined;
      last = outcome.error;
      if (!last.retryable) return last;
    }
    return last;
  }

  private async sendOnce(url: URL, body: Uint8Array): Promise<{ error: RemoteWriteError } | undefined> {
    const base: Record<string, string> = { ...REMOTE_WRITE_HEADERS };
    const request: OutgoingRequest = { method: 'POST', url, headers: base, body };
    let response: HttpResponseLike;
    try {
      const auth = this.options.auth ? await this.options.auth.headers(request) : {};
      response = await this.transport(url.toString(), {
        method: 'POST',
        headers: { ...base, ...auth },
        body,
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (cause) {
      const message = cause instanceof Error ? cause.message : String(cause);
      return { error: new RemoteWriteError(`remote write to ${url.host} failed: ${message}`, { url: url.toString(), retryable: true }, { cause }) };
    }
    if (response.status >= 200 && response.status < 300) return undefined;
    const text = (await response.text().catch(() => '')).slice(0, 500).trim();
    const retryable = response.status === 429 || response.status >= 500;
    const error = new RemoteWriteError(`remote write to ${url.host} answered ${response.status}${text ? `: ${text}` : ''}`, {
      url: url.toString(),
      status: response.status,
      retryable,
    });
    this.retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), this.clock.now());
    return { error };
  }

  private backoff(attempt: number, last: RemoteWriteError | undefined): number {
    const min = this.options.minBackoffMs ?? 250;
    const max = this.options.maxBackoffMs ?? 10_000;
    const hinted = last?.status === 429 ? this.retryAfterMs : undefined;
    this.retryAfterMs = undefined;
    if (hinted !== undefined) return Math.min(max, hinted);
    const ceiling = Math.min(max, min * 2 ** (attempt - 1));
    // Equal jitter: at least half the delay, so retries of many senders spread but never hammer.
    return ceiling / 2 + this.random() * (ceiling / 2);
  }

  /** `argus_remote_write_dropped_samples_total{reason}`, to push along with the next snapshot. */
  droppedSeries(metricName: string): SeriesValue[] {
    return (Object.keys(this.droppedByReason) as DropReason[]).map((reason) => ({ name: metricName, labels: { reason }, value: this.droppedByReason[reason] }));
  }
}

function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Merges pieces into one TimeSeries per label set, samples in time order. */
function toTimeSeries(pieces: readonly Piece[]): TimeSeries[] {
  const byKey = new Map<string, { labels: readonly Label[]; samples: { value: number; timestamp: number }[] }>();
  for (const p of pieces) {
    for (const s of p.series) {
      const key = seriesKey(s.labels);
      let entry = byKey.get(key);
      if (!entry) byKey.set(key, (entry = { labels: s.labels, samples: [] }));
      entry.samples.push({ value: s.value, timestamp: p.timestamp });
    }
  }
  const out: TimeSeries[] = [];
  for (const e of byKey.values()) {
    e.samples.sort((a, b) => a.timestamp - b.timestamp);
    out.push(e);
  }
  return out;
}
