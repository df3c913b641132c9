/**
 * The local event-source mapping: reads the embedded store's change feed in batches with
 * `readChanges(after, batchSize)`, hands each batch to a change handler (the same one DynamoDB
 * Streams drive on AWS through functions/stream-handler.ts), and keeps a checkpoint in the store
 * (META / FEED_CHECKPOINT#<consumer>). Like Lambda's ReportBatchItemFailures: when a record fails,
 * the records before it are checkpointed, the failure is reported, and after a backoff the pump
 * starts again at the failing record. Nothing is skipped; a record is retried until it passes.
 *
 * @example
 * const pump = await FeedPump.open({ store: runtime.store, consumer: 'engine', handler: createChangeBatchHandler({ engine }) });
 * pump.start();
 * await pump.drain(); // everything committed so far has been handled
 * await pump.stop();
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChangeBatchHandler } from '../../../functions/stream-handler.ts';
import { ArgusError } from '../../core/errors.ts';
import { feedCheckpointKey } from '../../core/keys.ts';
import { compareSequenceNumbers, type ChangeRecord, type Store } from '../../core/ports/store.ts';

/** The store the pump reads: the port, plus an optional commit notification to wake up at once. */
export type FeedStore = Store & { subscribe?(listener: (records: readonly ChangeRecord[]) => void): () => void };

export interface FeedFailure {
  readonly consumer: string;
  /** SequenceNumber of the record that failed; the next attempt starts there. */
  readonly sequenceNumber: string;
  readonly error: unknown;
  /** Consecutive failed attempts at this record. */
  readonly attempt: number;
  /** Pause before the next attempt. */
  readonly retryInMs: number;
}

export interface FeedPumpOptions {
  readonly store: FeedStore;
  /** Names the checkpoint; one pump per consumer. */
  readonly consumer: string;
  readonly handler: ChangeBatchHandler;
  /** @default 100 */
  readonly batchSize?: number;
  /** Backoff after a failure: first pause, growth factor, cap. @default { initialMs: 200, factor: 2, maxMs: 30000 } */
  readonly backoff?: { readonly initialMs?: number; readonly factor?: number; readonly maxMs?: number };
  /** Longest pause between reads when idle (a commit notification ends it sooner). @default 1000 */
  readonly pollIntervalMs?: number;
  /** Each failed attempt. @default a process warning */
  readonly onFailure?: (failure: FeedFailure) => void;
  /** Records were dropped from the feed before this consumer read them (retention). */
  readonly onGap?: (gap: { readonly consumer: string; readonly after: string; readonly next: string }) => void;
}

export interface FeedPumpStats {
  readonly checkpoint: string | undefined;
  /** Records the handler applied (each counted once). */
  readonly handled: number;
  readonly batches: number;
  readonly failures: number;
}

/** The pump cannot keep its checkpoint (another pump of the same consumer wrote it). */
export class FeedPumpError extends ArgusError {
  constructor(message: string, context: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('FEED_PUMP', message, context, options);
    this.name = 'FeedPumpError';
  }
}

interface CheckpointData {
  readonly sequenceNumber: string;
}

export class FeedPump {
  private checkpoint: string | undefined;
  private checkpointVersion: number | undefined;
  /** Highest sequence number passed over in memory (checkpoint records are skipped, not persisted). */
  private position: string | undefined;
  private handled = 0;
  private batches = 0;
  private failures = 0;
  private attempt = 0;
  private loop: Promise<void> | undefined;
  private stopping = new AbortController();
  private wake: (() => void) | undefined;
  /** A commit happened since the last read began. */
  private notified = false;
  private unsubscribe: (() => void) | undefined;
  private readonly checkpointSk: string;

  private constructor(private readonly options: FeedPumpOptions) {
    this.checkpointSk = feedCheckpointKey(options.consumer).sk;
  }

  /** Reads the consumer's checkpoint from the store; the pump resumes after it. */
  static async open(options: FeedPumpOptions): Promise<FeedPump> {
    const pump = new FeedPump(options);
    const key = feedCheckpointKey(options.consumer);
    const item = await options.store.get<CheckpointData>(key.pk, key.sk);
    if (item) {
      pump.checkpoint = item.data.sequenceNumber;
      pump.checkpointVersion = item.version;
      pump.position = item.data.sequenceNumber;
    }
    return pump;
  }

  get stats(): FeedPumpStats {
    return { checkpoint: this.checkpoint, handled: this.handled, batches: this.batches, failures: this.failures };
  }

  /** Runs in the background until `stop()`: wakes on each commit (or polls), backs off after failures. */
  start(): void {
    if (this.loop) return;
    this.stopping = new AbortController();
    this.unsubscribe = this.options.store.subscribe?.(() => {
      this.notified = true;
      this.wake?.();
    });
    this.loop = this.run();
  }

