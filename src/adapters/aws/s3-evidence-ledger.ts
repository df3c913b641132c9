/**
 * The evidence ledger on AWS: entries and checkpoints as items of the single table, provider
 * outputs in the S3 evidence bucket (versioned, Object Lock), checkpoints signed by an injected
 * EvidenceSigner (KmsSigner on AWS). Same chain encoding as the local ledger
 * (src/core/evidence/chain.ts) and the same pure walk (verifyLedger).
 *
 * Items (partition `LEDGER#<chain>`, docs/dynamodb-table-design.md):
 * - `<seq, 12 digits>`: `{ line, digest? }`: the entry line exactly as chainResults encoded it
 *   (verification hashes the stored text, never a re-encoding) and the output's S3 key.
 * - `CP#<n, 12 digits>`: `{ line }`: a signed checkpoint line.
 * - `HEAD`: a HeadRecord (`bytes` unused, 0): the commit point.
 * Digits sort before `CP#` and `CP#` before `HEAD`, so one ascending query walks entries, then
 * checkpoints.
 *
 * No forks: an append is one TransactWriteItems holding the new entries (each `attribute_not_exists`)
 * and the head (conditioned on the version this writer last read). Of two writers racing from the
 * same head exactly one commits; the other gets EvidenceConflictError, writes nothing, and re-reads
 * the head so that a retry chains onto the winner's entries. DynamoDB takes 100 writes per
 * transaction: a batch of more than 98 entries (head and a checkpoint take two) is committed in
 * sequential transactions, each advancing the head; a conflict after the first leaves the earlier
 * parts committed (true evidence of results that were then not committed, which docs/evidence.md
 * calls harmless).
 *
 * Outputs are put before the transaction that names them, at `<prefix>outputs/<hex>.json`, with
 * `ChecksumSHA256` (S3 checks the bytes on arrival; Object Lock buckets require a checksum) and
 * `IfNoneMatch: '*'` (never overwrite: a 412 means the object exists, which is fine because the
 * key is the digest of the content).
 *
 * @example
 * const ledger = await S3EvidenceLedger.open({ store, s3: new S3Client({}), bucket, signer: new KmsSigner(kms, keyArn), verifier: new KmsPublicKeyVerifier(kms, [keyArn]) });
 * await ledger.appendBatch([{ result, output }]);
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ArgusError, ConflictError } from '../../core/errors.ts';
import {
  chainResults,
  EMPTY_HEAD_RECORD,
  signCheckpoint,
  parseCheckpointLine,
  parseEntryLine,
  parseHeadRecord,
  type ChainHead,
  type Checkpoint,
  type HeadRecord,
} from '../../core/evidence/chain.ts';
import { EvidenceConflictError, EvidenceError } from '../../core/evidence/evidence-error.ts';
import { verifyLedger, type RawLine, type VerifyReport } from '../../core/evidence/verify.ts';
import { systemClock, type Clock } from '../../core/ports/clock.ts';
import type { AppendReceipt, EvidenceLedger, EvidenceRecord, EvidenceSigner, ResourceRunsEvidence, SignatureVerifier } from '../../core/ports/evidence-ledger.ts';
import type { Store, StoredItem, WriteOp } from '../../core/ports/store.ts';
import { ITEM_PREFIX, ledgerEntryKey } from '../../core/table-design.ts';
import { collectOutputs, recordsOfRuns } from '../../core/evidence/outputs.ts';

/** DynamoDB's limit of writes in one TransactWriteItems. */
const MAX_TRANSACTION_WRITES = 100;
export const HEAD_SK = 'HEAD';
export const CHECKPOINT_SK_PREFIX = 'CP#';
const ENTRY_SK = /^[0-9]{12}$/;
const OUTPUT_READ_CONCURRENCY = 16;

export interface S3EvidenceLedgerOptions {
  /** The table (DynamoDbStore on AWS). */
  readonly store: Store;
  readonly s3: S3Client;
  /** The evidence bucket (ArgusStorage.evidenceBucket, possibly in an evidence account). */
  readonly bucket: string;
  /** Key prefix of outputs in the bucket. @default '' */
  readonly prefix?: string;
  /** Name of the hash chain (partition `LEDGER#<chain>`). @default 'default' */
  readonly chain?: string;
  /** Signs checkpoints (KmsSigner on AWS). */
  readonly signer: EvidenceSigner;
  /** Checks checkpoint signatures in `verify()` (KmsPublicKeyVerifier on AWS). */
  readonly verifier: SignatureVerifier;
  /** @default systemClock */
  readonly clock?: Clock;
  /** Sign once this many entries are unsigned, or at the first append once the last checkpoint is `ms` old. @default { entries: 10000, ms: 300000 } */
  readonly checkpointEvery?: { readonly entries?: number; readonly ms?: number };
  /** Writes per transaction (tests lower it to exercise splitting). @default 100 */
  readonly maxTransactionWrites?: number;
}

