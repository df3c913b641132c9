/**
 * The local evidence ledger: files under `<home>/evidence/`.
 *
 * - `ledger.jsonl`: one hash-chained entry per line (see core/evidence/chain.ts), append-only.
 * - `outputs/<2 hex>/<sha256 hex>.json`: each distinct provider output, named by the digest of
 *   its bytes (content addressed, so identical outputs are stored once).
 * - `checkpoints.jsonl`: signed statements of the head, each chained to the one before.
 * - `head.json`: the commit point: how many entries and checkpoints are committed, their last
 *   hashes and the byte length of both files. It is replaced atomically (temp file, fsync,
 *   rename, directory fsync) and only after checking that it still says what this writer last
 *   wrote, so a second writer cannot fork the chain; the directory's `LOCK` (one writer per
 *   directory, as for the store) makes that check-then-replace atomic across processes.
 * - `signing-key.pem` / `public-key.pem`: the local Ed25519 key pair.
 *
 * Crash safety: outputs are durable before the entries naming them, entries before the head
 * that commits them. Lines past the committed head (a torn last line, or whole lines whose head
 * was never written) are cut off on open; a ledger shorter than its head, or whose last
 * committed line is not the one the head names, refuses to open rather than continue a damaged
 * chain.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  EMPTY_HEAD_RECORD,
  parseCheckpointLine,
  parseEntryLine,
  parseHeadRecord,
  signCheckpoint,
  type ChainHead,
  type Checkpoint,
  type HeadRecord,
} from '#core/evidence/chain.ts';
import { EvidenceConflictError, EvidenceError } from '#core/evidence/evidence-error.ts';
import { verifyLedger, type VerifyReport } from '#core/evidence/verify.ts';
import { systemClock, type Clock } from '#core/ports/clock.ts';
import type { AppendReceipt, EvidenceLedger, EvidenceRecord, EvidenceSigner, ResourceRunsEvidence } from '#core/ports/evidence-ledger.ts';
import { DirLock } from './dir-lock.ts';
import { errnoCode, fsyncDir, fsyncDirAsync, writevFully } from './durable-file.ts';
import { Ed25519Signer, PUBLIC_KEY_FILE, PublicKeyVerifier } from './evidence-signer.ts';
import { readLines } from './line-reader.ts';
import { EntryLineWriter, type WrittenLines } from '../../core/evidence/entry-lines.ts';
import { collectOutputs, collectRunOutputs } from '../../core/evidence/outputs.ts';

export const EVIDENCE_DIR = 'evidence';
export const LEDGER_FILE = 'ledger.jsonl';
export const CHECKPOINTS_FILE = 'checkpoints.jsonl';
export const HEAD_FILE = 'head.json';
export const OUTPUTS_DIR = 'outputs';

export interface CheckpointPolicy {
  /** Sign once this many entries are unsigned. @default 10000 */
  readonly entries?: number;
  /** Sign at the next append once the last checkpoint is this old (ms). @default 300000 */
  readonly ms?: number;
}

export interface LocalEvidenceLedgerOptions {
  /** The evidence directory (e.g. `<home>/evidence`); created when missing. */
  readonly dir: string;
  /** @default the Ed25519 key pair in `dir`, created on first use */
  readonly signer?: EvidenceSigner;
  /** @default true */
  readonly fsync?: boolean;
  /** @default systemClock */
  readonly clock?: Clock;
  /** When the head is signed; it is always signed on close and after a crash on open. */
  readonly checkpointEvery?: CheckpointPolicy;
}

/** The path of a stored output, relative to the evidence directory. */
export function outputPath(hex: string): string {
  return `${OUTPUTS_DIR}/${hex.slice(0, 2)}/${hex}.json`;
}

/**
 * Appending, and with syncing on also O_DSYNC: each write returns once its data is on disk, as if
 * followed by `fdatasync`, so write and sync are one job on libuv's thread pool, off the main thread
 * (as for the store's write-ahead log).
 */
const SYNCED_APPEND = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND | fs.constants.O_DSYNC;
/** The head's and the outputs' temp files, written whole and, with syncing on, synced by the same write. */
const SYNCED_REPLACE = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_DSYNC;
/** Output files written at once: enough to keep the thread pool's four threads busy. */
const OUTPUT_WRITES_IN_FLIGHT = 8;

interface LastCheckpoint {
  readonly seq: number;
  readonly at: number;
}