  /** Stops after the batch in flight (its checkpoint is written). */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await this.loop;
    this.loop = undefined;
  }

  /**
   * Handles batches until the feed has nothing more, backing off and retrying failures.
   * Not to be mixed with a started pump. Resolves false when stopped by `signal` first.
   */
  async drain(signal?: AbortSignal): Promise<boolean> {
    for (;;) {
      if (signal?.aborted) return false;
      const step = await this.pumpOnce();
      if (step === 'idle') return true;
      if (step === 'failed') {
        try {
          await sleep(this.backoffMs(), undefined, signal ? { signal } : undefined);
        } catch {
          return false;
        }
      }
    }
  }

  /** One batch: 'handled' (more may follow), 'idle' (nothing to read) or 'failed' (retry later). */
  async pumpOnce(): Promise<'handled' | 'idle' | 'failed'> {
    const { store, handler } = this.options;
    const batchSize = this.options.batchSize ?? 100;
    const read = await store.readChanges(this.position, batchSize);
    if (read.length === 0) return 'idle';
    const first = read[0] as ChangeRecord;
    if (this.position !== undefined && compareSequenceNumbers(first.dynamodb.SequenceNumber, nextOf(this.position)) > 0) {
      this.options.onGap?.({ consumer: this.options.consumer, after: this.position, next: first.dynamodb.SequenceNumber });
    }
    const last = (read[read.length - 1] as ChangeRecord).dynamodb.SequenceNumber;
    // The pump's own checkpoint writes are on the feed too: skip them, or each write would cause another.
    const records = read.filter((r) => !this.isCheckpointRecord(r));
    if (records.length === 0) {
      this.position = last;
      return 'handled';
    }
    let outcome;
    try {
      outcome = await handler(records);
    } catch (error) {
      // A handler that throws fails the whole batch, from its first record.
      outcome = { processed: 0, failure: { sequenceNumber: (records[0] as ChangeRecord).dynamodb.SequenceNumber, error } };
    }
    this.batches++;
    const failure = outcome.failure;
    if (!failure) {
      this.handled += records.length;
      this.attempt = 0;
      await this.commit(last);
      return 'handled';
    }
    const at = records.findIndex((r) => r.dynamodb.SequenceNumber === failure.sequenceNumber);
    if (at < 0) throw new FeedPumpError(`handler reported a failure at ${failure.sequenceNumber}, which is not in its batch`, { consumer: this.options.consumer });
    this.handled += at;
    // Resume at the failing record: checkpoint the one before it (the position stays when it is the first).
    if (at > 0) await this.commit((records[at - 1] as ChangeRecord).dynamodb.SequenceNumber);
    this.failures++;
    this.attempt++;
    const report = { consumer: this.options.consumer, sequenceNumber: failure.sequenceNumber, error: failure.error, attempt: this.attempt, retryInMs: this.backoffMs() };
    (this.options.onFailure ?? warn)(report);
    return 'failed';
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      this.notified = false;
      let step: 'handled' | 'idle' | 'failed';
      try {
        step = await this.pumpOnce();
      } catch (error) {
        // The store itself failed (closed, conflict on the checkpoint): report, back off, try again.
        this.failures++;
        this.attempt++;
        (this.options.onFailure ?? warn)({ consumer: this.options.consumer, sequenceNumber: this.position ?? '', error, attempt: this.attempt, retryInMs: this.backoffMs() });
        step = 'failed';
      }
      if (step === 'handled') continue;
      // After a failure only the backoff ends the pause; when idle, a commit (or the poll interval) does.
      if (step === 'failed') await this.pause(this.backoffMs(), false, signal);
      else await this.pause(this.options.pollIntervalMs ?? 1000, true, signal);
    }
  }

  private pause(ms: number, wakeOnCommit: boolean, signal: AbortSignal): Promise<void> {
    if (signal.aborted || (wakeOnCommit && this.notified)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      if (wakeOnCommit) this.wake = done;
    });
  }

  private backoffMs(): number {
    const { initialMs = 200, factor = 2, maxMs = 30_000 } = this.options.backoff ?? {};
    return Math.min(maxMs, initialMs * factor ** Math.max(0, this.attempt - 1));
  }

  private isCheckpointRecord(r: ChangeRecord): boolean {
    return r.dynamodb.Keys.pk === feedCheckpointKey(this.options.consumer).pk && r.dynamodb.Keys.sk === this.checkpointSk;
  }

  private async commit(sequenceNumber: string): Promise<void> {
    this.position = sequenceNumber;
    if (sequenceNumber === this.checkpoint) return;
    const key = feedCheckpointKey(this.options.consumer);
    try {
      await this.options.store.transact([{ type: 'put', pk: key.pk, sk: key.sk, data: { sequenceNumber } satisfies CheckpointData, ifVersion: this.checkpointVersion ?? 'absent' }]);
    } catch (cause) {
      throw new FeedPumpError(`cannot write the checkpoint of feed consumer "${this.options.consumer}": ${cause instanceof Error ? cause.message : String(cause)}`, { consumer: this.options.consumer }, { cause });
    }
    this.checkpoint = sequenceNumber;
    this.checkpointVersion = (this.checkpointVersion ?? 0) + 1;
  }
}

function warn(f: FeedFailure): void {
  process.emitWarning(`feed consumer ${f.consumer}: record ${f.sequenceNumber} failed (attempt ${f.attempt}), retrying in ${f.retryInMs} ms: ${f.error instanceof Error ? f.error.message : String(f.error)}`, 'ArgusFeedWarning');
}

/** Sequence numbers are decimal strings; arithmetic on them stays exact with BigInt. */
function nextOf(seq: string): string {
  return (BigInt(seq) + 1n).toString();
}
