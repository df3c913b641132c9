/**
 * The DynamoDB store with a live change feed (a stream poller), for the local runtime and the
 * CLI's `--store dynamodb`: the same shape as the embedded store's `subscribe`, plus `catchUp`
 * to wait until every write so far has reached the listeners.
 *
 * @example
 * const store = await DynamoDbFeedStore.open({ tableName: 'argus', endpoint: 'http://127.0.0.1:8000', createTable: true });
 * const stop = store.subscribe((records) => applyChangeRecords(engine, records));
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { ChangeRecord } from '../../core/ports/store.ts';
import { DynamoDbStore, type DynamoDbStoreOptions } from './dynamodb-store.ts';
import { DynamoDbStreamPoller, type StreamPollerOptions } from './dynamodb-stream.ts';
import { ensureTable } from './dynamodb-table.ts';

export interface OpenDynamoDbOptions {
  readonly tableName: string;
  /** e.g. http://127.0.0.1:8000 for DynamoDB Local; default: the AWS endpoint of the region. */
  readonly endpoint?: string;
  /** @default $AWS_REGION, else us-east-1 */
  readonly region?: string;
  /** Create the table (with stream, indexes, TTL) when missing. @default false */
  readonly createTable?: boolean;
  readonly poller?: StreamPollerOptions;
  readonly store?: Pick<DynamoDbStoreOptions, 'trackSequenceNumbers' | 'onConsumedCapacity' | 'backoff'>;
}

export class DynamoDbFeedStore extends DynamoDbStore {
  private constructor(
    options: DynamoDbStoreOptions,
    private readonly poller: DynamoDbStreamPoller,
    private readonly owned: { client: DynamoDBClient; streams: DynamoDBStreamsClient },
  ) {
    super(options);
  }

  /** Opens the table and positions the poller at the stream's end before returning (no gap for a loader). */
  static async open(options: OpenDynamoDbOptions): Promise<DynamoDbFeedStore> {
    const region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
    // DynamoDB Local accepts any credentials; don't require real ones for it.
    const localCredentials = options.endpoint && !process.env.AWS_ACCESS_KEY_ID ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {};
    const config = { region, maxAttempts: 8, ...(options.endpoint ? { endpoint: options.endpoint } : {}), ...localCredentials };
    const client = new DynamoDBClient(config);
    const streams = new DynamoDBStreamsClient(config);
    try {
      if (options.createTable) await ensureTable(client, options.tableName);
      const storeOptions: DynamoDbStoreOptions = { client, streams, tableName: options.tableName, ...options.store };
      const arn = await new DynamoDbStore(storeOptions).streamArn();
      const poller = await DynamoDbStreamPoller.start(streams, arn, options.poller);
      return new DynamoDbFeedStore(storeOptions, poller, { client, streams });
    } catch (error) {
      client.destroy();
      streams.destroy();
      throw error;
    }
  }

  subscribe(listener: (records: readonly ChangeRecord[]) => void): () => void {
    return this.poller.subscribe(listener);
  }

  catchUp(): Promise<void> {
    return this.poller.catchUp();
  }

  override async close(): Promise<void> {
    await this.poller.stop();
    await super.close();
    this.owned.client.destroy();
    this.owned.streams.destroy();
  }
}
