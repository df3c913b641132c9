/**
 * The API's dependencies on AWS, created once per Lambda container: the DynamoDB store and the
 * providers. Derived state is loaded from the store per request (no engine survives between
 * invocations that other writers may have changed); a read model can replace that later.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbStore } from '../../src/adapters/aws/dynamodb-store.ts';
import { providerMap, type ApiContext } from '../../src/api/context.ts';
import { ArgusError } from '../../src/core/errors.ts';
import { systemClock } from '../../src/core/ports/clock.ts';
import { loadEngine } from '../../src/core/use-cases/load-engine.ts';
import { allProviders } from '../../src/providers/registry.ts';

/** Environment of the API functions (set by the CDK construct's bind method). */
export const API_ENV = { tableName: 'ARGUS_TABLE_NAME' } as const;

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new ArgusError('CONFIG', `environment variable ${name} is required`, { name });
  return value;
}

let cached: ApiContext | undefined;

export function awsApiContext(env: NodeJS.ProcessEnv = process.env): ApiContext {
  if (cached) return cached;
  const store = new DynamoDbStore({ client: new DynamoDBClient({}), tableName: required(env, API_ENV.tableName) });
  cached = {
    store,
    providers: providerMap(allProviders()),
    clock: systemClock,
    engine: () => loadEngine(store, systemClock.now()),
  };
  return cached;
}
