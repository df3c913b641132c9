/**
 * The snapshot: the whole state as JSON lines, a header line then lines of up to 1,000 items
 * each (one JSON.parse per batch loads far faster than one per item), written streamed (millions
 * of items never become one string) to a temporary file that is synced and renamed over the
 * previous snapshot, so a crash leaves either the old or the new one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { StoreError } from '#core/errors.ts';
import { fsyncDir, writeFully } from './durable-file.ts';
import { corruptLine, readLines } from './line-reader.ts';

export const SNAPSHOT_FILE = 'snapshot.jsonl';
const TMP_SUFFIX = '.tmp';
const FORMAT = 1;
const ITEMS_PER_LINE = 1000;
/** Lines are gathered into writes of about this many characters. */
const WRITE_BATCH_CHARS = 1024 * 1024;

export interface SnapshotHeader {
  readonly format: number;
  /** Last transaction the snapshot includes; the log's lines up to it are already in. */
  readonly tx: number;
  /** Last change-record sequence number issued. */
  readonly seq: number;
  readonly count: number;
  /** Remembered client tokens, oldest first: [token, fingerprint, sequenceNumber]. */
  readonly tokens: readonly (readonly [string, string, string])[];
}

/** One item: [pk, sk, version, data]. */
export type SnapshotItem = readonly [string, string, number, unknown];

/** Writes the snapshot durably (temp file, fsync, rename); returns its size in bytes. */
export function writeSnapshot(dir: string, header: Omit<SnapshotHeader, 'format'>, items: Iterable<SnapshotItem>, fsync: boolean): number {
  const file = path.join(dir, SNAPSHOT_FILE);
  const tmp = file + TMP_SUFFIX;
  const fd = fs.openSync(tmp, 'w');
  let bytes = 0;
  try {
    let text = `${JSON.stringify({ format: FORMAT, ...header })}\n`;
    let line: SnapshotItem[] = [];
    let written = 0;
    const flushLine = (): void => {
      text += `${JSON.stringify(line)}\n`;
      written += line.length;
      line = [];
      if (text.length >= WRITE_BATCH_CHARS) {
        bytes += writeText(fd, text);
        text = '';
      }
    };
    for (const item of items) {
      line.push(item);
      if (line.length === ITEMS_PER_LINE) flushLine();
    }
    if (line.length > 0) flushLine();
    bytes += writeText(fd, text);
    if (written !== header.count) throw new StoreError('snapshot item count changed while writing', { file: tmp, expected: header.count, written });
    if (fsync) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  if (fsync) fsyncDir(dir);
  return bytes;
}

function writeText(fd: number, text: string): number {
  const buf = Buffer.from(text, 'utf8');
  writeFully(fd, buf);
  return buf.length;
}

/** Removes a temporary snapshot a crash left behind mid-write. */
export function removeSnapshotLeftover(dir: string): void {
  fs.rmSync(path.join(dir, SNAPSHOT_FILE + TMP_SUFFIX), { force: true });
}

/** Reads the snapshot, if any; returns its header (undefined when there is no snapshot). */
export function readSnapshot(dir: string, onItem: (item: SnapshotItem) => void): SnapshotHeader | undefined {
  const file = path.join(dir, SNAPSHOT_FILE);
  if (!fs.existsSync(file)) return undefined;
  let header: SnapshotHeader | undefined;
  let count = 0;
  for (const line of readLines(file)) {
    // The snapshot was synced before its rename: unlike the log, no line may be torn.
    if (!line.terminated) throw corruptLine(file, line, new Error('no trailing newline'), 'truncated');
    let json: unknown;
    try {
      json = JSON.parse(line.text);
    } catch (cause) {
      throw corruptLine(file, line, cause);
    }
    if (header === undefined) {
      if (!isHeader(json)) throw corruptLine(file, line, new Error(`not a format ${FORMAT} snapshot header`), 'malformed');
      header = json;
      continue;
    }
    if (!Array.isArray(json) || !json.every(isItem)) throw corruptLine(file, line, new Error('not a list of [pk, sk, version, data]'), 'malformed');
    for (const item of json as SnapshotItem[]) onItem(item);
    count += json.length;
  }
  if (header === undefined) throw new StoreError(`${file}: empty snapshot`, { file });
  if (count !== header.count) throw new StoreError(`${file}: snapshot holds ${count} items, its header says ${header.count}`, { file, expected: header.count, actual: count });
  return header;
}

function isHeader(json: unknown): json is SnapshotHeader {
  if (typeof json !== 'object' || json === null) return false;
  const h = json as Record<string, unknown>;
  return (
    h.format === FORMAT &&
    Number.isSafeInteger(h.tx) &&
    Number.isSafeInteger(h.seq) &&
    Number.isSafeInteger(h.count) &&
    Array.isArray(h.tokens) &&
    (h.tokens as unknown[]).every((t) => Array.isArray(t) && t.length === 3 && t.every((s) => typeof s === 'string'))
  );
}

function isItem(json: unknown): boolean {
  return Array.isArray(json) && json.length === 4 && typeof json[0] === 'string' && typeof json[1] === 'string' && Number.isSafeInteger(json[2]);
}