export class LocalEvidenceLedger implements EvidenceLedger {
  private queue: Promise<unknown> = Promise.resolve();
  private failure: EvidenceError | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly knownOutputs = new Set<string>();
  private readonly entryLines = new EntryLineWriter();
  private lastSigned: Checkpoint | undefined;

  private constructor(
    readonly dir: string,
    private readonly lock: DirLock,
    private readonly ledgerFd: number,
    private readonly checkpointsFd: number,
    private headRecord: HeadRecord,
    private lastCheckpoint: LastCheckpoint,
    private readonly signer: EvidenceSigner,
    private readonly fsync: boolean,
    private readonly clock: Clock,
    private readonly policy: Required<CheckpointPolicy>,
    /** Bytes cut from the ends of the files on open (torn or uncommitted lines). */
    readonly repairedBytes: number,
  ) {}

  static async open(options: LocalEvidenceLedgerOptions): Promise<LocalEvidenceLedger> {
    const dir = path.resolve(options.dir);
    try {
      fs.mkdirSync(path.join(dir, OUTPUTS_DIR), { recursive: true });
    } catch (cause) {
      throw new EvidenceError(`cannot create evidence directory ${dir}`, { dir }, { cause });
    }
    const lock = DirLock.acquire(dir);
    const fds: number[] = [];
    try {
      const fsync = options.fsync ?? true;
      const head = readHead(dir);
      let repaired = repairFile(path.join(dir, LEDGER_FILE), head.bytes, 'entries');
      repaired += repairFile(path.join(dir, CHECKPOINTS_FILE), head.checkpoints.bytes, 'checkpoints');
      checkLastEntry(dir, head);
      const lastCheckpoint = checkLastCheckpoint(dir, head);
      const appendFlags = fsync ? SYNCED_APPEND : 'a';
      const ledgerFd = fs.openSync(path.join(dir, LEDGER_FILE), appendFlags);
      fds.push(ledgerFd);
      const checkpointsFd = fs.openSync(path.join(dir, CHECKPOINTS_FILE), appendFlags);
      fds.push(checkpointsFd);
      if (fsync) fsyncDir(dir);
      const signer = options.signer ?? Ed25519Signer.loadOrCreate(dir);
      const policy = { entries: options.checkpointEvery?.entries ?? 10_000, ms: options.checkpointEvery?.ms ?? 300_000 };
      const ledger = new LocalEvidenceLedger(dir, lock, ledgerFd, checkpointsFd, head, lastCheckpoint, signer, fsync, options.clock ?? systemClock, policy, repaired);
      // A crash may have left committed entries unsigned: sign them now.
      if (head.seq > lastCheckpoint.seq) await ledger.checkpoint();
      return ledger;
    } catch (error) {
      for (const fd of fds) fs.closeSync(fd);
      lock.release();
      if (error instanceof EvidenceError) throw error;
      throw new EvidenceError(`cannot open evidence ledger in ${dir}: ${error instanceof Error ? error.message : String(error)}`, { dir }, { cause: error });
    }
  }

  async head(): Promise<ChainHead> {
    return { seq: this.headRecord.seq, hash: this.headRecord.hash };
  }

  appendBatch(records: readonly EvidenceRecord[]): Promise<AppendReceipt> {
    return this.append(records.length, () => collectOutputs(records), (now) => this.entryLines.write(this.headRecord, records.map((r) => r.result), now));
  }

  appendRuns(batch: readonly ResourceRunsEvidence[]): Promise<AppendReceipt> {
    let count = 0;
    for (const resource of batch) count += resource.runs.length;
    return this.append(count, () => collectRunOutputs(batch), (now) => this.entryLines.writeRuns(this.headRecord, batch, now));
  }

  /** Appends `count` entries: their outputs (checked against their digests first), their lines, then the head. */
  private append(count: number, outputsOf: () => Map<string, string>, linesAt: (now: number) => WrittenLines): Promise<AppendReceipt> {
    return this.serialise(async () => {
      this.assertUsable();
      const firstSeq = this.headRecord.seq + 1;
      if (count === 0) return { firstSeq, head: await this.head() };
      this.assertHeadUnchanged();
      const outputs = outputsOf();
      const now = this.clock.now();
      const chained = linesAt(now);
      return this.guard(async () => {
        await this.writeOutputs(outputs);
        // The only large write: done (and synced) on the thread pool while the main thread works on.
        const bytes = await this.appendBytes(this.ledgerFd, chained.chunks);
        let next: HeadRecord = { ...this.headRecord, seq: chained.head.seq, hash: chained.head.hash, bytes: this.headRecord.bytes + bytes, at: now };
        if (this.checkpointDue(next.seq, now)) next = await this.appendCheckpoint(next, now);
        await this.writeHead(next);
        return { firstSeq, head: chained.head };
      });
    });
  }

