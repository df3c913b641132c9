/**
 * The store port: the embedded store (local default) and the DynamoDB store implement it.
 *
 * Items are addressed by a partition key and a sort key (single-table style). Every write states
 * a version condition (optimistic concurrency); a transaction applies all its writes or none.
 * Every committed write appears on the change feed, shaped like a DynamoDB stream record.
 */
import type { JsonBytes } from '../json-bytes.ts';

export interface ItemKey {
  readonly pk: string;
  readonly sk: string;
}

export interface StoredItem<T = unknown> extends ItemKey {
  /** Starts at 1 on insert, +1 on every write. */
  readonly version: number;
  readonly data: T;
}

/**
 * The condition a write must meet: `'absent'` (the item must not exist), a version number
 * (the item must exist with exactly this version) or `'any'` (a deliberate blind write).
 */
export type VersionCondition = number | 'absent' | 'any';

export type WriteOp =
  | {
      readonly type: 'put';
      readonly pk: string;
      readonly sk: string;
      readonly data: unknown;
      readonly ifVersion: VersionCondition;
      /**
       * The data's JSON text as UTF-8, when the writer has made it already (results items,
       * src/core/results-item-json.ts). A store that logs JSON writes it as given instead of
       * serialising the data again, and keeps the data itself: it must be frozen all through,
       * and what JSON gives back of it as it is.
       */
      readonly json?: JsonBytes;
    }
  | { readonly type: 'delete'; readonly pk: string; readonly sk: string; readonly ifVersion: VersionCondition };

export type ChangeEventName = 'INSERT' | 'MODIFY' | 'REMOVE';

/** Shaped like a DynamoDB Streams record (images unmarshalled). */
export interface ChangeRecord {
  readonly eventID: string;
  readonly eventName: ChangeEventName;
  readonly dynamodb: {
    readonly Keys: ItemKey;
    readonly OldImage?: StoredItem;
    readonly NewImage?: StoredItem;
    /** Decimal string, strictly increasing; compare with `compareSequenceNumbers`. */
    readonly SequenceNumber: string;
    /** Epoch seconds, as DynamoDB reports it. */
    readonly ApproximateCreationDateTime: number;
  };
}

export interface QueryOptions {
  readonly skPrefix?: string;
  readonly limit?: number;
  /** Opaque cursor from a previous page. */
  readonly cursor?: string;
}

export interface QueryPage<T> {
  readonly items: StoredItem<T>[];
  readonly cursor?: string;
}

export interface TransactOptions {
  /** Retrying with the same token after an unknown outcome does not apply the writes twice. */
  readonly clientToken?: string;
}

export interface TransactResult {
  /** Sequence number of the last change record this transaction produced ('' when none). */
  readonly sequenceNumber: string;
}

export interface Store {
  get<T>(pk: string, sk: string): Promise<StoredItem<T> | undefined>;
  /** The items at these keys, in the order given (undefined where absent); strongly consistent. */
  getMany<T>(keys: readonly ItemKey[]): Promise<Array<StoredItem<T> | undefined>>;
  /** Items of one partition in sort-key order, paginated. */
  query<T>(pk: string, options?: QueryOptions): Promise<QueryPage<T>>;
  /** All-or-nothing; throws ConflictError naming the first key whose condition failed. */
  transact(ops: readonly WriteOp[], options?: TransactOptions): Promise<TransactResult>;
  /** Change records with a sequence number greater than `after` (all retained ones when undefined). */
  readChanges(after: string | undefined, limit: number): Promise<ChangeRecord[]>;
  close(): Promise<void>;
}

export function compareSequenceNumbers(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Reads every page of a partition. */
export async function queryAll<T>(store: Store, pk: string, skPrefix?: string): Promise<StoredItem<T>[]> {
  const out: StoredItem<T>[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.query<T>(pk, { skPrefix, cursor, limit: 1000 });
    out.push(...page.items);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return out;
}
