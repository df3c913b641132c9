import type { ComplianceEngine } from '../../core/compliance/engine.ts';
import { METRIC } from '../../core/metric-names.ts';
import type { Clock } from '../../core/ports/clock.ts';
import type { Store } from '../../core/ports/store.ts';
import type { FlushResult, RemoteWriteClient, SeriesValue } from '../../core/remote-write/client.ts';
import { takeComplianceSnapshot, type ComplianceSnapshot } from '../../core/slo/snapshot.ts';

export interface RemoteWritePublisherOptions {
  readonly store: Store;
  readonly engine: ComplianceEngine;
  readonly clock: Clock;
  readonly client: RemoteWriteClient;
  /** Sampling and push interval; the window SLI is the mean of samples taken at this pace. @default 60000 */
  readonly intervalMs?: number;
  /** More series to push with each snapshot (e.g. the runtime's run counters). */
  readonly extraSeries?: () => readonly SeriesValue[];
  /** Called when a tick fails (the store is closed, a series is invalid). Flush failures are not errors: they stay buffered. */
  readonly onError?: (error: unknown) => void;
}

export interface PublishTick {
  readonly snapshot: ComplianceSnapshot;
  readonly flush: FlushResult;
}

/**
 * The local remote-write bridge: every interval it records an SLI sample per objective, buffers
 * the compliance series at that time and flushes the buffer to the receiver. Runs in the
 * process that holds the LocalRuntime (the embedded store is single-process).
 *
 * @example
 * const publisher = new RemoteWritePublisher({ store: rt.store, engine: rt.engine, clock: rt.clock,
 *   client: new RemoteWriteClient({ url: 'http://127.0.0.1:9090/api/v1/write' }) });
 * publisher.start();
 */
export class RemoteWritePublisher {
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: RemoteWritePublisherOptions) {}

  /** One sample + push; ticks never overlap. */
  tick(): Promise<PublishTick> {
    const next = this.chain.then(() => this.runTick());
    this.chain = next.catch(() => undefined);
    return next;
  }

  start(): void {
    if (this.timer) return;
    const interval = this.options.intervalMs ?? 60_000;
    this.timer = setInterval(() => {
      this.tick().catch((error: unknown) => this.options.onError?.(error));
    }, interval);
    this.timer.unref();
  }

  /** Stops the timer and makes a last attempt to send what is buffered. */
  async stop(): Promise<FlushResult> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.chain;
    return this.options.client.flush();
  }

  private async runTick(): Promise<PublishTick> {
    const { store, engine, clock, client } = this.options;
    const at = clock.now();
    const snapshot = await takeComplianceSnapshot(store, engine, at);
    client.enqueue([...snapshot.series, ...client.droppedSeries(METRIC.remoteWriteDroppedSamplesTotal), ...(this.options.extraSeries?.() ?? [])], at);
    return { snapshot, flush: await client.flush() };
  }
}