  checkpoint(): Promise<Checkpoint | undefined> {
    return this.serialise(() => this.checkpointNow());
  }

  /** Verifies this ledger with the public key in its directory. */
  async verify(): Promise<VerifyReport> {
    await this.queue.catch(() => undefined);
    return verifyLocalEvidence(this.dir);
  }

  /**
   * Waits for the appends already called (their writes run off the main thread, so the files must
   * stay open until they finish), signs an unsigned head, then releases the ledger. Appends called
   * after it are refused.
   */
  close(): Promise<void> {
    // A second close finds the ledger closed, as the first left it even when its signing failed.
    if (this.closing) return this.closing.catch(() => undefined);
    this.closing = this.serialise(async () => {
      if (this.closed) return;
      try {
        if (!this.failure && this.headRecord.seq > this.lastCheckpoint.seq) await this.checkpointNow();
      } finally {
        this.closed = true;
        fs.closeSync(this.ledgerFd);
        fs.closeSync(this.checkpointsFd);
        this.lock.release();
      }
    });
    return this.closing;
  }

  /** Signs the head now; call it only from inside `serialise`. */
  private async checkpointNow(): Promise<Checkpoint | undefined> {
    this.assertUsable();
    if (this.headRecord.seq <= this.lastCheckpoint.seq) return undefined;
    this.assertHeadUnchanged();
    return this.guard(async () => {
      const now = this.clock.now();
      const next = await this.appendCheckpoint(this.headRecord, now);
      await this.writeHead(next);
      return this.lastSigned;
    });
  }

