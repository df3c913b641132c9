/**
 * The snapshot: the whole state as JSON lines, a header line then lines of up to 1,000 items
 * each (one JSON.parse per batch loads far faster than one per item), written streamed (millions
 * of items never become one string) to a temporary file that is synced and renamed over the
 * previous snapshot, so a crash leaves either the old or the new one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { StoreError } from '#core/errors.ts';
import { fsyncDirAsync } from './durable-file.ts';
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

/**
 * Writes the snapshot durably (temp file, fsync, rename); returns its size in bytes. The writes
 * and syncs run on libuv's thread pool, each write while the next part is serialised, and the
 * main thread turns its event loop between parts: a large state (about 290 MB at 1,000,000 pairs)
 * took about 2 s of the main thread in one piece. `items` must not change until this settles.
 */
export async function writeSnapshot(dir: string, header: Omit<SnapshotHeader, 'format'>, items: Iterable<SnapshotItem>, fsync: boolean): Promise<number> {
  const file = path.join(dir, SNAPSHOT_FILE);
  const tmp = file + TMP_SUFFIX;
  const handle = await fs.promises.open(tmp, 'w');
  let bytes = 0;
  // The part being written while the next one is serialised.
  let writing: Promise<number> | undefined;
  const write = async (text: string): Promise<void> => {
    if (writing !== undefined) bytes += await writing;
    writing = writeText(handle, text);
    // Awaited above or below; this only keeps a failed write from being reported as unhandled meanwhile.
    writing.catch(() => undefined);
  };
  try {
    let text = `${JSON.stringify({ format: FORMAT, ...header })}\n`;
    let line: SnapshotItem[] = [];
    let written = 0;
    for (const item of items) {
      line.push(item);
      if (line.length < ITEMS_PER_LINE) continue;
      text += `${JSON.stringify(line)}\n`;
      written += line.length;
      line = [];
      if (text.length >= WRITE_BATCH_CHARS) {
        await write(text);
        text = '';
      }
    }
    if (line.length > 0) {
      text += `${JSON.stringify(line)}\n`;
      written += line.length;
    }
    await write(text);
    bytes += (await writing) ?? 0;
    if (written !== header.count) throw new StoreError('snapshot item count changed while writing', { file: tmp, expected: header.count, written });
    if (fsync) await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.promises.rename(tmp, file);
  if (fsync) await fsyncDirAsync(dir);
  return bytes;
}

async function writeText(handle: fs.promises.FileHandle, text: string): Promise<number> {
  const buf = Buffer.from(text, 'utf8');
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await handle.write(buf, done, buf.length - done);
    done += bytesWritten;
  }
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