interface EntryData {
  readonly line: string;
  /** S3 key of the output, when the result names one. */
  readonly output?: string;
}

interface CheckpointData {
  readonly line: string;
}

interface HeadState {
  readonly record: HeadRecord;
  /** Item version of the head (`'absent'` before the first append). */
  readonly version: number | 'absent';
  /** seq and time of the last checkpoint (policy). */
  readonly lastCheckpoint: { readonly seq: number; readonly at: number };
}

function checkpointSk(n: number): string {
  return `${CHECKPOINT_SK_PREFIX}${String(n).padStart(12, '0')}`;
}

export class S3EvidenceLedger implements EvidenceLedger {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly knownOutputs = new Set<string>();
  private readonly pk: string;
  private readonly prefix: string;
  private readonly clock: Clock;
  private readonly policy: { readonly entries: number; readonly ms: number };
  private readonly entriesPerTransaction: number;

  private constructor(
    private readonly options: S3EvidenceLedgerOptions,
    private state: HeadState,
  ) {
    this.pk = S3EvidenceLedger.partition(options.chain ?? 'default');
    this.prefix = options.prefix ?? '';
    this.clock = options.clock ?? systemClock;
    this.policy = { entries: options.checkpointEvery?.entries ?? 10_000, ms: options.checkpointEvery?.ms ?? 300_000 };
    const max = options.maxTransactionWrites ?? MAX_TRANSACTION_WRITES;
    if (!Number.isSafeInteger(max) || max < 3 || max > MAX_TRANSACTION_WRITES) throw new EvidenceError(`maxTransactionWrites must be in 3..${MAX_TRANSACTION_WRITES}`, { max });
    // The head and a possible checkpoint share each transaction with the entries.
    this.entriesPerTransaction = max - 2;
  }

  static partition(chain: string): string {
    return `${ITEM_PREFIX.ledger}${chain}`;
  }

  /** Reads the committed head; nothing is written. */
  static async open(options: S3EvidenceLedgerOptions): Promise<S3EvidenceLedger> {
    const ledger = new S3EvidenceLedger(options, { record: EMPTY_HEAD_RECORD, version: 'absent', lastCheckpoint: { seq: 0, at: 0 } });
    ledger.state = await ledger.readHead();
    return ledger;
  }

  /** The S3 key of an output. */
  outputKey(hex: string): string {
    return `${this.prefix}outputs/${hex}.json`;
  }

  async head(): Promise<ChainHead> {
    return { seq: this.state.record.seq, hash: this.state.record.hash };
  }

  appendBatch(records: readonly EvidenceRecord[]): Promise<AppendReceipt> {
    return this.serialise(async () => {
      this.assertOpen();
      const firstSeq = this.state.record.seq + 1;
      if (records.length === 0) return { firstSeq, head: await this.head() };
      const outputs = collectOutputs(records);
      await this.putOutputs(outputs);
      for (let i = 0; i < records.length; i += this.entriesPerTransaction) {
        await this.commitEntries(records.slice(i, i + this.entriesPerTransaction));
      }
      return { firstSeq, head: await this.head() };
    });
  }

  appendRuns(batch: readonly ResourceRunsEvidence[]): Promise<AppendReceipt> {
    return this.appendBatch(recordsOfRuns(batch));
  }

  checkpoint(): Promise<Checkpoint | undefined> {
    return this.serialise(async () => {
      this.assertOpen();
      const record = this.state.record;
      if (record.seq <= this.state.lastCheckpoint.seq) return undefined;
      const now = this.clock.now();
      const signed = await this.sign(record, now);
      const next: HeadRecord = { ...record, checkpoints: { n: signed.checkpoint.n, digest: signed.checkpoint.digest, bytes: 0 }, at: now };
      await this.commit([signed.op], next, { seq: record.seq, at: now });
      return signed.checkpoint;
    });
  }