  private serialise<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Any failure after the first write leaves the files in an unknown state: no more appends until reopened. */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      this.failure = new EvidenceError('evidence ledger is in an unknown state after a failed write; reopen it (uncommitted lines are removed on open)', { dir: this.dir }, { cause: error });
      throw error instanceof EvidenceError ? error : new EvidenceError(`cannot append evidence: ${error instanceof Error ? error.message : String(error)}`, { dir: this.dir }, { cause: error });
    }
  }

  private assertUsable(): void {
    if (this.closed) throw new EvidenceError('evidence ledger is closed', { dir: this.dir });
    if (this.failure) throw this.failure;
  }

  /** The conditional part of the head advance: the head on disk must be the one this writer last wrote. */
  private assertHeadUnchanged(): void {
    const file = path.join(this.dir, HEAD_FILE);
    const onDisk = readHead(this.dir);
    const mine = this.headRecord;
    if (onDisk.seq !== mine.seq || onDisk.hash !== mine.hash || onDisk.checkpoints.n !== mine.checkpoints.n || onDisk.checkpoints.digest !== mine.checkpoints.digest) {
      throw new EvidenceConflictError(`the evidence head moved under this writer (expected entry ${mine.seq}, found ${onDisk.seq}): another writer appended; reopen the ledger`, {
        expected: { seq: mine.seq, hash: mine.hash },
        actual: { seq: onDisk.seq, hash: onDisk.hash },
        file,
      });
    }
  }

  private checkpointDue(seq: number, now: number): boolean {
    const unsigned = seq - this.lastCheckpoint.seq;
    return unsigned >= this.policy.entries || (unsigned > 0 && now - this.lastCheckpoint.at >= this.policy.ms);
  }

  private async appendCheckpoint(head: HeadRecord, now: number): Promise<HeadRecord> {
    const { line, checkpoint } = await signCheckpoint(head, now, this.signer);
    const bytes = await this.appendLines(this.checkpointsFd, [line]);
    this.lastCheckpoint = { seq: head.seq, at: now };
    this.lastSigned = checkpoint;
    return { ...head, checkpoints: { n: checkpoint.n, digest: checkpoint.digest, bytes: head.checkpoints.bytes + bytes } };
  }

  /**
   * Stores the outputs not stored yet, each durably under its digest (temp file, synced write,
   * rename), several at once on the thread pool, then syncs their directories: a provider whose
   * every run has its own output (an HTTP body, a command's report) costs no main-thread I/O.
   */
  private async writeOutputs(outputs: ReadonlyMap<string, string>): Promise<void> {
    const fresh: Array<{ readonly hex: string; readonly file: string; readonly bytes: string }> = [];
    for (const [hex, bytes] of outputs) {
      if (this.knownOutputs.has(hex)) continue;
      const file = path.join(this.dir, outputPath(hex));
      if (fs.existsSync(file)) this.knownOutputs.add(hex);
      else fresh.push({ hex, file, bytes });
    }
    if (fresh.length === 0) return;
    const dirs = new Set(fresh.map((o) => path.dirname(o.file)));
    await Promise.all([...dirs].map((dir) => fs.promises.mkdir(dir, { recursive: true })));
    const queue = [...fresh];
    const writer = async (): Promise<void> => {
      for (let next = queue.pop(); next !== undefined; next = queue.pop()) await this.writeOutputFile(next.file, next.bytes);
    };
    await Promise.all(Array.from({ length: Math.min(OUTPUT_WRITES_IN_FLIGHT, fresh.length) }, writer));
    if (this.fsync) await Promise.all([...dirs].map((dir) => fsyncDirAsync(dir)));
    for (const o of fresh) this.knownOutputs.add(o.hex);
  }

  private async writeOutputFile(file: string, bytes: string): Promise<void> {
    const tmp = `${file}.tmp`;
    const handle = await fs.promises.open(tmp, this.fsync ? SYNCED_REPLACE : 'w');
    try {
      await handle.writeFile(bytes, 'utf8');
    } finally {
      await handle.close();
    }
    await fs.promises.rename(tmp, file);
  }

  /**
   * Appends lines with one vectored write on the thread pool, synced by the file's O_DSYNC when
   * syncing is on; resolves with the bytes written once they are durable. Only one runs at a time
   * (callers are inside `serialise`), so lines land in call order.
   */
  private async appendLines(fd: number, lines: readonly string[]): Promise<number> {
    return this.appendBytes(fd, [Buffer.from(`${lines.join('\n')}\n`, 'utf8')]);
  }

  /** `appendLines` for lines already written as bytes (each ended by its newline). */
  private async appendBytes(fd: number, chunks: readonly Buffer[]): Promise<number> {
    await writevFully(fd, chunks);
    let bytes = 0;
    for (const chunk of chunks) bytes += chunk.length;
    return bytes;
  }

  /**
   * Replaces the head: the temp file durable (its O_DSYNC write, on the thread pool), then renamed
   * over the head, then the directory synced (on the thread pool too); only then is it this
   * writer's head.
   */
  private async writeHead(next: HeadRecord): Promise<void> {
    const file = path.join(this.dir, HEAD_FILE);
    const tmp = `${file}.tmp`;
    // All on the thread pool (opening with O_TRUNC and O_DSYNC took 0.2 ms of the main thread):
    // a reconcile writes the head once per batch, while it runs the next one.
    const handle = await fs.promises.open(tmp, this.fsync ? SYNCED_REPLACE : 'w');
    try {
      await handle.writeFile(`${JSON.stringify(next)}\n`, 'utf8');
    } finally {
      await handle.close();
    }
    await fs.promises.rename(tmp, file);
    if (this.fsync) await fsyncDirAsync(this.dir);
    this.headRecord = next;
  }
}

function readHead(dir: string): HeadRecord {
  const file = path.join(dir, HEAD_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw new EvidenceError(`cannot read ${file}`, { file }, { cause: error });
    // No head yet: only an empty ledger may lack one.
    for (const name of [LEDGER_FILE, CHECKPOINTS_FILE]) {
      if (fileSize(path.join(dir, name)) > 0) {
        throw new EvidenceError(`${path.join(dir, name)} has content but ${file} is missing: cannot tell what was committed; refusing to continue this chain`, { file });
      }
    }
    return EMPTY_HEAD_RECORD;
  }
  const head = parseHeadRecord(text);
  if (!head) throw new EvidenceError(`${file} is not a valid head record; refusing to continue this chain`, { file });
  return head;
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return 0;
    throw error;
  }
}

