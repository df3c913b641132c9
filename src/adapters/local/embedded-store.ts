/**
 * The embedded store: the local default behind the Store port. State lives in memory (per
 * partition, a map for point reads and a sorted key list for queries); durability comes from a
 * write-ahead log synced before a transaction becomes visible, compacted into a snapshot.
 *
 * Commits are grouped: `transact` checks its conditions and builds its log entry at once, against
 * the state including every transaction still in flight, then waits for its turn. The log is
 * written and synced off the main thread one group at a time (whatever arrived while the previous
 * group was in flight, in one line); transactions become visible and settle strictly in call order.
 *
 * Stored data is JSON: a put stores what `JSON.stringify` makes of its data (undefined fields
 * vanish, dates become strings), exactly what a reopen will read back. Items and change records
 * are deeply frozen and shared, never copied: mutating one throws.
 *
 * One process writes a directory (its `LOCK`); others may open it `readOnly`, without the lock,
 * for a view of the state committed at that moment.
 *
 * @example
 * const store = await EmbeddedStore.open({ dir: '.argus/store' });
 * await store.transact([{ type: 'put', pk: 'REQ#ac-2', sk: 'V#1', data: { title: 'Account management' }, ifVersion: 'absent' }]);
 * const page = await store.query('REQ#ac-2', { skPrefix: 'V#', limit: 100 });
 * await store.close();
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ArgusError, ConflictError, StoreError } from '#core/errors.ts';
import { systemClock, type Clock } from '#core/ports/clock.ts';
import type { JsonBytes } from '#core/json-bytes.ts';
import type {
  ChangeRecord,
  ItemKey,
  QueryOptions,
  QueryPage,
  Store,
  StoredItem,
  TransactOptions,
  TransactResult,
  VersionCondition,
  WriteOp,
} from '#core/ports/store.ts';
import { ChangeFeed } from './change-feed.ts';
import { deepFreeze } from './deep-freeze.ts';
import { DirLock } from './dir-lock.ts';
import type { Line } from './line-reader.ts';
import { SortedKeys } from './sorted-keys.ts';
import { SNAPSHOT_FILE, readSnapshot, removeSnapshotLeftover, writeSnapshot, type SnapshotItem } from './snapshot.ts';
import { replayWal, WriteAheadLog, type WalEntry, type WalOp } from './write-ahead-log.ts';
import { decodeCursor, encodeCursor, fingerprint, validateOps } from '../store-ops.ts';

export interface EmbeddedStoreOptions {
  /** Directory holding `wal.jsonl`, `snapshot.jsonl` and `LOCK`; created when missing. */
  readonly dir: string;
  /**
   * Sync the log to disk before each transaction returns. Off survives a killed process but
   * not a power cut.
   * @default true
   */
  readonly fsync?: boolean;
  /**
   * Write a snapshot and start a fresh log once the log is larger than this, or than the last
   * snapshot if that is larger (so compaction costs a bounded share of writing at any size).
   * @default 67108864 (64 MiB)
   */
  readonly compactAfterBytes?: number;
  /**
   * Change records kept for `readChanges`; older ones are dropped.
   * @default 100000
   */
  readonly feedRetention?: number;
  /** @default systemClock */
  readonly clock?: Clock;
  /**
   * Open for reading only, beside a writer that may hold the directory: no lock is taken and
   * nothing is written (no directory, log, repair or compaction). The store holds the state
   * committed when it was opened and never sees later commits; `transact` and `compact` throw
   * StoreError. A missing directory reads as an empty store.
   * @default false
   */
  readonly readOnly?: boolean;
}

/** Receives each committed transaction's change records, synchronously, in commit order. */
export type ChangeListener = (records: readonly ChangeRecord[]) => void;

export const WAL_FILE = 'wal.jsonl';
const DEFAULT_COMPACT_AFTER_BYTES = 64 * 1024 * 1024;
/** While compaction is held, the log still compacts once it is this many times its threshold. */
const HELD_COMPACTION_FACTOR = 4;
const DEFAULT_FEED_RETENTION = 100_000;
/** A page holds at most this many items when the caller gives no limit: callers must follow cursors. */
const DEFAULT_QUERY_LIMIT = 1000;
/** Client tokens remembered for idempotent retries, oldest forgotten first. */
const MAX_CLIENT_TOKENS = 10_000;
/**
 * Reads a read-only open makes before giving up on a store that a writer compacts under each of
 * them, waiting longer after each (10, 20, 40 ... 250 ms: under 3 s in all). A loaded machine can
 * make a busy writer's compactions land under several quick reads in a row; a reader should wait
 * that out rather than tell its user to try again.
 */
const READ_ONLY_ATTEMPTS = 16;
const readOnlyPause = (attempt: number): number => Math.min(10 * 2 ** (attempt - 1), 250);

