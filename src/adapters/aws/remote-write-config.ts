import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ArgusError } from '../../core/errors.ts';
import { systemClock, type Clock } from '../../core/ports/clock.ts';
import type { Store } from '../../core/ports/store.ts';
import { bearerAuth, type RemoteWriteAuth } from '../../core/remote-write/auth.ts';
import { RemoteWriteClient } from '../../core/remote-write/client.ts';
import { DynamoDbStore } from './dynamodb-store.ts';
import { sigV4Auth } from './remote-write-sigv4.ts';

/** Environment of the remote-write Lambda (set by the CDK construct). */
export const REMOTE_WRITE_ENV = {
  tableName: 'ARGUS_TABLE_NAME',
  url: 'ARGUS_REMOTE_WRITE_URL',
  /** sigv4 (AMP, default) | bearer | none */
  auth: 'ARGUS_REMOTE_WRITE_AUTH',
  /** For bearer: the token (from Secrets Manager via the construct). */
  bearerToken: 'ARGUS_REMOTE_WRITE_BEARER_TOKEN',
  region: 'AWS_REGION',
} as const;

export class ConfigError extends ArgusError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super('CONFIG', message, context);
    this.name = 'ConfigError';
  }
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (v === undefined || v === '') throw new ConfigError(`environment variable ${name} is required`, { name });
  return v;
}

export function remoteWriteAuthFromEnv(env: NodeJS.ProcessEnv = process.env): RemoteWriteAuth | undefined {
  const mode = env[REMOTE_WRITE_ENV.auth] ?? 'sigv4';
  switch (mode) {
    case 'sigv4':
      return sigV4Auth({ region: required(env, REMOTE_WRITE_ENV.region) });
    case 'bearer':
      return bearerAuth(required(env, REMOTE_WRITE_ENV.bearerToken));
    case 'none':
      return undefined;
    default:
      throw new ConfigError(`${REMOTE_WRITE_ENV.auth} must be sigv4, bearer or none, not "${mode}"`, { mode });
  }
}

let cached: { store: Store; clock: Clock; client: RemoteWriteClient } | undefined;

/** Built once per container: the client's buffer survives between invocations of a warm Lambda. */
export function remoteWriteDepsFromEnv(env: NodeJS.ProcessEnv = process.env): { store: Store; clock: Clock; client: RemoteWriteClient } {
  if (cached) return cached;
  const auth = remoteWriteAuthFromEnv(env);
  const store = new DynamoDbStore({ client: new DynamoDBClient({}), tableName: required(env, REMOTE_WRITE_ENV.tableName) });
  const client = new RemoteWriteClient({ url: required(env, REMOTE_WRITE_ENV.url), ...(auth ? { auth } : {}), maxAttempts: 3, timeoutMs: 10_000 });
  cached = { store, clock: systemClock, client };
  return cached;
}
