/**
 * DynamoDB Streams as the port's change feed. `toChangeRecord` turns a stream record into the
 * port's ChangeRecord (the same unmarshalling a Lambda handler applies to its event's records);
 * `DynamoDbStreamReader` serves `readChanges(after, limit)`; `DynamoDbStreamPoller` follows every
 * shard the way Lambda's event source mapping does (LATEST, then shard by shard, children after
 * parents) and hands each batch to listeners.
 */
import {
  DescribeStreamCommand,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
  type _Record as StreamRecordEnvelope,
  type DynamoDBStreamsClient,
  type Shard,
  type ShardIteratorType,
} from '@aws-sdk/client-dynamodb-streams';
import { StoreError } from '../../core/errors.ts';
import { compareSequenceNumbers, type ChangeEventName, type ChangeRecord, type ItemKey, type StoredItem } from '../../core/ports/store.ts';
import { fromAttributeMap, toStoredItem } from './dynamodb-marshal.ts';

/** A DynamoDB stream record (as GetRecords or a Lambda event delivers it) as the port's ChangeRecord. */
export function toChangeRecord(record: StreamRecordEnvelope): ChangeRecord {
  const d = record.dynamodb;
  const eventName = record.eventName as ChangeEventName | undefined;
  if (!d?.Keys || !d.SequenceNumber || !record.eventID || (eventName !== 'INSERT' && eventName !== 'MODIFY' && eventName !== 'REMOVE')) {
    throw new StoreError('stream record lacks keys, sequence number, event id or event name', { eventID: record.eventID });
  }
  const keys = fromAttributeMap(d.Keys);
  const Keys: ItemKey = { pk: String(keys.pk), sk: String(keys.sk) };
  const created = d.ApproximateCreationDateTime;
  const seconds = created instanceof Date ? Math.floor(created.getTime() / 1000) : typeof created === 'number' ? created : 0;
  const OldImage: StoredItem | undefined = d.OldImage ? toStoredItem(fromAttributeMap(d.OldImage)) : undefined;
  const NewImage: StoredItem | undefined = d.NewImage ? toStoredItem(fromAttributeMap(d.NewImage)) : undefined;
  return {
    eventID: record.eventID,
    eventName,
    dynamodb: {
      Keys,
      ...(OldImage ? { OldImage } : {}),
      ...(NewImage ? { NewImage } : {}),
      SequenceNumber: d.SequenceNumber,
      ApproximateCreationDateTime: seconds,
    },
  };
}

/** Raw attribute `wid` of the new image: the write id the store tags puts with when tracking. */
export function writeIdOf(record: StreamRecordEnvelope): string | undefined {
  return record.dynamodb?.NewImage?.wid?.S;
}

const MAX_PAGE = 1000;

/** Shards of a stream, parents before children, then by starting sequence number. */
export async function listShards(streams: DynamoDBStreamsClient, streamArn: string): Promise<Shard[]> {
  const shards: Shard[] = [];
  let start: string | undefined;
  do {
    const page = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: start }));
    shards.push(...(page.StreamDescription?.Shards ?? []));
    start = page.StreamDescription?.LastEvaluatedShardId;
  } while (start);
  const startOf = (s: Shard) => s.SequenceNumberRange?.StartingSequenceNumber ?? '';
  return shards.sort((a, b) => compareSequenceNumbers(startOf(a), startOf(b)));
}

/**
 * Reads the stream from a sequence number on: the implementation of `Store.readChanges`.
 * Assumes a shard lineage ordered by sequence numbers (one open shard at a time, as DynamoDB
 * Local has); tables with parallel shards are consumed with the poller instead.
 */
export class DynamoDbStreamReader {
  constructor(
    private readonly streams: DynamoDBStreamsClient,
    readonly streamArn: string,
  ) {}

  /** Raw records after `after` (all retained when undefined), at most `limit`. */
  async readRaw(after: string | undefined, limit: number): Promise<StreamRecordEnvelope[]> {
    const out: StreamRecordEnvelope[] = [];
    for (const shard of await listShards(this.streams, this.streamArn)) {
      const range = shard.SequenceNumberRange;
      const end = range?.EndingSequenceNumber;
      if (after !== undefined && end !== undefined && compareSequenceNumbers(end, after) <= 0) continue;
      const startsAfter = after === undefined || compareSequenceNumbers(range?.StartingSequenceNumber ?? '0', after) > 0;
      let iterator = await this.iterator(shard.ShardId as string, startsAfter ? 'TRIM_HORIZON' : 'AFTER_SEQUENCE_NUMBER', startsAfter ? undefined : after);
      while (iterator && out.length < limit) {
        const page = await this.streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: Math.min(MAX_PAGE, limit - out.length) }));
        const records = page.Records ?? [];
        out.push(...records);
        iterator = page.NextShardIterator;
        // An open shard with nothing more to give: this is the end of the stream for now.
        if (records.length === 0 && end === undefined) return out;
      }
      if (out.length >= limit) return out;
    }
    return out;
  }

  async read(after: string | undefined, limit: number): Promise<ChangeRecord[]> {
    return (await this.readRaw(after, limit)).map(toChangeRecord);
  }

  private async iterator(shardId: string, type: ShardIteratorType, sequenceNumber?: string): Promise<string | undefined> {
    try {
      const res = await this.streams.send(new GetShardIteratorCommand({ StreamArn: this.streamArn, ShardId: shardId, ShardIteratorType: type, SequenceNumber: sequenceNumber }));
      return res.ShardIterator;
    } catch (error) {
      if (error instanceof TrimmedDataAccessException) return this.iterator(shardId, 'TRIM_HORIZON');
      throw error;
    }
  }
}