interface Partition {
  readonly items: Map<string, StoredItem>;
  readonly keys: SortedKeys;
}

interface TokenOutcome {
  /** Fingerprint of the writes, to refuse the token for different ones. */
  readonly fp: string;
  readonly sequenceNumber: string;
}

/** A client token whose transaction is still in flight: a concurrent retry shares its outcome. */
interface PendingToken {
  readonly fp: string;
  readonly result: Promise<TransactResult>;
}

/** The version an item will have once every transaction in flight is committed. */
interface PendingVersion {
  /** undefined: the item will not exist. */
  readonly version: number | undefined;
  /** The last transaction in flight that writes the item. */
  readonly tx: number;
}

/** What an accepted transaction does in its turn. */
type Turn =
  | { readonly kind: 'write'; readonly entry: WalEntry; readonly text: Buffer }
  /** A version conflict with a transaction in flight, reported once that one settled. */
  | { readonly kind: 'refuse'; readonly error: ConflictError }
  /** Writes that change nothing (deletes of absent items). */
  | { readonly kind: 'nothing' };

interface QueuedTransaction {
  readonly turn: Turn;
  readonly resolve: (result: TransactResult) => void;
  readonly reject: (error: unknown) => void;
}

export class EmbeddedStore implements Store {
  private readonly partitions = new Map<string, Partition>();
  private readonly tokens = new Map<string, TokenOutcome>();
  private readonly listeners = new Set<ChangeListener>();
  private feed: ChangeFeed;
  private wal: WriteAheadLog | undefined;
  /** Last committed transaction number and change-record sequence number. */
  private tx = 0;
  private seq = 0;
  /** The same, counting the transactions in flight (the numbers the next one follows). */
  private acceptedTx = 0;
  private acceptedSeq = 0;
  /** Items written by transactions in flight, by pk then sk: conditions are checked against them. */
  private readonly pendingVersions = new Map<string, Map<string, PendingVersion>>();
  private readonly pendingTokens = new Map<string, PendingToken>();
  /** Accepted transactions waiting for the group in flight to commit. */
  private queue: QueuedTransaction[] = [];
  /** Set while groups are written; settles (never rejects) once the queue is empty. */
  private draining: Promise<void> | undefined;
  /** Runs of `holdingCompaction` going on. */
  private compactionHolds = 0;
  private itemCount = 0;
  /** Log size that triggers the next compaction (pushed back when one fails). */
  private compactAt: number;
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(
    readonly dir: string,
    /** Undefined for a read-only store. */
    private readonly lock: DirLock | undefined,
    private readonly fsync: boolean,
    private readonly compactAfterBytes: number,
    private readonly feedRetention: number,
    private readonly clock: Clock,
  ) {
    this.feed = new ChangeFeed(feedRetention, 0);
    this.compactAt = compactAfterBytes;
  }

  /** Opened with `readOnly`: no lock held, writes refused. */
  get readOnly(): boolean {
    return this.lock === undefined;
  }

  /** Opens (or creates) the store in `options.dir`: loads the snapshot, then replays the log. */
  static async open(options: EmbeddedStoreOptions): Promise<EmbeddedStore> {
    const dir = path.resolve(options.dir);
    const compactAfterBytes = options.compactAfterBytes ?? DEFAULT_COMPACT_AFTER_BYTES;
    const feedRetention = options.feedRetention ?? DEFAULT_FEED_RETENTION;
    if (!(compactAfterBytes > 0)) throw new StoreError('compactAfterBytes must be positive', { compactAfterBytes });
    if (!Number.isSafeInteger(feedRetention) || feedRetention < 1) throw new StoreError('feedRetention must be a positive integer', { feedRetention });
    if (options.readOnly === true) return EmbeddedStore.openReadOnly(dir, feedRetention, options.clock ?? systemClock);
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (cause) {
      throw new StoreError(`cannot create store directory ${dir}`, { dir }, { cause });
    }
    const lock = DirLock.acquire(dir);
    const store = new EmbeddedStore(dir, lock, options.fsync ?? true, compactAfterBytes, feedRetention, options.clock ?? systemClock);
    try {
      await store.load();
      return store;
    } catch (error) {
      store.wal?.close();
      lock.release();
      throw openError(dir, error);
    }
  }

