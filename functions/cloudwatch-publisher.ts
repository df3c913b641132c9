/**
 * Publishes the compliance figures to CloudWatch (scheduled every minute): loads the engine,
 * records one SLI sample per objective and puts the series with PutMetricData.
 */
import { CloudWatchPublisher } from '../src/adapters/aws/cloudwatch-publisher.ts';
import type { ComplianceEngine } from '../src/core/compliance/engine.ts';
import type { Clock } from '../src/core/ports/clock.ts';
import type { Store } from '../src/core/ports/store.ts';
import { takeComplianceSnapshot } from '../src/core/slo/snapshot.ts';
import { loadEngine } from '../src/core/use-cases/load-engine.ts';
import { resolveDeps, type DepsSource } from './reconcile-contract.ts';

export interface CloudWatchPublisherDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly publisher: CloudWatchPublisher;
  readonly engine?: (now: number) => Promise<ComplianceEngine>;
}

export function createCloudWatchPublisherHandler(deps: DepsSource<CloudWatchPublisherDeps>): (event?: unknown) => Promise<{ at: string; metrics: number; requests: number; skipped: number }> {
  return async () => {
    const { store, clock, publisher, engine } = await resolveDeps(deps);
    const at = clock.now();
    const snapshot = await takeComplianceSnapshot(store, await (engine ?? ((now) => loadEngine(store, now)))(at), at);
    const result = await publisher.publish(snapshot.series, at);
    return { at: new Date(at).toISOString(), ...result };
  };
}

/** AWS (index.handler): table and CloudWatch clients once per container; the engine is loaded per invocation (the default). */
export const handler = createCloudWatchPublisherHandler(async () => (await import('../src/adapters/aws/lambda-config.ts')).lambdaCloudWatchPublisherDeps());
