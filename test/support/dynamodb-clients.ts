/** Clients and a fresh table on a DynamoDB Local started by `startDynamoDbLocal`. */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { ensureTable } from '../../src/adapters/aws/dynamodb-table.ts';
import type { DynamoDbLocal } from './dynamodb-local.ts';

export interface LocalClients {
  readonly client: DynamoDBClient;
  readonly streams: DynamoDBStreamsClient;
}

export function localClients(ddb: DynamoDbLocal): LocalClients {
  return { client: new DynamoDBClient({ ...ddb.clientConfig, maxAttempts: 5 }), streams: new DynamoDBStreamsClient({ ...ddb.clientConfig, maxAttempts: 5 }) };
}

/** Creates a table with the Argus layout under a unique name. */
export async function freshTable(clients: LocalClients, prefix = 'argus-test'): Promise<string> {
  const name = `${prefix}-${randomUUID().slice(0, 8)}`;
  await ensureTable(clients.client, name);
  return name;
}