  /**
   * Reads the snapshot, then the log, without the lock. A writer may append meanwhile (a torn
   * last line is an append in progress: skipped) or compact (replace the snapshot, then empty the
   * log): a read that may straddle a compaction is done again, so the view is always one
   * committed state, never the old snapshot with the new log or the reverse.
   */
  private static async openReadOnly(dir: string, feedRetention: number, clock: Clock): Promise<EmbeddedStore> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= READ_ONLY_ATTEMPTS; attempt++) {
      const before = stateFiles(dir);
      const store = new EmbeddedStore(dir, undefined, false, DEFAULT_COMPACT_AFTER_BYTES, feedRetention, clock);
      let failure: unknown;
      try {
        store.readState(false);
      } catch (error) {
        failure = error;
      }
      const after = stateFiles(dir);
      const compacted = compactedBetween(before, after);
      if (!compacted && failure === undefined) return store;
      // A failure no writer can explain (files untouched, or still failing with only appends
      // meanwhile) is damage, reported as a writer's open would report it.
      if (!compacted && (sameStateFiles(before, after) || attempt === READ_ONLY_ATTEMPTS)) throw openError(dir, failure);
      lastError = failure;
      if (attempt < READ_ONLY_ATTEMPTS) await sleep(readOnlyPause(attempt));
    }
    const last = lastError === undefined ? '' : ` (last read: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
    throw new StoreError(`cannot read a consistent view of the store in ${dir}: a writer compacted it during each of ${READ_ONLY_ATTEMPTS} reads${last}; try again`, { dir, attempts: READ_ONLY_ATTEMPTS }, { cause: lastError });
  }

  async get<T>(pk: string, sk: string): Promise<StoredItem<T> | undefined> {
    this.assertOpen();
    return this.partitions.get(pk)?.items.get(sk) as StoredItem<T> | undefined;
  }

  /** What `get` returns for each key, read from one state (no await between keys). */
  async getMany<T>(keys: readonly ItemKey[]): Promise<Array<StoredItem<T> | undefined>> {
    this.assertOpen();
    return keys.map(({ pk, sk }) => this.partitions.get(pk)?.items.get(sk) as StoredItem<T> | undefined);
  }

  async query<T>(pk: string, options: QueryOptions = {}): Promise<QueryPage<T>> {
    this.assertOpen();
    const limit = options.limit ?? DEFAULT_QUERY_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1) throw new StoreError('query limit must be a positive integer', { pk, limit });
    const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor, pk);
    const partition = this.partitions.get(pk);
    if (!partition) return { items: [] };
    const prefix = options.skPrefix ?? '';
    // Resume after the cursor unless it lies before the prefix's range.
    const keys = after !== undefined && after >= prefix ? partition.keys.from(after, true) : partition.keys.from(prefix, false);
    const items: StoredItem<T>[] = [];
    let more = false;
    for (const sk of keys) {
      if (!sk.startsWith(prefix)) break;
      if (items.length === limit) {
        more = true;
        break;
      }
      items.push(partition.items.get(sk) as StoredItem<T>);
    }
    const last = items[items.length - 1];
    return more && last ? { items, cursor: encodeCursor(pk, last.sk) } : { items };
  }

  /**
   * Resolves once the transaction is durable and visible, after every transaction called before
   * it. Its conditions are checked against the state those leave behind, so it may be refused
   * for a write still in flight; the refusal too comes in its turn.
   */
  async transact(ops: readonly WriteOp[], options: TransactOptions = {}): Promise<TransactResult> {
    this.assertOpen();
    // Refused before any of the write path runs (a replayed client token included).
    if (this.readOnly) throw this.readOnlyError('transact');
    validateOps(ops);
    const token = options.clientToken;
    const fp = token === undefined ? undefined : fingerprint(ops);
    if (token !== undefined && fp !== undefined) {
      const earlier = this.tokens.get(token);
      if (earlier) return { sequenceNumber: sameRequest(token, earlier, fp).sequenceNumber };
      const inFlight = this.pendingTokens.get(token);
      if (inFlight) return sameRequest(token, inFlight, fp).result;
    }
    const walOps: WalOp[] = [];
    const versions: [pk: string, sk: string, version: number | undefined][] = [];
    // Plain JSON data is copied (frozen) before it is logged, so the log is the text of the copy.
    let plain = true;
    // The JSON bytes writers gave, by op index: logged as given, their data kept as it is.
    let given: Array<JsonBytes | undefined> | undefined;
    for (const op of ops) {
      const current = this.latestVersion(op.pk, op.sk);
      const conflict = conditionFailure(op, current);
      if (conflict) return this.inTurn({ kind: 'refuse', error: conflict });
      if (op.type === 'put') {
        if (op.json !== undefined) {
          (given ??= [])[walOps.length] = op.json;
          walOps.push(['put', op.pk, op.sk, op.data]);
        } else {
          const copy = plain ? plainJsonCopy(op.data) : NOT_PLAIN;
          if (copy === NOT_PLAIN) plain = false;
          walOps.push(['put', op.pk, op.sk, copy === NOT_PLAIN ? op.data : copy]);
        }
        versions.push([op.pk, op.sk, (current ?? 0) + 1]);
      }
      // Deleting an absent item changes nothing and, as in DynamoDB, emits no record.
      else if (current !== undefined) {
        walOps.push(['del', op.pk, op.sk]);
        versions.push([op.pk, op.sk, undefined]);
      }
    }
    if (walOps.length === 0 && token === undefined) return this.inTurn({ kind: 'nothing' });

    const entry: WalEntry = { tx: this.acceptedTx + 1, seq: this.acceptedSeq + walOps.length, t: this.clock.now(), token, fp, ops: walOps };
    let bytes: Buffer;
    try {
      bytes = given === undefined ? Buffer.from(JSON.stringify(entry), 'utf8') : walEntryBytes(entry, given);
    } catch (cause) {
      throw new StoreError('write data is not JSON-serialisable', { firstKey: { pk: ops[0]?.pk, sk: ops[0]?.sk } }, { cause });
    }
    // Memory must hold exactly what a replay will rebuild: a plain copy is that already (JSON
    // text of plain data parses back to equal data); anything else is parsed back from the log.
    const logged = plain ? entry : (JSON.parse(bytes.toString('utf8')) as WalEntry);
    this.acceptedTx = entry.tx;
    this.acceptedSeq = entry.seq;
    for (const [pk, sk, version] of versions) this.setPendingVersion(pk, sk, { version, tx: entry.tx });
    const result = this.inTurn({ kind: 'write', entry: logged, text: bytes });
    if (token !== undefined && fp !== undefined) this.pendingTokens.set(token, { fp, result });
    return result;
  }

  async readChanges(after: string | undefined, limit: number): Promise<ChangeRecord[]> {
    this.assertOpen();
    if (after !== undefined && !/^(0|[1-9][0-9]*)$/.test(after)) throw new StoreError(`invalid sequence number "${after}"`, { after });
    if (!Number.isSafeInteger(limit) || limit < 1) throw new StoreError('readChanges limit must be a positive integer', { limit });
    return this.feed.read(after === undefined ? undefined : Number(after), limit);
  }

  /**
   * Calls `listener` synchronously after every commit with that transaction's records.
   * A listener must not throw: the commit stands and the error is rethrown asynchronously.
   * @returns unsubscribe
   */
  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Writes a snapshot and empties the log (done automatically past `compactAfterBytes`). */
  async compact(): Promise<void> {
    this.assertOpen();
    if (this.readOnly) throw this.readOnlyError('compact');
    await this.exclusively(async () => {
      this.assertOpen();
      await this.compactNow();
    });
  }

  /**
   * Runs `work` with compaction held off, then compacts once if it is due. A long run of writes
   * (a full reconcile rewrites every results item) otherwise rewrote the whole state each time its
   * log outgrew the last snapshot: three snapshots in one reconcile of 1,000,000 pairs. While
   * held, the log still compacts at HELD_COMPACTION_FACTOR times its threshold, so it stays bounded.
   */
  async holdingCompaction<T>(work: () => Promise<T>): Promise<T> {
    this.compactionHolds++;
    try {
      return await work();
    } finally {
      this.compactionHolds--;
      if (this.compactionHolds === 0 && !this.readOnly && !this.closed) await this.exclusively(() => this.maybeCompact());
    }
  }

  /** Refuses new transactions at once, and closes once those in flight are committed. */
  async close(): Promise<void> {
    this.closing ??= this.closeAfterCommits();
    return this.closing;
  }

  private async closeAfterCommits(): Promise<void> {
    this.closed = true;
    await this.draining;
    this.listeners.clear();
    try {
      this.wal?.close();
    } finally {
      this.lock?.release();
    }
  }

  private async load(): Promise<void> {
    removeSnapshotLeftover(this.dir);
    const walFile = this.readState(true);
    this.wal = WriteAheadLog.open(walFile, this.fsync);
    await this.maybeCompact();
  }

  /**
   * Loads the snapshot, then replays the log over it; `repair` cuts a torn last line away (only
   * the lock holder may). Returns the log's path.
   */
  private readState(repair: boolean): string {
    const header = readSnapshot(this.dir, (item) => this.loadItem(item));
    if (header) {
      this.compactAt = Math.max(this.compactAfterBytes, fs.statSync(path.join(this.dir, SNAPSHOT_FILE)).size);
      this.tx = header.tx;
      this.seq = header.seq;
      for (const [token, fp, sequenceNumber] of header.tokens) this.rememberToken(token, { fp, sequenceNumber });
    }
    this.feed = new ChangeFeed(this.feedRetention, this.seq);
    const walFile = path.join(this.dir, WAL_FILE);
    let replayed = false;
    replayWal(walFile, (entry, line) => {
      // Lines the snapshot already holds: a crash came between snapshot rename and log reset.
      if (!replayed && entry.tx <= this.tx) return;
      replayed = true;
      this.replayEntry(walFile, entry, line);
    }, { repair });
    this.acceptedTx = this.tx;
    this.acceptedSeq = this.seq;
    return walFile;
  }

  private loadItem([pk, sk, version, data]: SnapshotItem): void {
    this.setItem(Object.freeze({ pk, sk, version, data: deepFreeze(data) }));
  }

  private replayEntry(file: string, entry: WalEntry, line: Line): void {
    const where = { file, line: line.number };
    if (entry.tx !== this.tx + 1) {
      throw new StoreError(`${file}:${line.number}: transaction ${entry.tx} follows ${this.tx}; the log is missing transactions`, { ...where, expected: this.tx + 1, actual: entry.tx });
    }
    if (entry.seq !== this.seq + entry.ops.length) {
      throw new StoreError(`${file}:${line.number}: sequence number ${entry.seq} does not follow ${this.seq} + ${entry.ops.length} writes`, where);
    }
    for (const op of entry.ops) {
      if (op[0] === 'del' && !this.partitions.get(op[1])?.items.has(op[2])) {
        throw new StoreError(`${file}:${line.number}: deletes ${op[1]} / ${op[2]}, which does not exist`, { ...where, pk: op[1], sk: op[2] });
      }
    }
    this.commit(entry);
    if (entry.token !== undefined && entry.fp !== undefined) {
      this.rememberToken(entry.token, { fp: entry.fp, sequenceNumber: entry.ops.length > 0 ? String(entry.seq) : '' });
    }
  }

  /** The item's version once every transaction in flight is committed; undefined when absent. */
  private latestVersion(pk: string, sk: string): number | undefined {
    const pending = this.pendingVersions.get(pk)?.get(sk);
    return pending ? pending.version : this.partitions.get(pk)?.items.get(sk)?.version;
  }

  private setPendingVersion(pk: string, sk: string, pending: PendingVersion): void {
    let partition = this.pendingVersions.get(pk);
    if (!partition) {
      partition = new Map();
      this.pendingVersions.set(pk, partition);
    }
    partition.set(sk, pending);
  }

  /** Drops what a committed transaction left in the pending versions, unless a later one wrote since. */
  private forgetPendingVersions(entry: WalEntry): void {
    for (const op of entry.ops) {
      const partition = this.pendingVersions.get(op[1]);
      if (partition?.get(op[2])?.tx !== entry.tx) continue;
      partition.delete(op[2]);
      if (partition.size === 0) this.pendingVersions.delete(op[1]);
    }
  }

  /**
   * Settles the transaction after every one accepted before it. A refusal or a no-op with
   * nothing in flight settles at once: it depends on nothing still to come.
   */
  private inTurn(turn: Turn): Promise<TransactResult> {
    if (this.draining === undefined && turn.kind !== 'write') {
      return turn.kind === 'refuse' ? Promise.reject(turn.error) : Promise.resolve({ sequenceNumber: '' });
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ turn, resolve, reject });
      this.draining ??= this.drain();
    });
  }

  /**
   * Runs `step` (a compaction) with nothing appended or made visible meanwhile: transactions that
   * arrive queue up behind it, as behind an append, and reads see the state it writes.
   */
  private async exclusively(step: () => Promise<void>): Promise<void> {
    // The log must not be emptied under an append in flight.
    while (this.draining) await this.draining;
    let failure: { readonly error: unknown } | undefined;
    // `draining` never rejects: the step's failure is passed on to this caller alone.
    this.draining = this.drain(async () => {
      try {
        await step();
      } catch (error) {
        failure = { error };
      }
    });
    await this.draining;
    if (failure !== undefined) throw failure.error;
  }

  /**
   * Appends the queue group by group (whatever arrived during the previous append) until empty,
   * compacting when it is due; `first` runs before (it must not throw).
   */
  private async drain(first?: () => Promise<void>): Promise<void> {
    if (first !== undefined) await first();
    const wal = this.requireWal();
    while (this.queue.length > 0) {
      const group = this.queue;
      this.queue = [];
      const entries: Buffer[] = [];
      for (const { turn } of group) if (turn.kind === 'write') entries.push(turn.text);
      try {
        // An await yields even when there is nothing to write: `draining` is set before this ends.
        await wal.append(entries);
      } catch (error) {
        this.abandon(group, error);
        continue;
      }
      const results = group.map(({ turn }) => (turn.kind === 'write' ? this.makeVisible(turn.entry) : undefined));
      // A compaction the group made due is done before its transactions settle, as when it ran
      // in one piece: a writer that waits for its commit finds the log compacted.
      await this.maybeCompact();
      group.forEach((queued, i) => this.finish(queued, results[i]));
    }
    this.draining = undefined;
  }

  /** Settles a transaction of a group that is durable (a write's `result` from `makeVisible`). */
  private finish({ turn, resolve, reject }: QueuedTransaction, result: TransactResult | undefined): void {
    if (turn.kind === 'refuse') reject(turn.error);
    else resolve(result ?? { sequenceNumber: '' });
  }

  /** Applies a durable transaction to memory, the feed and the tokens, then tells the listeners. */
  private makeVisible(entry: WalEntry): TransactResult {
    const records = this.commit(entry);
    this.forgetPendingVersions(entry);
    const sequenceNumber = records.length > 0 ? String(entry.seq) : '';
    if (entry.token !== undefined && entry.fp !== undefined) {
      this.pendingTokens.delete(entry.token);
      this.rememberToken(entry.token, { fp: entry.fp, sequenceNumber });
    }
    this.publish(records);
    return { sequenceNumber };
  }

  /**
   * After a failed append nothing of the group becomes visible; the transactions queued behind
   * it were checked against it, so they fail too and the next ones see the committed state.
   */
  private abandon(group: readonly QueuedTransaction[], error: unknown): void {
    const behind = this.queue;
    this.queue = [];
    this.acceptedTx = this.tx;
    this.acceptedSeq = this.seq;
    this.pendingVersions.clear();
    this.pendingTokens.clear();
    for (const { reject } of group) reject(error);
    const notApplied = new StoreError('transaction not applied: a transaction before it failed to commit', { dir: this.dir }, { cause: error });
    for (const { reject } of behind) reject(notApplied);
  }

  /** Applies a logged transaction to memory and the feed; returns its change records. */
  private commit(entry: WalEntry): ChangeRecord[] {
    const seconds = Math.floor(entry.t / 1000);
    const records: ChangeRecord[] = [];
    let seq = entry.seq - entry.ops.length;
    for (const op of entry.ops) {
      seq++;
      const pk = op[1];
      const sk = op[2];
      const old = this.partitions.get(pk)?.items.get(sk);
      const Keys = Object.freeze({ pk, sk });
      const SequenceNumber = String(seq);
      let record: ChangeRecord;
      if (op[0] === 'put') {
        const item: StoredItem = Object.freeze({ pk, sk, version: (old?.version ?? 0) + 1, data: deepFreeze(op[3]) });
        this.setItem(item);
        const dynamodb = old
          ? { Keys, OldImage: old, NewImage: item, SequenceNumber, ApproximateCreationDateTime: seconds }
          : { Keys, NewImage: item, SequenceNumber, ApproximateCreationDateTime: seconds };
        record = { eventID: SequenceNumber, eventName: old ? 'MODIFY' : 'INSERT', dynamodb: Object.freeze(dynamodb) };
      } else {
        this.deleteItem(pk, sk);
        const dynamodb = { Keys, OldImage: old, SequenceNumber, ApproximateCreationDateTime: seconds };
        record = { eventID: SequenceNumber, eventName: 'REMOVE', dynamodb: Object.freeze(dynamodb) };
      }
      records.push(Object.freeze(record));
    }
    this.tx = entry.tx;
    this.seq = entry.seq;
    this.feed.append(records);
    return records;
  }

  private setItem(item: StoredItem): void {
    let partition = this.partitions.get(item.pk);
    if (!partition) {
      partition = { items: new Map(), keys: new SortedKeys() };
      this.partitions.set(item.pk, partition);
    }
    if (!partition.items.has(item.sk)) {
      partition.keys.add(item.sk);
      this.itemCount++;
    }
    partition.items.set(item.sk, item);
  }

  private deleteItem(pk: string, sk: string): void {
    const partition = this.partitions.get(pk);
    if (!partition?.items.delete(sk)) return;
    partition.keys.delete(sk);
    this.itemCount--;
    if (partition.items.size === 0) this.partitions.delete(pk);
  }

  private rememberToken(token: string, outcome: TokenOutcome): void {
    this.tokens.set(token, outcome);
    if (this.tokens.size > MAX_CLIENT_TOKENS) {
      const oldest = this.tokens.keys().next();
      if (!oldest.done) this.tokens.delete(oldest.value);
    }
  }

  private publish(records: readonly ChangeRecord[]): void {
    if (records.length === 0 || this.listeners.size === 0) return;
    const frozen = Object.freeze(records);
    for (const listener of this.listeners) {
      try {
        listener(frozen);
      } catch (error) {
        // The transaction is committed; failing it now would invite a double write.
        process.nextTick(() => {
          throw error;
        });
      }
    }
  }

  /** Compacts when the log has grown enough; never throws (a failure is a warning, retried later). */
  private async maybeCompact(): Promise<void> {
    const wal = this.requireWal();
    if (wal.size < this.compactAt) return;
    if (this.compactionHolds > 0 && wal.size < HELD_COMPACTION_FACTOR * this.compactAt) return;
    try {
      await this.compactNow();
    } catch (error) {
      // The log still holds everything: keep going and retry once it has grown again.
      this.compactAt = wal.size + this.compactAfterBytes;
      process.emitWarning(`embedded store compaction failed in ${this.dir}: ${error instanceof Error ? error.message : String(error)}`, 'ArgusStoreWarning');
    }
  }

  /** Writes a snapshot of the state and empties the log; run only while nothing is appended (`exclusively`, `drain`). */
  private async compactNow(): Promise<void> {
    const wal = this.requireWal();
    const tokens = [...this.tokens].map(([token, o]) => [token, o.fp, o.sequenceNumber] as const);
    const snapshotBytes = await writeSnapshot(this.dir, { tx: this.tx, seq: this.seq, count: this.itemCount, tokens }, this.snapshotItems(), this.fsync);
    wal.reset();
    // A snapshot rewrites the whole state: waiting for a log as large as it keeps the rewriting
    // proportional to what is written (a fixed threshold made a large reconcile quadratic).
    this.compactAt = Math.max(this.compactAfterBytes, snapshotBytes);
  }

  private *snapshotItems(): Generator<SnapshotItem> {
    for (const [pk, partition] of this.partitions) {
      for (const sk of partition.keys.from('', false)) {
        const item = partition.items.get(sk) as StoredItem;
        yield [pk, sk, item.version, item.data];
      }
    }
  }

  private requireWal(): WriteAheadLog {
    if (!this.wal) throw new StoreError('store is not open', { dir: this.dir });
    return this.wal;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError(`store in ${this.dir} is closed`, { dir: this.dir });
  }

  private readOnlyError(operation: string): StoreError {
    return new StoreError(`store opened read-only: ${operation} refused in ${this.dir} (only the process holding its lock writes; while \`argus serve\` runs, write through its API with --api)`, { dir: this.dir, operation });
  }
}