export type ChangeListener = (records: readonly ChangeRecord[]) => void;

export interface StreamPollerOptions {
  /** Pause between polls when the stream had nothing new. @default 250 */
  readonly intervalMs?: number;
  /** Where to start on shards open at start: LATEST (new writes only, as Lambda) or TRIM_HORIZON. @default 'LATEST' */
  readonly startingPosition?: 'LATEST' | 'TRIM_HORIZON';
  /** Called when a poll fails; the poller keeps going. @default process.emitWarning */
  readonly onError?: (error: unknown) => void;
}

interface ShardCursor {
  readonly shardId: string;
  iterator: string | undefined;
  lastSequenceNumber: string | undefined;
  startType: ShardIteratorType;
  closed: boolean;
}

/**
 * Follows a stream and calls listeners with each batch, in order per shard. Records that arrive
 * before the first listener are kept and delivered to it (so a consumer can position the poller,
 * load a snapshot, then subscribe without a gap; handlers are idempotent, overlap is harmless).
 */
export class DynamoDbStreamPoller {
  private readonly listeners = new Set<ChangeListener>();
  private readonly cursors = new Map<string, ShardCursor>();
  private pending: ChangeRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<number> | undefined;
  private stopped = false;

  private constructor(
    private readonly streams: DynamoDBStreamsClient,
    readonly streamArn: string,
    private readonly options: StreamPollerOptions,
  ) {}

  /** Positions on every open shard (LATEST by default) and starts polling in the background. */
  static async start(streams: DynamoDBStreamsClient, streamArn: string, options: StreamPollerOptions = {}): Promise<DynamoDbStreamPoller> {
    const poller = new DynamoDbStreamPoller(streams, streamArn, options);
    const start = options.startingPosition ?? 'LATEST';
    for (const shard of await listShards(streams, streamArn)) {
      if (start === 'LATEST' && shard.SequenceNumberRange?.EndingSequenceNumber !== undefined) continue;
      await poller.track(shard.ShardId as string, start);
    }
    poller.schedule();
    return poller;
  }

  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    if (this.pending.length > 0) {
      const records = this.pending;
      this.pending = [];
      listener(records);
    }
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Polls until the stream has nothing more: every committed write so far has been delivered. */
  async catchUp(): Promise<void> {
    while ((await this.pollOnce()) > 0) {
      // keep draining
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling?.catch(() => undefined);
    this.listeners.clear();
  }

  /** One pass over every tracked shard; returns the number of records delivered. */
  pollOnce(): Promise<number> {
    // One pass at a time: catchUp and the timer share it.
    const run = (this.polling ?? Promise.resolve(0)).catch(() => 0).then(() => this.pass());
    this.polling = run;
    return run;
  }

  private async pass(): Promise<number> {
    let delivered = 0;
    await this.discoverShards();
    for (const cursor of this.cursors.values()) {
      if (cursor.closed) continue;
      if (!cursor.iterator) cursor.iterator = await this.iteratorFor(cursor);
      if (!cursor.iterator) {
        cursor.closed = true;
        continue;
      }
      let page;
      try {
        page = await this.streams.send(new GetRecordsCommand({ ShardIterator: cursor.iterator, Limit: MAX_PAGE }));
      } catch (error) {
        if (error instanceof ExpiredIteratorException) {
          cursor.iterator = undefined;
          continue;
        }
        throw error;
      }
      const records = (page.Records ?? []).map(toChangeRecord);
      cursor.iterator = page.NextShardIterator;
      if (!page.NextShardIterator) cursor.closed = true;
      const last = records[records.length - 1];
      if (last) cursor.lastSequenceNumber = last.dynamodb.SequenceNumber;
      if (records.length > 0) {
        delivered += records.length;
        this.deliver(records);
      }
    }
    return delivered;
  }

  private deliver(records: ChangeRecord[]): void {
    if (this.listeners.size === 0) {
      this.pending.push(...records);
      return;
    }
    for (const listener of this.listeners) listener(records);
  }

  /** Children of closed shards (and shards that appeared) start at their beginning. */
  private async discoverShards(): Promise<void> {
    const anyClosed = [...this.cursors.values()].some((c) => c.closed);
    if (!anyClosed && this.cursors.size > 0) return;
    for (const shard of await listShards(this.streams, this.streamArn)) {
      const id = shard.ShardId as string;
      if (this.cursors.has(id)) continue;
      const parent = shard.ParentShardId;
      if (parent && this.cursors.has(parent) && !this.cursors.get(parent)?.closed) continue;
      await this.track(id, 'TRIM_HORIZON');
    }
  }

  private async track(shardId: string, startType: ShardIteratorType): Promise<void> {
    const cursor: ShardCursor = { shardId, iterator: undefined, lastSequenceNumber: undefined, startType, closed: false };
    cursor.iterator = await this.iteratorFor(cursor);
    this.cursors.set(shardId, cursor);
  }

  private async iteratorFor(cursor: ShardCursor): Promise<string | undefined> {
    const after = cursor.lastSequenceNumber;
    const res = await this.streams.send(
      new GetShardIteratorCommand({
        StreamArn: this.streamArn,
        ShardId: cursor.shardId,
        ShardIteratorType: after ? 'AFTER_SEQUENCE_NUMBER' : cursor.startType,
        SequenceNumber: after,
      }),
    );
    return res.ShardIterator;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.pollOnce()
        .catch((error: unknown) => (this.options.onError ?? ((e: unknown) => process.emitWarning(`DynamoDB stream poll failed: ${e instanceof Error ? e.message : String(e)}`)))(error))
        .finally(() => this.schedule());
    }, this.options.intervalMs ?? 250);
    // Polling alone must not keep a CLI process alive.
    this.timer.unref();
  }
}
