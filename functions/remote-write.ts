/**
 * Remote-write bridge on AWS (scheduled every minute): loads the engine from the table, records
 * one SLI sample per objective, and pushes the compliance series to Prometheus / Amazon Managed
 * Service for Prometheus. The client lives at module scope in `remoteWriteDepsFromEnv`, so a warm
 * container keeps what a failed push left buffered.
 */
import type { ComplianceEngine } from '../src/core/compliance/engine.ts';
import { METRIC } from '../src/core/metric-names.ts';
import type { Clock } from '../src/core/ports/clock.ts';
import type { Store } from '../src/core/ports/store.ts';
import type { RemoteWriteClient } from '../src/core/remote-write/client.ts';
import { takeComplianceSnapshot } from '../src/core/slo/snapshot.ts';
import { loadEngine } from '../src/core/use-cases/load-engine.ts';
import { resolveDeps, type DepsSource } from './reconcile-contract.ts';

export interface RemoteWriteDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly client: RemoteWriteClient;
  /** @default loadEngine(store, now) */
  readonly engine?: (now: number) => Promise<ComplianceEngine>;
}

export interface RemoteWriteOutcome {
  readonly at: string;
  readonly objectives: number;
  readonly series: number;
  readonly sent: number;
  readonly pending: number;
  readonly dropped: Readonly<Record<string, number>>;
  readonly error?: string;
}

export function createRemoteWriteHandler(deps: DepsSource<RemoteWriteDeps>): (event?: unknown) => Promise<RemoteWriteOutcome> {
  return async () => {
    const { store, clock, client, engine } = await resolveDeps(deps);
    const at = clock.now();
    const snapshot = await takeComplianceSnapshot(store, await (engine ?? ((now) => loadEngine(store, now)))(at), at);
    client.enqueue([...snapshot.series, ...client.droppedSeries(METRIC.remoteWriteDroppedSamplesTotal)], at);
    const flush = await client.flush();
    // A failed push is not a failed invocation: the samples stay buffered, and a retry would add samples at a new time.
    return {
      at: new Date(at).toISOString(),
      objectives: snapshot.objectives.length,
      series: snapshot.series.length,
      sent: flush.sent,
      pending: flush.pending,
      dropped: client.dropped,
      ...(flush.error ? { error: flush.error.message } : {}),
    };
  };
}

export const handler = createRemoteWriteHandler(async () => (await import('../src/adapters/aws/remote-write-config.ts')).remoteWriteDepsFromEnv());