function openError(dir: string, error: unknown): ArgusError {
  if (error instanceof ArgusError) return error;
  return new StoreError(`cannot open store in ${dir}: ${error instanceof Error ? error.message : String(error)}`, { dir }, { cause: error });
}

/** What tells one version of a file from another: a compaction renames a new snapshot into place and empties the log in place. */
interface FileVersion {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

interface StateFiles {
  readonly snapshot: FileVersion | undefined;
  readonly wal: FileVersion | undefined;
}

function stateFiles(dir: string): StateFiles {
  return { snapshot: fileVersion(path.join(dir, SNAPSHOT_FILE)), wal: fileVersion(path.join(dir, WAL_FILE)) };
}

function fileVersion(file: string): FileVersion | undefined {
  const stat = fs.statSync(file, { bigint: true, throwIfNoEntry: false });
  return stat && { dev: stat.dev, ino: stat.ino, size: stat.size, mtimeNs: stat.mtimeNs, ctimeNs: stat.ctimeNs };
}

function sameFile(a: FileVersion | undefined, b: FileVersion | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino);
}

function sameVersion(a: FileVersion | undefined, b: FileVersion | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && sameFile(a, b) && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs);
}

/**
 * Whether a compaction may have run between the two looks: the snapshot changed, or the log was
 * replaced or shrank. A log that only grew is a writer appending, which a read tolerates.
 */
