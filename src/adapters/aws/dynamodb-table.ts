/**
 * The Argus table's definition (single table, two sparse KEYS_ONLY GSIs, stream with new and old
 * images, TTL), for tests, the local runtime and the CDK stack to agree on.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { StoreError } from '../../core/errors.ts';
import { TABLE_ATTR, TABLE_INDEX } from '../../core/table-design.ts';

export function tableDefinition(tableName: string): CreateTableCommandInput {
  const gsi = (index: { name: string; pk: string; sk: string }) => ({
    IndexName: index.name,
    KeySchema: [
      { AttributeName: index.pk, KeyType: 'HASH' as const },
      { AttributeName: index.sk, KeyType: 'RANGE' as const },
    ],
    // Every pattern on these indexes needs only keys (names, status, due time are in the keys).
    Projection: { ProjectionType: 'KEYS_ONLY' as const },
  });
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [TABLE_ATTR.pk, TABLE_ATTR.sk, TABLE_ATTR.gsi1pk, TABLE_ATTR.gsi1sk, TABLE_ATTR.gsi2pk, TABLE_ATTR.gsi2sk].map((AttributeName) => ({
      AttributeName,
      AttributeType: 'S' as const,
    })),
    KeySchema: [
      { AttributeName: TABLE_ATTR.pk, KeyType: 'HASH' },
      { AttributeName: TABLE_ATTR.sk, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [gsi(TABLE_INDEX.byParent), gsi(TABLE_INDEX.byDue)],
    StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
  };
}

/** Stream ARN of the table; throws when the table has no stream. */
export async function streamArnOf(client: DynamoDBClient, tableName: string): Promise<string> {
  const described = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const arn = described.Table?.LatestStreamArn;
  if (!arn || described.Table?.StreamSpecification?.StreamEnabled !== true) {
    throw new StoreError(`DynamoDB table ${tableName} has no stream; enable NEW_AND_OLD_IMAGES`, { tableName });
  }
  return arn;
}

/** Creates the table (and its TTL) unless it exists; waits until it is ACTIVE. */
export async function ensureTable(client: DynamoDBClient, tableName: string, options: { timeoutMs?: number } = {}): Promise<void> {
  let exists = true;
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw new StoreError(`cannot describe DynamoDB table ${tableName}`, { tableName }, { cause: error });
    exists = false;
  }
  if (!exists) {
    await client.send(new CreateTableCommand(tableDefinition(tableName)));
  }
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const described = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const indexesActive = (described.Table?.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === 'ACTIVE');
    if (described.Table?.TableStatus === 'ACTIVE' && indexesActive) break;
    if (Date.now() > deadline) throw new StoreError(`DynamoDB table ${tableName} did not become ACTIVE in time`, { tableName });
    await new Promise((r) => setTimeout(r, 250));
  }
  if (!exists) {
    await client.send(new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: TABLE_ATTR.ttl, Enabled: true } }));
  }
}
