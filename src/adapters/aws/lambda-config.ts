/**
 * Dependencies of the reconcile, change-feed and publisher Lambdas on AWS. The table store,
 * providers and clock are the per-container context the API functions use
 * (functions/api/aws-context.ts reads ARGUS_TABLE_NAME once and throws naming it when it is
 * missing); the engine is loaded from the table per invocation, because a container shares no
 * state with the stream or with the other writers. Entries import this module lazily, so the
 * local runtime that reuses their factories never loads the SDK clients.
 */
import { awsApiContext } from '../../../functions/api/aws-context.ts';
import type { ComplianceEngine } from '../../core/compliance/engine.ts';
import type { Clock } from '../../core/ports/clock.ts';
import type { Store } from '../../core/ports/store.ts';
import type { ProviderLookup } from '../../core/use-cases/reconcile.ts';
import { CloudWatchPublisher } from './cloudwatch-publisher.ts';

/** What every table-backed entry gets, created once per container. */
export interface LambdaTableDeps {
  readonly store: Store;
  readonly providers: ProviderLookup;
  readonly clock: Clock;
}

export function lambdaTableDeps(env: NodeJS.ProcessEnv = process.env): LambdaTableDeps {
  const { store, providers, clock } = awsApiContext(env);
  return { store, providers, clock };
}

/** The container's deps plus an engine loaded from the table now (one per invocation). */
export async function lambdaEngineDeps(env: NodeJS.ProcessEnv = process.env): Promise<LambdaTableDeps & { readonly engine: ComplianceEngine }> {
  const context = awsApiContext(env);
  return { ...lambdaTableDeps(env), engine: await context.engine() };
}

let publisher: CloudWatchPublisher | undefined;

/** The publisher's deps; its CloudWatch client lives as long as the container. */
export function lambdaCloudWatchPublisherDeps(env: NodeJS.ProcessEnv = process.env): { readonly store: Store; readonly clock: Clock; readonly publisher: CloudWatchPublisher } {
  const { store, clock } = lambdaTableDeps(env);
  publisher ??= new CloudWatchPublisher();
  return { store, clock, publisher };
}
