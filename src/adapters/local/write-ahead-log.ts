/**
 * The append-only write-ahead log: one JSON line per group of transactions committed together,
 * the transaction's entry or, for several, an array of their entries. Each line is appended with
 * one vectored write to a file opened with O_DSYNC, so that write and sync are one job off the
 * main thread, done before the group becomes visible. A crash can only tear the last line (even
 * a power cut that kept some of its pages and not others), which replay drops with its whole
 * group; anything unreadable before it is corruption.
 */
import fs from 'node:fs';
import path from 'node:path';
import { StoreError } from '#core/errors.ts';
import { errnoCode, fsyncDir, writevFully } from './durable-file.ts';
import { corruptLine, readLines, type Line } from './line-reader.ts';

/** A write as the log records it: its effect, not its condition (replay re-checks nothing). */
export type WalOp = readonly ['put', string, string, unknown] | readonly ['del', string, string];

export interface WalEntry {
  /** Transaction number, +1 per entry; replay skips entries the snapshot already holds. */
  readonly tx: number;
  /** Last change-record sequence number after this transaction (one record per op). */
  readonly seq: number;
  /** Commit time, epoch milliseconds. */
  readonly t: number;
  readonly token?: string;
  /** Fingerprint of the request behind `token`, to refuse a token reused for other writes. */
  readonly fp?: string;
  readonly ops: readonly WalOp[];
}

export interface ReplayResult {
  /** Bytes of torn tail removed from the end of the log (0 when it ended cleanly or `repair` was off). */
  readonly truncatedBytes: number;
}

export interface ReplayOptions {
  /**
   * Cut a torn last line away. Off for a reader beside a live writer: its last line may be an
   * append still in progress, skipped and left as it is.
   * @default true
   */
  readonly repair?: boolean;
}

/**
 * Calls `onEntry` for every entry in order, removing a torn last line from the file (unless
 * `repair` is off). Throws StoreError naming the file and line for an unreadable line that is
 * not the last.
 */
export function replayWal(file: string, onEntry: (entry: WalEntry, line: Line) => void, options: ReplayOptions = {}): ReplayResult {
  if (!fs.existsSync(file)) return { truncatedBytes: 0 };
  // An unparsable line is a torn write only if nothing follows it; hold it until we know.
  let unparsable: { line: Line; cause: unknown } | undefined;
  let tornAt: number | undefined;
  for (const line of readLines(file)) {
    if (unparsable) throw corruptLine(file, unparsable.line, unparsable.cause);
    if (!line.terminated) {
      tornAt = line.start;
      break;
    }
    let json: unknown;
    try {
      json = JSON.parse(line.text);
    } catch (cause) {
      unparsable = { line, cause };
      continue;
    }
    const entries: unknown[] = Array.isArray(json) ? json : [json];
    for (const entry of entries) onEntry(toWalEntry(file, line, entry), line);
  }
  if (unparsable) tornAt = unparsable.line.start;
  if (tornAt === undefined || options.repair === false) return { truncatedBytes: 0 };
  const size = fs.statSync(file).size;
  truncateDurably(file, tornAt);
  return { truncatedBytes: size - tornAt };
}

/**
 * Appending, and with syncing on also O_DSYNC: each write returns once its data is on disk, as if
 * followed by `fdatasync`, with no hop back to the (busy) main thread in between.
 */
const SYNCED_APPEND = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND | fs.constants.O_DSYNC;
const NEWLINE = Buffer.from('\n', 'utf8');
const GROUP_OPEN = Buffer.from('[', 'utf8');
const GROUP_SEPARATOR = Buffer.from(',', 'utf8');
const GROUP_CLOSE = Buffer.from(']\n', 'utf8');

/** The open log, appending. */
export class WriteAheadLog {
  private bytes: number;
  /** Set after a failed sync, or a failed write that could not be cut away: what is on disk is unknown, so no more appends. */
  private failure: StoreError | undefined;