/** Cuts lines past the committed length; a file shorter than it is damage, never repaired. */
function repairFile(file: string, committed: number, what: string): number {
  const size = fileSize(file);
  if (size < committed) {
    throw new EvidenceError(`${file} holds ${size} bytes but ${committed} bytes of ${what} were committed: it was truncated; run \`argus evidence verify\``, { file, size, committed });
  }
  if (size === committed) return 0;
  const fd = fs.openSync(file, 'r+');
  try {
    fs.ftruncateSync(fd, committed);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return size - committed;
}

/** The line that ends at byte `end` (exclusive of its newline at `end - 1`). */
function lineEndingAt(file: string, end: number): string {
  const fd = fs.openSync(file, 'r');
  try {
    const chunks: Buffer[] = [];
    let pos = end - 1; // the newline
    const step = 64 * 1024;
    for (;;) {
      const from = Math.max(0, pos - step);
      const buf = Buffer.alloc(pos - from);
      fs.readSync(fd, buf, 0, buf.length, from);
      const nl = buf.lastIndexOf(0x0a);
      if (nl !== -1) {
        chunks.unshift(buf.subarray(nl + 1));
        break;
      }
      chunks.unshift(buf);
      if (from === 0) break;
      pos = from;
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

function checkLastEntry(dir: string, head: HeadRecord): void {
  if (head.seq === 0) return;
  const file = path.join(dir, LEDGER_FILE);
  const parsed = parseEntryLine(lineEndingAt(file, head.bytes));
  if (!parsed.ok || parsed.entry.seq !== head.seq || parsed.storedHash !== head.hash || parsed.actualHash !== head.hash) {
    throw new EvidenceError(`the last committed entry of ${file} is not entry ${head.seq} with the hash the head names: the ledger was changed; run \`argus evidence verify\``, { file, seq: head.seq });
  }
}

function checkLastCheckpoint(dir: string, head: HeadRecord): LastCheckpoint {
  if (head.checkpoints.n === 0) return { seq: 0, at: 0 };
  const file = path.join(dir, CHECKPOINTS_FILE);
  const parsed = parseCheckpointLine(lineEndingAt(file, head.checkpoints.bytes));
  if (!parsed.ok || parsed.checkpoint.n !== head.checkpoints.n || parsed.checkpoint.digest !== head.checkpoints.digest) {
    throw new EvidenceError(`the last committed checkpoint of ${file} is not the one the head names; run \`argus evidence verify\``, { file, n: head.checkpoints.n });
  }
  return { seq: parsed.checkpoint.seq, at: parsed.checkpoint.at };
}

/**
 * The ledger entry of each (resource, attestation, executedAt) in a committed ledger, for linking
 * exported observations to their entries. Reads the whole ledger (about a second per 100,000 entries).
 */
export function indexLedgerEntries(dir: string): Map<string, { seq: number; hash: string }> {
  const out = new Map<string, { seq: number; hash: string }>();
  const root = path.resolve(dir);
  let head: HeadRecord;
  try {
    head = readHead(root);
  } catch {
    return out;
  }
  const file = path.join(root, LEDGER_FILE);
  if (head.seq === 0 || !fs.existsSync(file)) return out;
  for (const line of readLines(file)) {
    if (line.number > head.seq || !line.terminated) break;
    const parsed = parseEntryLine(line.text);
    if (!parsed.ok) continue;
    const r = parsed.entry.result;
    out.set(ledgerKey(r), { seq: parsed.entry.seq, hash: parsed.storedHash });
  }
  return out;
}

export function ledgerKey(result: { readonly resource: string; readonly attestation: string; readonly executedAt: number }): string {
  return `${result.resource}\u0000${result.attestation}\u0000${result.executedAt}`;
}

export interface VerifyLocalOptions {
  /**
   * Trusted public keys (PEM). Pin the key this way to catch a ledger re-signed with a new key.
   * @default the `public-key.pem` in the evidence directory
   */
  readonly publicKeys?: readonly string[];
}

/**
 * Verifies an evidence directory read only, without taking its lock (safe beside a running
 * writer: lines past the committed head are counted, not judged).
 */
export async function verifyLocalEvidence(dir: string, options: VerifyLocalOptions = {}): Promise<VerifyReport> {
  const root = path.resolve(dir);
  let head: HeadRecord | undefined;
  try {
    head = readHead(root);
  } catch (error) {
    if (!(error instanceof EvidenceError)) throw error;
    head = undefined;
  }
  let keys = options.publicKeys;
  if (!keys) {
    const file = path.join(root, PUBLIC_KEY_FILE);
    keys = fs.existsSync(file) ? [fs.readFileSync(file, 'utf8')] : [];
  }
  const lines = (name: string) => {
    const file = path.join(root, name);
    return fs.existsSync(file) ? readLines(file) : [];
  };
  return verifyLedger(
    {
      head,
      entryLines: lines(LEDGER_FILE),
      checkpointLines: lines(CHECKPOINTS_FILE),
      readOutput(hex) {
        try {
          return fs.readFileSync(path.join(root, outputPath(hex)));
        } catch (error) {
          if (errnoCode(error) === 'ENOENT') return undefined;
          throw error;
        }
      },
    },
    new PublicKeyVerifier(keys),
  );
}
