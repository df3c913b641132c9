/**
 * The AWS `handler` exports of the reconcile, change-feed and publisher entries: their deps come
 * from the environment ArgusControlPlane sets (ARGUS_TABLE_NAME), the clients stay per container
 * and the engine is loaded from the table per invocation. DynamoDB and CloudWatch are mocked.
 */
import { PutMetricDataCommand, CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue, DynamoDBRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FUNCTION_ENV } from '../../lib/ArgusControlPlane.ts';
import { API_ENV } from '../../functions/api/aws-context.ts';
import { definitionKey } from '../../src/core/keys.ts';
import type { AnyDefinition } from '../../src/core/model.ts';
import { attestation, implementation, requirement, resource } from '../support/builders.ts';

const TABLE = 'argus-test-table';
const NOW = Date.UTC(2026, 0, 1, 12);

const ddb = mockClient(DynamoDBDocumentClient);
const cw = mockClient(CloudWatchClient);

/** One attestation due on each of two buckets. */
const defs: AnyDefinition[] = [
  requirement('encrypted'),
  attestation('enc-on'),
  implementation('enc-impl', { requirements: ['encrypted'], attestations: ['enc-on'] }),
  ...['bucket-1', 'bucket-2'].map((name) => resource(name, 'AWS::S3::Bucket')),
];

/** The table holds `defs` and no results: each Query answers its partition. */
function tableHolds(items: readonly AnyDefinition[]): void {
  ddb.on(QueryCommand).callsFake((input: { ExpressionAttributeValues?: Record<string, unknown> }) => {
    const pk = input.ExpressionAttributeValues?.[':pk'];
    const found = items.filter((d) => definitionKey(d.kind, d.metadata.name).pk === pk);
    return { Items: found.map((d) => ({ ...definitionKey(d.kind, d.metadata.name), version: 1, data: d })) };
  });
}

const queriedTables = () => [...new Set(ddb.commandCalls(QueryCommand).map((c) => c.args[0].input.TableName))];

beforeEach(() => {
  // Each test gets fresh modules: the per-container caches start empty.
  vi.resetModules();
  vi.useFakeTimers({ now: NOW, toFake: ['Date'] });
  vi.stubEnv('AWS_REGION', 'eu-west-1');
  vi.stubEnv(FUNCTION_ENV.tableName, TABLE);
});

afterEach(() => {
  ddb.reset();
  cw.reset();
  vi.useRealTimers();
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe('Lambda handler wiring', () => {
  it('reads the table name the CDK construct sets', () => {
    expect(API_ENV.tableName).toBe(FUNCTION_ENV.tableName);
  });

  it('fails with an error naming the missing environment variable, before calling DynamoDB', async () => {
    vi.stubEnv(FUNCTION_ENV.tableName, '');
    const { handler } = await import('../../functions/reconcile-plan.ts');

    await expect(handler({ shards: 4, batchSize: 10 })).rejects.toMatchObject({ code: 'CONFIG', message: `environment variable ${FUNCTION_ENV.tableName} is required` });
    expect(ddb.calls()).toHaveLength(0);
  });

  it('plan: loads the engine from the named table on every invocation', async () => {
    tableHolds(defs);
    const { handler } = await import('../../functions/reconcile-plan.ts');

    const first = await handler({ shards: 1, batchSize: 10 });
    const queriesPerLoad = ddb.commandCalls(QueryCommand).length;
    tableHolds(defs.filter((d) => d.metadata.name !== 'bucket-2'));
    const second = await handler({ shards: 1, batchSize: 10 });

    expect(first).toMatchObject({ asOf: NOW, planned: 2, work: [{ shard: 0, planned: 2 }] });
    expect(second).toMatchObject({ planned: 1 });
    expect(ddb.commandCalls(QueryCommand).length).toBe(2 * queriesPerLoad);
    expect(queriedTables()).toEqual([TABLE]);
  });

  it('stream handler: applies a batch to an engine loaded from the table and reports an unreadable record', async () => {
    tableHolds([]);
    const { handler } = await import('../../functions/stream-handler.ts');
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const key = definitionKey('Resource', 'bucket-1');
    const record = (seq: string, image: object, eventID = `e${seq}`): DynamoDBRecord => ({
      eventID,
      eventName: 'INSERT',
      dynamodb: { Keys: toLambda(marshall(key)), NewImage: toLambda(marshall(image, { removeUndefinedValues: true })), SequenceNumber: seq, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });

    const ok = await handler({ Records: [record('100', { ...key, version: 1, data: defs[3] })] });
    const bad = await handler({ Records: [record('101', { ...key, version: 2, data: defs[3] }), record('102', { ...key, version: 3, data: defs[3] }, '')] });

    expect(ok).toEqual({ batchItemFailures: [] });
    expect(bad).toEqual({ batchItemFailures: [{ itemIdentifier: '102' }] });
    expect(logged).toHaveBeenCalledWith(expect.stringContaining('record 102 not applied'), expect.anything());
    expect(queriedTables()).toEqual([TABLE]);
  });

  it('publisher: puts the compliance series in the Argus namespace', async () => {
    tableHolds(defs);
    cw.on(PutMetricDataCommand).resolves({});
    const { handler } = await import('../../functions/cloudwatch-publisher.ts');

    const result = await handler();

    expect(result.at).toBe(new Date(NOW).toISOString());
    expect(result.requests).toBeGreaterThan(0);
    expect(cw.commandCalls(PutMetricDataCommand).every((c) => c.args[0].input.Namespace === 'Argus')).toBe(true);
    expect(queriedTables()).toEqual([TABLE]);
  });

  it('summarise: writes the run metrics as embedded metric format, without the table', async () => {
    vi.stubEnv(FUNCTION_ENV.tableName, '');
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const { handler } = await import('../../functions/reconcile-summarise.ts');

    const summary = await handler({ runId: 'r1', asOf: NOW - 1000, planned: 3, shards: [{ shard: 0, planned: 3, evaluated: 3, passed: 2, failed: 1, errored: 0, writes: 3, aborted: false }] });

    expect(summary).toMatchObject({ runId: 'r1', evaluated: 3, passed: 2, failed: 1, durationMs: 1000 });
    const line = JSON.parse(String(write.mock.calls[0]?.[0])) as { _aws: { CloudWatchMetrics: Array<{ Namespace: string }> }; ReconcileEvaluated: number };
    expect(line._aws.CloudWatchMetrics[0]?.Namespace).toBe('Argus');
    expect(line.ReconcileEvaluated).toBe(3);
    expect(ddb.calls()).toHaveLength(0);
  });
});

/** Lambda's event carries attribute values as JSON. */
function toLambda(image: object): Record<string, AttributeValue> {
  return JSON.parse(JSON.stringify(image)) as Record<string, AttributeValue>;
}