  private constructor(
    readonly file: string,
    private readonly fd: number,
    private readonly fsync: boolean,
  ) {
    this.bytes = fs.fstatSync(fd).size;
  }

  static open(file: string, fsync: boolean): WriteAheadLog {
    const existed = fs.existsSync(file);
    const fd = fs.openSync(file, fsync ? SYNCED_APPEND : 'a');
    if (!existed && fsync) fsyncDir(path.dirname(file));
    return new WriteAheadLog(file, fd, fsync);
  }

  get size(): number {
    return this.bytes;
  }

  /**
   * Appends the entries (each the UTF-8 JSON text of a WalEntry) as one line, with one vectored
   * write: framed there, not by joining strings, which would copy every entry. Durable once it
   * resolves when syncing is on. The caller waits for each append before the next, a reset or a
   * close.
   */
  async append(entries: readonly Buffer[]): Promise<void> {
    if (this.failure) throw this.failure;
    if (entries.length === 0) return;
    const buffers = entries.length === 1 ? [entries[0] as Buffer, NEWLINE] : groupLine(entries);
    try {
      await writevFully(this.fd, buffers);
    } catch (cause) {
      throw this.afterFailedWrite(cause);
    }
    for (const buffer of buffers) this.bytes += buffer.length;
  }

  /**
   * Without syncing, a partial line is cut away so the next append does not land after garbage.
   * With syncing the sync is part of the write, and after a failed sync the kernel may have
   * dropped the pages: what is on disk is unknown, so no more appends.
   */
  private afterFailedWrite(cause: unknown): StoreError {
    if (!this.fsync && this.cutBack()) {
      return new StoreError(`cannot append to write-ahead log: ${errnoCode(cause) ?? String(cause)}`, { file: this.file }, { cause });
    }
    this.failure = new StoreError('write-ahead log is in an unknown state after a failed write; reopen the store (the transactions being written may or may not be committed)', { file: this.file }, { cause });
    return this.failure;
  }

  /** Truncates the log back to its last complete line; false when that fails. */
  private cutBack(): boolean {
    try {
      fs.ftruncateSync(this.fd, this.bytes);
      return true;
    } catch {
      return false;
    }
  }

  /** Empties the log once a snapshot holds everything in it. */
  reset(): void {
    if (this.failure) throw this.failure;
    fs.ftruncateSync(this.fd, 0);
    if (this.fsync) fs.fsyncSync(this.fd);
    this.bytes = 0;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/** `[entry,entry,...]\n`, as buffers to write in order. */
function groupLine(entries: readonly Buffer[]): Buffer[] {
  const buffers: Buffer[] = [GROUP_OPEN];
  for (const entry of entries) {
    if (buffers.length > 1) buffers.push(GROUP_SEPARATOR);
    buffers.push(entry);
  }
  buffers.push(GROUP_CLOSE);
  return buffers;
}

function truncateDurably(file: string, size: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.ftruncateSync(fd, size);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function toWalEntry(file: string, line: Line, json: unknown): WalEntry {
  const bad = (reason: string): StoreError => corruptLine(file, line, new Error(reason), 'malformed');
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('not an object');
  const entry = json as Record<string, unknown>;
  if (!isCount(entry.tx) || !isCount(entry.seq) || typeof entry.t !== 'number') throw bad('tx, seq or t missing');
  if (entry.token !== undefined && typeof entry.token !== 'string') throw bad('token is not a string');
  if (entry.fp !== undefined && typeof entry.fp !== 'string') throw bad('fp is not a string');
  if (!Array.isArray(entry.ops)) throw bad('ops is not an array');
  for (const op of entry.ops as unknown[]) {
    if (!isWalOp(op)) throw bad('an op is not ["put", pk, sk, data] or ["del", pk, sk]');
  }
  return json as WalEntry;
}

function isWalOp(op: unknown): op is WalOp {
  if (!Array.isArray(op) || typeof op[1] !== 'string' || typeof op[2] !== 'string') return false;
  return (op[0] === 'put' && op.length === 4) || (op[0] === 'del' && op.length === 3);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
