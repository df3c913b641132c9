/**
 * The DynamoDB store: the Store port on one DynamoDB table (layout in
 * docs/dynamodb-table-design.md). Reads are strongly consistent; every write carries its version
 * condition; a transaction of up to 100 writes is one TransactWriteItems (always with a
 * ClientRequestToken, so SDK retries never apply it twice); more than 100 is rejected with
 * TransactionTooLargeError before anything is written. A single write without a client token is
 * a plain conditional UpdateItem/DeleteItem (half the write units of a transaction).
 *
 * The change feed is the table's stream: `readChanges` reads it with the Streams API.
 * DynamoDB does not tell a writer the stream position of its write, so `transact` returns
 * `sequenceNumber: ''` unless `trackSequenceNumbers` is on (tests, local use: it reads the stream
 * after each write to find its records).
 *
 * @example
 * const store = new DynamoDbStore({ client: new DynamoDBClient({}), tableName: 'argus', streams: new DynamoDBStreamsClient({}) });
 * await store.transact([{ type: 'put', pk: 'DEF#Requirement', sk: 'ac-2', data: def, ifVersion: 'absent' }]);
 */
import { createHash, randomUUID } from 'node:crypto';
import type { ConsumedCapacity, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { _Record as StreamRecordEnvelope, DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import {
  BatchGetCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { StoreError } from '../../core/errors.ts';
import {
  compareSequenceNumbers,
  type ChangeRecord,
  type ItemKey,
  type QueryOptions,
  type QueryPage,
  type Store,
  type StoredItem,
  type TransactOptions,
  type TransactResult,
  type WriteOp,
} from '../../core/ports/store.ts';
import { indexAttributes, TABLE_ATTR, TABLE_INDEX, type TableIndexName } from '../../core/table-design.ts';
import { isRetryableCancellation, isThrottle, storeError, ThrottledError, TransactionTooLargeError, withBackoff, writeError, type BackoffOptions } from './dynamodb-errors.ts';
import { normaliseData, toStoredItem } from './dynamodb-marshal.ts';
import { DynamoDbStreamReader, toChangeRecord, writeIdOf } from './dynamodb-stream.ts';
import { streamArnOf } from './dynamodb-table.ts';
import { decodeCursor, encodeCursor, fingerprint, validateOps } from '../store-ops.ts';

/** DynamoDB's limit of writes in one TransactWriteItems. */
export const MAX_TRANSACTION_WRITES = 100;
/** DynamoDB's limit of keys in one BatchGetItem. */
export const MAX_BATCH_GET_KEYS = 100;
/** BatchGetItem requests of one `getMany` in flight at once (bounded to spare the table's capacity). */
const BATCH_GET_CONCURRENCY = 4;
const DEFAULT_QUERY_LIMIT = 1000;
const MAX_CLIENT_TOKENS = 10_000;
const INDEX_ATTRS = ['gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'ttl'] as const;
const ITEM_PROJECTION = '#pk, #sk, #version, #data';
const ITEM_NAMES = { '#pk': TABLE_ATTR.pk, '#sk': TABLE_ATTR.sk, '#version': TABLE_ATTR.version, '#data': TABLE_ATTR.data };

export interface DynamoDbStoreOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Needed for `readChanges` (the table's stream). */
  readonly streams?: DynamoDBStreamsClient;
  /** Find each transaction's stream records to return its sequence number (costly: tests, local use). @default false */
  readonly trackSequenceNumbers?: boolean;
  /** Receives the ConsumedCapacity (TOTAL and per index) of every request; turns on ReturnConsumedCapacity. */
  readonly onConsumedCapacity?: (operation: string, capacity: readonly ConsumedCapacity[]) => void;
  /** Backoff for transactions cancelled by contention or throttling, and for batch reads' unprocessed keys (the SDK retries plain throttling itself). */
  readonly backoff?: BackoffOptions;
}

/** One key of a secondary-index query result (indexes project keys only). */
export interface IndexEntry {
  readonly pk: string;
  readonly sk: string;
  readonly indexPk: string;
  readonly indexSk: string;
}

export interface IndexQueryOptions {
  readonly skPrefix?: string;
  /** Only entries whose index sort key is lower than this (e.g. due before now). */
  readonly skBefore?: string;
  readonly limit?: number;
  readonly cursor?: string;
}

interface TokenOutcome {
  readonly fp: string;
  readonly sequenceNumber: string;
}

interface TrackedWrite {
  readonly writeId: string;
  readonly deletes: ReadonlySet<string>;
}

export class DynamoDbStore implements Store {
  readonly tableName: string;
  readonly maxTransactionWrites = MAX_TRANSACTION_WRITES;
  private readonly doc: DynamoDBDocumentClient;
  private readonly tokens = new Map<string, TokenOutcome>();
  private readonly track: boolean;
  private reader: Promise<DynamoDbStreamReader> | undefined;
  /** Tracking: stream position read so far, and records seen but not yet claimed by a write. */
  private trackedTo: string | undefined;
  private unclaimed: StreamRecordEnvelope[] = [];
  private closed = false;

  constructor(private readonly options: DynamoDbStoreOptions) {
    this.tableName = options.tableName;
    this.track = options.trackSequenceNumbers ?? false;
    this.doc = DynamoDBDocumentClient.from(options.client, { marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false } });
  }

  private get capacityMode(): 'INDEXES' | undefined {
    return this.options.onConsumedCapacity ? 'INDEXES' : undefined;
  }

  private report(operation: string, capacity: ConsumedCapacity | readonly ConsumedCapacity[] | undefined): void {
    if (!capacity || !this.options.onConsumedCapacity) return;
    this.options.onConsumedCapacity(operation, Array.isArray(capacity) ? capacity : [capacity as ConsumedCapacity]);
  }

  async get<T>(pk: string, sk: string): Promise<StoredItem<T> | undefined> {
    this.assertOpen();
    try {
      const res = await this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: { pk, sk }, ConsistentRead: true, ProjectionExpression: ITEM_PROJECTION, ExpressionAttributeNames: ITEM_NAMES, ReturnConsumedCapacity: this.capacityMode }),
      );
      this.report('GetItem', res.ConsumedCapacity);
      return res.Item ? (toStoredItem(res.Item) as StoredItem<T>) : undefined;
    } catch (error) {
      throw storeError(error, 'read', { table: this.tableName, pk, sk });
    }
  }

  /**
   * BatchGetItem in requests of at most 100 distinct keys, a few at a time; unprocessed keys are
   * retried with backoff until none are left (ThrottledError once the attempts run out).
   */
  async getMany<T>(keys: readonly ItemKey[]): Promise<Array<StoredItem<T> | undefined>> {
    this.assertOpen();
    const found = new Map<string, StoredItem>();
    // DynamoDB refuses a request naming a key twice: each distinct key is read once.
    const distinct = new Map<string, ItemKey>();
    for (const { pk, sk } of keys) distinct.set(itemKeyId(pk, sk), { pk, sk });
    const unique = [...distinct.values()];
    const chunks: ItemKey[][] = [];
    for (let i = 0; i < unique.length; i += MAX_BATCH_GET_KEYS) chunks.push(unique.slice(i, i + MAX_BATCH_GET_KEYS));
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let chunk = chunks[next++]; chunk !== undefined; chunk = chunks[next++]) {
        for (const item of await this.batchGet(chunk)) found.set(itemKeyId(item.pk, item.sk), item);
      }
    };
    await Promise.all(Array.from({ length: Math.min(BATCH_GET_CONCURRENCY, chunks.length) }, worker));
    return keys.map(({ pk, sk }) => found.get(itemKeyId(pk, sk)) as StoredItem<T> | undefined);
  }

  /** The items among at most 100 distinct keys, retrying unprocessed keys. */
  private async batchGet(keys: readonly ItemKey[]): Promise<StoredItem[]> {
    const items: StoredItem[] = [];
    let pending: readonly ItemKey[] = keys;
    try {
      await withBackoff(
        async () => {
          const res = await this.doc.send(
            new BatchGetCommand({
              RequestItems: {
                [this.tableName]: { Keys: pending.map(({ pk, sk }) => ({ pk, sk })), ConsistentRead: true, ProjectionExpression: ITEM_PROJECTION, ExpressionAttributeNames: ITEM_NAMES },
              },
              ReturnConsumedCapacity: this.capacityMode,
            }),
          );
          this.report('BatchGetItem', res.ConsumedCapacity);
          for (const raw of res.Responses?.[this.tableName] ?? []) items.push(toStoredItem(raw));
          const unprocessed = res.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
          if (unprocessed.length === 0) return;
          pending = unprocessed.map((k) => ({ pk: String(k.pk), sk: String(k.sk) }));
          // Unprocessed keys are DynamoDB's way of throttling a batch: back off, then ask for those.
          throw new ThrottledError(`DynamoDB left ${pending.length} keys of a batch read unprocessed; retried with backoff and gave up`, { table: this.tableName, unprocessed: pending.length });
        },
        (error) => error instanceof ThrottledError || isThrottle(error),
        this.options.backoff,
      );
    } catch (error) {
      const first = pending[0];
      throw storeError(error, 'batch read', { table: this.tableName, keys: pending.length, firstKey: first ? { pk: first.pk, sk: first.sk } : undefined });
    }
    return items;
  }

  async query<T>(pk: string, options: QueryOptions = {}): Promise<QueryPage<T>> {
    this.assertOpen();
    const limit = options.limit ?? DEFAULT_QUERY_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1) throw new StoreError('query limit must be a positive integer', { pk, limit });
    const start = options.cursor === undefined ? undefined : decodeCursor(options.cursor, pk);
    const prefix = options.skPrefix ?? '';
    try {
      const res = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: prefix ? '#pk = :pk AND begins_with(#sk, :prefix)' : '#pk = :pk',
          ExpressionAttributeNames: ITEM_NAMES,
          ExpressionAttributeValues: prefix ? { ':pk': pk, ':prefix': prefix } : { ':pk': pk },
          ProjectionExpression: ITEM_PROJECTION,
          ConsistentRead: true,
          Limit: limit,
          // A cursor from before the prefix's range starts the range afresh (as the embedded store).
          ExclusiveStartKey: start !== undefined && start >= prefix ? { pk, sk: start } : undefined,
          ReturnConsumedCapacity: this.capacityMode,
        }),
      );
      this.report('Query', res.ConsumedCapacity);
      const items = (res.Items ?? []).map((i) => toStoredItem(i) as StoredItem<T>);
      const last = res.LastEvaluatedKey;
      return last && typeof last.sk === 'string' ? { items, cursor: encodeCursor(pk, last.sk) } : { items };
    } catch (error) {
      throw storeError(error, 'query', { table: this.tableName, pk });
    }
  }

  /**
   * Keys from a sparse secondary index (eventually consistent, as GSIs are). The patterns in
   * docs/dynamodb-table-design.md name the index and partition each one uses.
   */
  async queryIndex(index: TableIndexName, indexPk: string, options: IndexQueryOptions = {}): Promise<{ entries: IndexEntry[]; cursor?: string }> {
    this.assertOpen();
    const def = index === TABLE_INDEX.byParent.name ? TABLE_INDEX.byParent : TABLE_INDEX.byDue;
    const limit = options.limit ?? DEFAULT_QUERY_LIMIT;
    const names: Record<string, string> = { '#ipk': def.pk };
    const values: Record<string, string> = { ':ipk': indexPk };
    let condition = '#ipk = :ipk';
    if (options.skPrefix !== undefined || options.skBefore !== undefined) names['#isk'] = def.sk;
    if (options.skPrefix !== undefined) {
      condition += ' AND begins_with(#isk, :prefix)';
      values[':prefix'] = options.skPrefix;
    } else if (options.skBefore !== undefined) {
      condition += ' AND #isk < :before';
      values[':before'] = options.skBefore;
    }
    let start: Record<string, unknown> | undefined;
    if (options.cursor !== undefined) {
      try {
        start = JSON.parse(Buffer.from(options.cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
      } catch (cause) {
        throw new StoreError(`invalid index cursor for ${index}`, { index, indexPk }, { cause });
      }
    }
    try {
      const res = await this.doc.send(
        new QueryCommand({ TableName: this.tableName, IndexName: def.name, KeyConditionExpression: condition, ExpressionAttributeNames: names, ExpressionAttributeValues: values, Limit: limit, ExclusiveStartKey: start, ReturnConsumedCapacity: this.capacityMode }),
      );
      this.report('Query', res.ConsumedCapacity);
      const entries = (res.Items ?? []).map((i) => ({ pk: String(i.pk), sk: String(i.sk), indexPk: String(i[def.pk]), indexSk: String(i[def.sk]) }));
      return res.LastEvaluatedKey ? { entries, cursor: Buffer.from(JSON.stringify(res.LastEvaluatedKey), 'utf8').toString('base64url') } : { entries };
    } catch (error) {
      throw storeError(error, 'index query', { table: this.tableName, index, indexPk });
    }
  }

  async transact(ops: readonly WriteOp[], options: TransactOptions = {}): Promise<TransactResult> {
    this.assertOpen();
    validateOps(ops);
    if (ops.length > MAX_TRANSACTION_WRITES) throw new TransactionTooLargeError(ops.length, MAX_TRANSACTION_WRITES);
    const token = options.clientToken;
    const fp = token === undefined ? undefined : fingerprint(ops);
    if (token !== undefined) {
      const earlier = this.tokens.get(token);
      if (earlier) {
        if (earlier.fp !== fp) throw new StoreError(`client token "${token}" was already used for different writes`, { clientToken: token });
        return { sequenceNumber: earlier.sequenceNumber };
      }
    }
    if (ops.length === 0) return { sequenceNumber: '' };
    const writeId = randomUUID();
    let sequenceNumber = '';
    if (ops.length === 1 && token === undefined) {
      const existed = await this.writeOne(ops[0] as WriteOp, writeId);
      if (this.track && existed) sequenceNumber = await this.findSequenceNumber(ops, writeId);
    } else {
      await this.writeTransaction(ops, writeId, token);
      if (this.track) sequenceNumber = await this.findSequenceNumber(ops, writeId);
    }
    if (token !== undefined && fp !== undefined) this.rememberToken(token, { fp, sequenceNumber });
    return { sequenceNumber };
  }

  async readChanges(after: string | undefined, limit: number): Promise<ChangeRecord[]> {
    this.assertOpen();
    if (after !== undefined && !/^[0-9]+$/.test(after)) throw new StoreError(`invalid sequence number "${after}"`, { after });
    if (!Number.isSafeInteger(limit) || limit < 1) throw new StoreError('readChanges limit must be a positive integer', { limit });
    try {
      return await (await this.streamReader()).read(after, limit);
    } catch (error) {
      throw storeError(error, 'stream read', { table: this.tableName });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Stream ARN of the table (for pollers). */
  async streamArn(): Promise<string> {
    return (await this.streamReader()).streamArn;
  }

  private streamReader(): Promise<DynamoDbStreamReader> {
    const streams = this.options.streams;
    if (!streams) return Promise.reject(new StoreError('DynamoDbStore needs a DynamoDBStreamsClient (option `streams`) to read changes', { table: this.tableName }));
    this.reader ??= streamArnOf(this.options.client, this.tableName).then((arn) => new DynamoDbStreamReader(streams, arn));
    this.reader.catch(() => {
      this.reader = undefined;
    });
    return this.reader;
  }

  /** Returns whether the write changed an item (a delete of a missing item does not). */
  private async writeOne(op: WriteOp, writeId: string): Promise<boolean> {
    try {
      if (op.type === 'put') {
        const res = await this.doc.send(new UpdateCommand({ ...this.putRequest(op, writeId), ReturnConsumedCapacity: this.capacityMode, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }));
        this.report('UpdateItem', res.ConsumedCapacity);
        return true;
      }
      const res = await this.doc.send(
        new DeleteCommand({ ...this.deleteRequest(op), ReturnValues: this.track ? 'ALL_OLD' : 'NONE', ReturnConsumedCapacity: this.capacityMode, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }),
      );
      this.report('DeleteItem', res.ConsumedCapacity);
      return res.Attributes !== undefined;
    } catch (error) {
      throw writeError(error, [op], this.tableName);
    }
  }

  private async writeTransaction(ops: readonly WriteOp[], writeId: string, token: string | undefined): Promise<void> {
    const input: TransactWriteCommandInput = {
      // Always a token: the SDK's own retries of an unknown outcome then never apply it twice.
      ClientRequestToken: token === undefined ? writeId : awsToken(token),
      ReturnConsumedCapacity: this.capacityMode,
      TransactItems: ops.map((op) =>
        op.type === 'put'
          ? { Update: { ...this.putRequest(op, writeId), ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const } }
          : { Delete: { ...this.deleteRequest(op), ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const } },
      ),
    };
    try {
      const res = await withBackoff(() => this.doc.send(new TransactWriteCommand(input)), (e) => isRetryableCancellation(e) || isThrottle(e), this.options.backoff);
      this.report('TransactWriteItems', res.ConsumedCapacity);
    } catch (error) {
      throw writeError(error, ops, this.tableName);
    }
  }

  /** A put as an update: the version counts up from whatever is stored, index keys follow the data. */
  private putRequest(op: Extract<WriteOp, { type: 'put' }>, writeId: string) {
    const data = normaliseData(op.data, op);
    const index = indexAttributes(op.pk, op.sk, data);
    const names: Record<string, string> = { '#version': TABLE_ATTR.version, '#data': TABLE_ATTR.data };
    const values: Record<string, unknown> = { ':zero': 0, ':one': 1, ':data': data };
    const sets = ['#version = if_not_exists(#version, :zero) + :one', '#data = :data'];
    const removes: string[] = [];
    for (const attr of INDEX_ATTRS) {
      names[`#${attr}`] = attr;
      const value = index[attr];
      if (value === undefined) removes.push(`#${attr}`);
      else {
        values[`:${attr}`] = value;
        sets.push(`#${attr} = :${attr}`);
      }
    }
    if (this.track) {
      names['#wid'] = 'wid';
      values[':wid'] = writeId;
      sets.push('#wid = :wid');
    }
    const condition = this.condition(op, names, values);
    return {
      TableName: this.tableName,
      Key: { pk: op.pk, sk: op.sk },
      UpdateExpression: `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`,
      ...(condition ? { ConditionExpression: condition } : {}),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
  }

  private deleteRequest(op: Extract<WriteOp, { type: 'delete' }>) {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const condition = this.condition(op, names, values);
    return {
      TableName: this.tableName,
      Key: { pk: op.pk, sk: op.sk },
      ...(condition ? { ConditionExpression: condition } : {}),
      ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
      ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
    };
  }

  private condition(op: WriteOp, names: Record<string, string>, values: Record<string, unknown>): string | undefined {
    if (op.ifVersion === 'any') return undefined;
    names['#pk'] = TABLE_ATTR.pk;
    if (op.ifVersion === 'absent') return 'attribute_not_exists(#pk)';
    names['#version'] = TABLE_ATTR.version;
    values[':expected'] = op.ifVersion;
    return 'attribute_exists(#pk) AND #version = :expected';
  }

  /**
   * Tracking: reads the stream on from where it last stopped and returns the highest sequence
   * number among this write's records (puts carry its write id; deletes are matched by key).
   */
  private async findSequenceNumber(ops: readonly WriteOp[], writeId: string): Promise<string> {
    const reader = await this.streamReader();
    const write: TrackedWrite = { writeId, deletes: new Set(ops.filter((o) => o.type === 'delete').map((o) => `${o.pk}\u0000${o.sk}`)) };
    const puts = ops.filter((o) => o.type === 'put').length;
    for (let attempt = 0; attempt < 20; attempt++) {
      for (;;) {
        const page = await reader.readRaw(this.trackedTo, 1000);
        if (page.length === 0) break;
        this.unclaimed.push(...page);
        this.trackedTo = page[page.length - 1]?.dynamodb?.SequenceNumber;
      }
      const mine = this.unclaimed.filter((r) => writeIdOf(r) === write.writeId || (r.eventName === 'REMOVE' && write.deletes.has(keyOf(r))));
      if (mine.filter((r) => writeIdOf(r) === write.writeId).length >= puts && mine.length > 0) {
        this.unclaimed = this.unclaimed.filter((r) => !mine.includes(r)).slice(-10_000);
        return mine.map((r) => toChangeRecord(r).dynamodb.SequenceNumber).sort(compareSequenceNumbers).at(-1) ?? '';
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return '';
  }

  private rememberToken(token: string, outcome: TokenOutcome): void {
    this.tokens.set(token, outcome);
    if (this.tokens.size > MAX_CLIENT_TOKENS) {
      const oldest = this.tokens.keys().next();
      if (!oldest.done) this.tokens.delete(oldest.value);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError(`DynamoDB store for table ${this.tableName} is closed`, { table: this.tableName });
  }
}

/** One string per key, for de-duplicating and matching batch reads. */
function itemKeyId(pk: string, sk: string): string {
  return `${pk}\u0000${sk}`;
}

function keyOf(record: StreamRecordEnvelope): string {
  const keys = record.dynamodb?.Keys;
  return `${keys?.pk?.S ?? ''}\u0000${keys?.sk?.S ?? ''}`;
}

/** DynamoDB tokens are at most 36 characters: a caller's token is hashed to fit. */
function awsToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url').slice(0, 36);
}
