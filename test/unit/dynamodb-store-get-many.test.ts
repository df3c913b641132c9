/**
 * DynamoDbStore.getMany against a mocked DynamoDB: the request splitting, de-duplication and
 * UnprocessedKeys retries that DynamoDB Local never exercises (it processes every key).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, type BatchGetCommandInput, type BatchGetCommandOutput } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { ThrottledError } from '../../src/adapters/aws/dynamodb-errors.ts';
import { DynamoDbStore } from '../../src/adapters/aws/dynamodb-store.ts';
import type { ItemKey } from '../../src/core/ports/store.ts';

const TABLE = 'argus-test-table';
const METADATA = { httpStatusCode: 200, requestId: 'Q2J1T0ND9S3D8KVP2H8N4M7JGRVV4KQNSO5AEMVJF66Q9ASUAAJG', attempts: 1, totalRetryDelay: 0 };
/** What DynamoDB echoes back of the request for unprocessed keys, besides the keys. */
const KEYS_AND_ATTRIBUTES = { ConsistentRead: true, ProjectionExpression: '#pk, #sk, #version, #data', ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk', '#version': 'version', '#data': 'data' } };

const ddb = mockClient(DynamoDBDocumentClient);
afterEach(() => ddb.reset());

function store(): DynamoDbStore {
  return new DynamoDbStore({ client: new DynamoDBClient({ region: 'eu-west-1' }), tableName: TABLE, backoff: { attempts: 4, baseDelayMs: 1 } });
}

/** The table item at a key, as the document client hands it back (projected attributes only). */
const itemAt = ({ pk, sk }: ItemKey) => ({ pk, sk, version: 3, data: { at: `${pk}/${sk}` } });

const requestedKeys = (input: BatchGetCommandInput): ItemKey[] => (input.RequestItems?.[TABLE]?.Keys ?? []) as ItemKey[];

/** A table holding an item at every key whose sort key does not start with `none`. */
function answerAll(input: BatchGetCommandInput): BatchGetCommandOutput {
  return { $metadata: METADATA, Responses: { [TABLE]: requestedKeys(input).filter((k) => !k.sk.startsWith('none')).map(itemAt) }, UnprocessedKeys: {} };
}

describe('DynamoDbStore.getMany', () => {
  it('asks again for the keys a BatchGetItem left unprocessed and fills every position', async () => {
    // Prepare: the first answer processes two of five keys (one of them absent), as a throttled table does.
    const keys = ['a', 'none-1', 'b', 'c', 'd'].map((sk) => ({ pk: 'RES#x', sk }));
    const left = [keys[2], keys[3], keys[4]] as ItemKey[];
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({ $metadata: METADATA, Responses: { [TABLE]: [itemAt(keys[0] as ItemKey)] }, UnprocessedKeys: { [TABLE]: { Keys: left, ...KEYS_AND_ATTRIBUTES } } })
      .callsFake(answerAll);

    // Act
    const items = await store().getMany(keys);

    // Assess
    expect(items).toEqual([itemAt(keys[0] as ItemKey), undefined, ...left.map(itemAt)]);
    const calls = ddb.commandCalls(BatchGetCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(2);
    expect(calls[0]?.RequestItems?.[TABLE]).toEqual({ Keys: keys, ...KEYS_AND_ATTRIBUTES });
    expect(calls[1]?.RequestItems?.[TABLE]).toEqual({ Keys: left, ...KEYS_AND_ATTRIBUTES });
  });

  it('splits 250 distinct keys into requests of at most 100, answered in input order', async () => {
    ddb.on(BatchGetCommand).callsFake(answerAll);
    const keys = Array.from({ length: 250 }, (_, i) => ({ pk: `RES#${i % 7}`, sk: i % 10 === 0 ? `none-${i}` : `k${i}` }));

    const items = await store().getMany(keys);

    expect(items).toEqual(keys.map((k) => (k.sk.startsWith('none') ? undefined : itemAt(k))));
    const sizes = ddb.commandCalls(BatchGetCommand).map((c) => requestedKeys(c.args[0].input).length);
    expect(sizes).toEqual([100, 100, 50]);
  });

  it('reads a repeated key once and answers each of its positions', async () => {
    ddb.on(BatchGetCommand).callsFake(answerAll);
    const a = { pk: 'RES#x', sk: 'a' };
    const gone = { pk: 'RES#x', sk: 'none' };
    // 150 positions but 2 distinct keys: one request, no key twice (DynamoDB would refuse it).
    const keys = Array.from({ length: 150 }, (_, i) => (i % 3 === 1 ? gone : { ...a }));

    const items = await store().getMany(keys);

    expect(items).toEqual(keys.map((k) => (k === gone ? undefined : itemAt(a))));
    const calls = ddb.commandCalls(BatchGetCommand);
    expect(calls).toHaveLength(1);
    expect(requestedKeys(calls[0]!.args[0].input)).toEqual([a, gone]);
  });

  it('keeps at most 4 requests in flight', async () => {
    let inFlight = 0;
    let most = 0;
    ddb.on(BatchGetCommand).callsFake(async (input: BatchGetCommandInput) => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      return answerAll(input);
    });
    const keys = Array.from({ length: 1000 }, (_, i) => ({ pk: 'RES#x', sk: `k${i}` }));

    const items = await store().getMany(keys);

    expect(items.map((i) => i?.sk)).toEqual(keys.map((k) => k.sk));
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(10);
    expect(most).toBe(4);
  });

  it('gives up with ThrottledError when keys stay unprocessed through every attempt', async () => {
    ddb.on(BatchGetCommand).callsFake((input: BatchGetCommandInput) => ({ $metadata: METADATA, Responses: { [TABLE]: [] }, UnprocessedKeys: { [TABLE]: { Keys: requestedKeys(input), ...KEYS_AND_ATTRIBUTES } } }));

    const error = await store()
      .getMany([{ pk: 'RES#x', sk: 'a' }])
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ThrottledError);
    expect((error as ThrottledError).code).toBe('THROTTLED');
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(4);
  });

  it('sends nothing for no keys', async () => {
    expect(await store().getMany([])).toEqual([]);
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(0);
  });
});