function compactedBetween(before: StateFiles, after: StateFiles): boolean {
  if (!sameVersion(before.snapshot, after.snapshot) || !sameFile(before.wal, after.wal)) return true;
  return before.wal !== undefined && after.wal !== undefined && after.wal.size < before.wal.size;
}

function sameStateFiles(before: StateFiles, after: StateFiles): boolean {
  return sameVersion(before.snapshot, after.snapshot) && sameVersion(before.wal, after.wal);
}

/** What `plainJsonCopy` returns for data JSON would not give back unchanged. */
const NOT_PLAIN: unique symbol = Symbol('not plain JSON');

/**
 * A deeply frozen copy of plain JSON data (plain objects and arrays, strings, booleans, null,
 * finite numbers other than -0), equal to what `JSON.parse(JSON.stringify(value))` gives; members
 * that are undefined are left out, as JSON does. Anything else (dates, class instances, toJSON,
 * holes, -0, non-finite numbers, a `__proto__` key, an inherited enumerable key, nesting too deep)
 * gives NOT_PLAIN, and the caller goes through JSON instead. Cheaper than a parse of the text.
 */
function plainJsonCopy(value: unknown): unknown {
  // An enumerable key on Object.prototype would be listed by for-in as a key of every object:
  // checked once here rather than with Object.hasOwn per key (a sixth of the copy's time).
  if (Object.keys(Object.prototype).length > 0) return NOT_PLAIN;
  try {
    return copyPlain(value);
  } catch {
    return NOT_PLAIN;
  }
}