  /**
   * Walks every entry and checkpoint item of the chain and re-hashes them (verifyLedger), and
   * GETs each distinct output once (16 at a time) to check its bytes against its digest. Reads
   * the chain into memory (about 1 KB per entry plus the outputs); run it from a job with room
   * for the chain. Outputs are not sampled: verifyLedger needs the bytes of every output it is
   * asked about (sampling would need a "not checked" answer from `readOutput` in core).
   */
  async verify(): Promise<VerifyReport> {
    await this.queue.catch(() => undefined);
    const headItem = await this.options.store.get<unknown>(this.pk, HEAD_SK);
    const head = headItem ? parseHeadRecord(JSON.stringify(headItem.data)) : undefined;
    const entryLines: RawLine[] = [];
    const checkpointLines: RawLine[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.options.store.query<unknown>(this.pk, { cursor, limit: 1000 });
      for (const item of page.items) {
        if (ENTRY_SK.test(item.sk)) entryLines.push({ text: lineOf(item), number: entryLines.length + 1, terminated: true });
        else if (item.sk.startsWith(CHECKPOINT_SK_PREFIX)) checkpointLines.push({ text: lineOf(item), number: checkpointLines.length + 1, terminated: true });
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
    // An empty chain has no head item; only a non-empty one must have one.
    const effectiveHead = head ?? (headItem === undefined && entryLines.length === 0 && checkpointLines.length === 0 ? EMPTY_HEAD_RECORD : undefined);
    const outputs = await this.readOutputs(entryLines, effectiveHead?.seq ?? 0);
    return verifyLedger({ head: effectiveHead, entryLines, checkpointLines, readOutput: (hex) => outputs.get(hex) }, this.options.verifier);
  }

  /** Signs an unsigned head, then refuses further use. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.state.record.seq > this.state.lastCheckpoint.seq) await this.checkpoint();
    } finally {
      this.closed = true;
    }
  }

  // -------------------------------------------------------------------------------------------

  /** One transaction: up to `entriesPerTransaction` entries, maybe a checkpoint, the head. */
  private async commitEntries(records: readonly EvidenceRecord[]): Promise<void> {
    const now = this.clock.now();
    const chained = chainResults(this.state.record, records.map((r) => r.result), now);
    const ops: WriteOp[] = chained.entries.map((entry, i) => {
      const digest = entry.result.evidenceDigest;
      const data: EntryData = digest === undefined ? { line: chained.lines[i] as string } : { line: chained.lines[i] as string, output: this.outputKey(digest.slice('sha256:'.length)) };
      return { type: 'put', ...ledgerEntryKey(this.options.chain ?? 'default', entry.seq), data, ifVersion: 'absent' };
    });
    let next: HeadRecord = { ...this.state.record, seq: chained.head.seq, hash: chained.head.hash, at: now };
    let lastCheckpoint = this.state.lastCheckpoint;
    if (this.checkpointDue(next.seq, now)) {
      const signed = await this.sign(next, now);
      ops.push(signed.op);
      next = { ...next, checkpoints: { n: signed.checkpoint.n, digest: signed.checkpoint.digest, bytes: 0 } };
      lastCheckpoint = { seq: next.seq, at: now };
    }
    await this.commit(ops, next, lastCheckpoint);
  }

  /** Writes `ops` and the head in one transaction, conditioned on the head version this writer read. */
  private async commit(ops: readonly WriteOp[], next: HeadRecord, lastCheckpoint: HeadState['lastCheckpoint']): Promise<void> {
    const expected = this.state;
    const headOp: WriteOp = { type: 'put', pk: this.pk, sk: HEAD_SK, data: next, ifVersion: expected.version };
    try {
      await this.options.store.transact([...ops, headOp]);
    } catch (error) {
      if (error instanceof ConflictError) {
        // Someone else advanced the head: re-read it so a retry chains onto theirs.
        const actual = await this.readHead().catch(() => undefined);
        if (actual) this.state = actual;
        throw new EvidenceConflictError(
          `the evidence head of chain ${this.pk} moved under this writer (expected entry ${expected.record.seq}, found ${actual?.record.seq ?? 'unknown'}): another writer appended; nothing was written, retry to chain onto the new head`,
          { expected: { seq: expected.record.seq, hash: expected.record.hash }, actual: actual ? { seq: actual.record.seq, hash: actual.record.hash } : undefined },
        );
      }
      // Unknown outcome (the store retries with a client token): re-read before the next append.
      const actual = await this.readHead().catch(() => undefined);
      if (actual) this.state = actual;
      if (error instanceof ArgusError) throw error;
      throw new EvidenceError(`cannot append evidence to ${this.pk}: ${error instanceof Error ? error.message : String(error)}`, { pk: this.pk }, { cause: error });
    }
    this.state = { record: next, version: expected.version === 'absent' ? 1 : expected.version + 1, lastCheckpoint };
  }

  private async sign(head: HeadRecord, now: number): Promise<{ checkpoint: Checkpoint; op: WriteOp }> {
    const { line, checkpoint } = await signCheckpoint(head, now, this.options.signer);
    const data: CheckpointData = { line };
    return { checkpoint, op: { type: 'put', pk: this.pk, sk: checkpointSk(checkpoint.n), data, ifVersion: 'absent' } };
  }

  private checkpointDue(seq: number, now: number): boolean {
    const unsigned = seq - this.state.lastCheckpoint.seq;
    return unsigned >= this.policy.entries || (unsigned > 0 && now - this.state.lastCheckpoint.at >= this.policy.ms);
  }

  private async readHead(): Promise<HeadState> {
    const item = await this.options.store.get<unknown>(this.pk, HEAD_SK);
    if (!item) return { record: EMPTY_HEAD_RECORD, version: 'absent', lastCheckpoint: { seq: 0, at: 0 } };
    const record = parseHeadRecord(JSON.stringify(item.data));
    if (!record) throw new EvidenceError(`the head item of ${this.pk} is not a valid head record; refusing to continue this chain (run verify)`, { pk: this.pk });
    let lastCheckpoint = { seq: 0, at: 0 };
    if (record.checkpoints.n > 0) {
      const cp = await this.options.store.get<unknown>(this.pk, checkpointSk(record.checkpoints.n));
      const parsed = cp ? parseCheckpointLine(lineOf(cp)) : undefined;
      if (!parsed?.ok || parsed.checkpoint.digest !== record.checkpoints.digest) {
        throw new EvidenceError(`checkpoint ${record.checkpoints.n} of ${this.pk} is not the one the head names; run verify`, { pk: this.pk, n: record.checkpoints.n });
      }
      lastCheckpoint = { seq: parsed.checkpoint.seq, at: parsed.checkpoint.at };
    }
    return { record, version: item.version, lastCheckpoint };
  }

  private async putOutputs(outputs: ReadonlyMap<string, string>): Promise<void> {
    for (const [hex, text] of outputs) {
      if (this.knownOutputs.has(hex)) continue;
      const body = Buffer.from(text, 'utf8');
      const input = {
        Bucket: this.options.bucket,
        Key: this.outputKey(hex),
        Body: body,
        ContentType: 'application/json',
        ChecksumSHA256: createHash('sha256').update(body).digest('base64'),
        IfNoneMatch: '*',
      };
      for (let attempt = 1; ; attempt++) {
        try {
          await this.options.s3.send(new PutObjectCommand(input));
          break;
        } catch (error) {
          const status = httpStatus(error);
          // Already stored: the key is the digest, so the existing object holds these bytes.
          if (status === 412 || errorName(error) === 'PreconditionFailed') break;
          // A concurrent conditional write of the same key is in flight (409 ConditionalRequestConflict): retry.
          if (status === 409 && attempt < 4) {
            await new Promise((r) => setTimeout(r, 50 * attempt));
            continue;
          }
          throw new EvidenceError(`cannot store evidence output ${input.Key} in ${this.options.bucket}: ${errorName(error)}`, { bucket: this.options.bucket, key: input.Key }, { cause: error });
        }
      }
      this.knownOutputs.add(hex);
    }
  }

  /** Bytes of each distinct output the committed entries name (undefined when the object is missing). */
  private async readOutputs(entryLines: readonly RawLine[], committed: number): Promise<Map<string, Uint8Array | undefined>> {
    const hexes = new Set<string>();
    for (const line of entryLines.slice(0, committed)) {
      const parsed = parseEntryLine(line.text);
      const digest = parsed.ok ? parsed.entry.result.evidenceDigest : undefined;
      if (digest !== undefined) hexes.add(digest.slice('sha256:'.length));
    }
    const out = new Map<string, Uint8Array | undefined>();
    const queue = [...hexes];
    const worker = async (): Promise<void> => {
      for (let hex = queue.pop(); hex !== undefined; hex = queue.pop()) out.set(hex, await this.getOutput(hex));
    };
    await Promise.all(Array.from({ length: Math.min(OUTPUT_READ_CONCURRENCY, queue.length) }, worker));
    return out;
  }

  private async getOutput(hex: string): Promise<Uint8Array | undefined> {
    const key = this.outputKey(hex);
    try {
      const res = await this.options.s3.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }));
      return res.Body ? await res.Body.transformToByteArray() : new Uint8Array();
    } catch (error) {
      if (errorName(error) === 'NoSuchKey' || httpStatus(error) === 404) return undefined;
      throw new EvidenceError(`cannot read evidence output ${key} from ${this.options.bucket}: ${errorName(error)}`, { bucket: this.options.bucket, key }, { cause: error });
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new EvidenceError('evidence ledger is closed', { pk: this.pk });
  }

  private serialise<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

function lineOf(item: StoredItem<unknown>): string {
  const data = item.data;
  return typeof data === 'object' && data !== null && typeof (data as { line?: unknown }).line === 'string' ? (data as { line: string }).line : '';
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : String(error);
}

function httpStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const meta = (error as { $metadata?: { httpStatusCode?: unknown } }).$metadata;
  return typeof meta?.httpStatusCode === 'number' ? meta.httpStatusCode : undefined;
}
