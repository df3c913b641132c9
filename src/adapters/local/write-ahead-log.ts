/**
 * The append-only write-ahead log: one JSON line per committed transaction, written with one
 * `write` and made durable with `fdatasync` before the transaction becomes visible. A crash can
 * only tear the last line, which replay drops; anything unreadable before it is corruption.
 */
import fs from 'node:fs';
import path from 'node:path';
import { StoreError } from '#core/errors.ts';
import { errnoCode, fsyncDir, writeFully } from './durable-file.ts';
import { corruptLine, readLines, type Line } from './line-reader.ts';

/** A write as the log records it: its effect, not its condition (replay re-checks nothing). */
export type WalOp = readonly ['put', string, string, unknown] | readonly ['del', string, string];

export interface WalEntry {
  /** Transaction number, +1 per line; replay skips lines the snapshot already holds. */
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
  /** Bytes of torn tail removed from the end of the log (0 when it ended cleanly). */
  readonly truncatedBytes: number;
}

/**
 * Calls `onEntry` for every entry in order, removing a torn last line from the file.
 * Throws StoreError naming the file and line for an unreadable line that is not the last.
 */
export function replayWal(file: string, onEntry: (entry: WalEntry, line: Line) => void): ReplayResult {
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
    onEntry(toWalEntry(file, line, json), line);
  }
  if (unparsable) tornAt = unparsable.line.start;
  if (tornAt === undefined) return { truncatedBytes: 0 };
  const size = fs.statSync(file).size;
  truncateDurably(file, tornAt);
  return { truncatedBytes: size - tornAt };
}

/** The open log, appending. */
export class WriteAheadLog {
  private bytes: number;
  /** Set when a write or sync failed: what is on disk is unknown, so no more appends. */
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
    const fd = fs.openSync(file, 'a');
    if (!existed && fsync) fsyncDir(path.dirname(file));
    return new WriteAheadLog(file, fd, fsync);
  }

  get size(): number {
    return this.bytes;
  }

  /** Appends one line (no newline in `line`) and makes it durable. */
  append(line: string): void {
    if (this.failure) throw this.failure;
    const buf = Buffer.from(`${line}\n`, 'utf8');
    try {
      writeFully(this.fd, buf);
    } catch (cause) {
      // Cut a partial line away so the next append does not land after garbage.
      try {
        fs.ftruncateSync(this.fd, this.bytes);
      } catch {
        this.failure = new StoreError('write-ahead log is in an unknown state after a failed write; reopen the store', { file: this.file }, { cause });
      }
      throw new StoreError(`cannot append to write-ahead log: ${errnoCode(cause) ?? String(cause)}`, { file: this.file }, { cause });
    }
    this.bytes += buf.length;
    if (!this.fsync) return;
    try {
      fs.fdatasyncSync(this.fd);
    } catch (cause) {
      // After a failed fsync the kernel may have dropped the pages: the outcome is unknown.
      this.failure = new StoreError('write-ahead log sync failed; reopen the store (the last transaction may or may not be committed)', { file: this.file }, { cause });
      throw this.failure;
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