function copyPlain(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0) ? value : NOT_PLAIN;
    case 'object':
      break;
    default:
      return NOT_PLAIN;
  }
  if (value === null) return null;
  // Deeply frozen plain data cannot change under the store: it is kept as is, not copied (the
  // store's own copies carried over into a new item, results a writer froze for this purpose).
  if (Object.isFrozen(value) && isFrozenPlain(value)) return value;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return NOT_PLAIN;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return NOT_PLAIN;
    const out: unknown[] = [];
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) return NOT_PLAIN;
      const member: unknown = value[i];
      // JSON writes undefined array members as null.
      const copy = member === undefined ? null : copyPlain(member);
      if (copy === NOT_PLAIN) return NOT_PLAIN;
      out.push(copy);
    }
    return Object.freeze(out);
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return NOT_PLAIN;
  const record = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key in record) {
    if (key === '__proto__') return NOT_PLAIN;
    const member = record[key];
    if (member === undefined) continue;
    const copy = copyPlain(member);
    if (copy === NOT_PLAIN) return NOT_PLAIN;
    out[key] = copy;
  }
  return Object.freeze(out);
}

/**
 * Whether a frozen value is plain JSON data that is frozen all the way down and that JSON gives
 * back unchanged (no undefined members, which a copy would leave out): then it needs no copy.
 */
