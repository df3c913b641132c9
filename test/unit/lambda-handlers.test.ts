/**
 * The AWS `handler` exports of the reconcile, change-feed and publisher entries: their deps come
 * from the environment ArgusControlPlane sets (ARGUS_TABLE_NAME), the clients stay per container
 * and the engine is loaded from the table per invocation. DynamoDB and CloudWatch are mocked.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { PutMetricDataCommand, CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
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
const s3 = mockClient(S3Client);
const kms = mockClient(KMSClient);
const BUCKET = 'argus-test-evidence';
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/0d1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b';

/** KMS stood in by a local P-256 key, answering Sign and GetPublicKey as KMS does. */
function kmsSigns(): void {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  kms.on(SignCommand).callsFake((input: { KeyId?: string; Message?: Uint8Array }) => {
    if (input.KeyId !== KEY_ARN || !input.Message) throw new Error('unexpected Sign input');
    return { KeyId: KEY_ARN, Signature: sign('sha256', input.Message, privateKey), SigningAlgorithm: 'ECDSA_SHA_256' };
  });
  kms.on(GetPublicKeyCommand, { KeyId: KEY_ARN }).resolves({ KeyId: KEY_ARN, KeyUsage: 'SIGN_VERIFY', KeySpec: 'ECC_NIST_P256', PublicKey: publicKey.export({ type: 'spki', format: 'der' }) });
}

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
  vi.stubEnv(FUNCTION_ENV.evidenceBucket, BUCKET);
  vi.stubEnv(FUNCTION_ENV.evidenceSigningKey, KEY_ARN);
});

afterEach(() => {
  ddb.reset();
  cw.reset();
  s3.reset();
  kms.reset();
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

  it("attest shard: stores each output in the evidence bucket and signs a checkpoint with the KMS key on the shard's own chain before committing results", async () => {
    tableHolds(defs);
    ddb.on(GetCommand).resolves({});
    // No results stored yet: the batch read finds nothing (an empty table answers like this).
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [] }, UnprocessedKeys: {} });
    ddb.on(TransactWriteCommand).resolves({});
    s3.on(PutObjectCommand).resolves({ ETag: '"e"', ChecksumSHA256: 'x' });
    kmsSigns();
    const { handler } = await import('../../functions/reconcile-attest-shard.ts');

    const result = await handler({ runId: 'r1', asOf: NOW, shards: 1, shard: 0, batchSize: 10, planned: 2 });

    expect(result).toMatchObject({ shard: 0, evaluated: 2, passed: 2, writes: 2, aborted: false });
    // Both results have the same output ({ expression, value }): one object, keyed by its digest.
    const puts = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts).toHaveLength(1);
    expect(puts[0]).toMatchObject({ Bucket: BUCKET, Key: expect.stringMatching(/^outputs\/[0-9a-f]{64}\.json$/), IfNoneMatch: '*', ChecksumSHA256: expect.any(String) });
    expect(kms.commandCalls(SignCommand).map((c) => c.args[0].input)).toEqual([expect.objectContaining({ KeyId: KEY_ARN, MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' })]);
    // One transaction for the ledger (two entries, a checkpoint, the head), then one for the results.
    const transactions = ddb.commandCalls(TransactWriteCommand).map((c) => c.args[0].input.TransactItems ?? []);
    expect(transactions).toHaveLength(2);
    const ledgerKeys = JSON.stringify(transactions[0]);
    expect(ledgerKeys).toContain('LEDGER#shard-0');
    expect(ledgerKeys).toContain('CP#000000000001');
    expect(ledgerKeys).toContain(puts[0]?.Key);
    expect(JSON.stringify(transactions[1])).not.toContain('LEDGER#');
  });

  it('attest shard: fails with an error naming a missing ARGUS_EVIDENCE_SIGNING_KEY, before calling AWS', async () => {
    vi.stubEnv(FUNCTION_ENV.evidenceSigningKey, '');
    const { handler } = await import('../../functions/reconcile-attest-shard.ts');

    await expect(handler({ runId: 'r1', asOf: NOW, shards: 1, shard: 0, batchSize: 10, planned: 2 })).rejects.toMatchObject({ code: 'CONFIG', message: `environment variable ${FUNCTION_ENV.evidenceSigningKey} is required` });
    expect([...ddb.calls(), ...s3.calls(), ...kms.calls()]).toHaveLength(0);
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