function isFrozenPlain(value: object): boolean {
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return false;
    for (let i = 0; i < value.length; i++) {
      if (!(i in value) || !isFrozenPlainMember(value[i])) return false;
    }
    return true;
  }
  // Only what JSON.parse makes: a null-prototype object would come back from the log as a plain one.
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (key === '__proto__' || !isFrozenPlainMember(record[key])) return false;
  }
  return true;
}

function isFrozenPlainMember(member: unknown): boolean {
  switch (typeof member) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(member) && !Object.is(member, -0);
    case 'object':
      return member === null || (Object.isFrozen(member) && isFrozenPlain(member));
    default:
      return false;
  }
}

/**
 * The bytes of the entry's JSON text with the given bytes of its ops' data in place, as
 * `JSON.stringify` would write it: the header is stringified without its ops (the last member),
 * then each op.
 */
function walEntryBytes(entry: WalEntry, given: ReadonlyArray<JsonBytes | undefined>): Buffer {
  const header = JSON.stringify({ ...entry, ops: [] }).slice(0, -2);
  // Each op's text before its data (or all of it, without given bytes), then one buffer for all:
  // a reconcile's transaction logs hundreds of results items.
  const heads: string[] = new Array(entry.ops.length);
  // UTF-8 takes at most 3 bytes per UTF-16 unit.
  let bound = 3 * header.length + CLOSE_ENTRY.length;
  for (let i = 0; i < entry.ops.length; i++) {
    const op = entry.ops[i] as WalOp;
    const separator = i > 0 ? ',' : '';
    const json = given[i];
    const head = json === undefined ? separator + JSON.stringify(op) : `${separator}[${JSON.stringify(op[0])},${JSON.stringify(op[1])},${JSON.stringify(op[2])},`;
    heads[i] = head;
    bound += 3 * head.length + (json === undefined ? 0 : json.length + CLOSE_LIST.length);
  }
  const out = Buffer.allocUnsafe(bound);
  let at = out.write(header, 0, 'utf8');
  for (let i = 0; i < heads.length; i++) {
    at += out.write(heads[i] as string, at, 'utf8');
    const json = given[i];
    if (json === undefined) continue;
    out.set(json, at);
    at += json.length;
    out.set(CLOSE_LIST, at);
    at += CLOSE_LIST.length;
  }
  out.set(CLOSE_ENTRY, at);
  return out.subarray(0, at + CLOSE_ENTRY.length);
}

const CLOSE_LIST = Buffer.from(']');
const CLOSE_ENTRY = Buffer.from(']}');

/** The conflict when the op's condition does not hold for the item at `current` (undefined: absent). */
function conditionFailure(op: WriteOp, current: number | undefined): ConflictError | undefined {
  const expected: VersionCondition = op.ifVersion;
  if (expected === 'any') return undefined;
  const actual = current ?? 'absent';
  if (expected === actual) return undefined;
  const what = expected === 'absent' ? 'to be absent' : `at version ${expected}`;
  const found = current === undefined ? 'no item' : `version ${current}`;
  return new ConflictError(`${op.type} ${op.pk} / ${op.sk}: expected the item ${what}, found ${found}`, { pk: op.pk, sk: op.sk, expected, actual });
}

/** The earlier use of a client token, if it was for the same writes; throws otherwise. */
function sameRequest<T extends { readonly fp: string }>(token: string, earlier: T, fp: string): T {
  if (earlier.fp !== fp) throw new StoreError(`client token "${token}" was already used for different writes`, { clientToken: token });
  return earlier;
}
