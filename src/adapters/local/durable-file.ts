/** Small file primitives the write-ahead log and the snapshot share. */
import fs from 'node:fs';

/** Writes all of `buf` at the file's current position (`writeSync` may write less than asked). */
export function writeFully(fd: number, buf: Buffer): void {
  let done = 0;
  while (done < buf.length) {
    done += fs.writeSync(fd, buf, done, buf.length - done);
  }
}

/**
 * Writes all of `buffers`, in order, at the file's current position with vectored writes on
 * libuv's thread pool: the main thread neither joins nor copies them.
 */
export async function writevFully(fd: number, buffers: readonly Buffer[]): Promise<void> {
  let rest = buffers;
  while (rest.length > 0) {
    const written = await new Promise<number>((resolve, reject) => {
      fs.writev(fd, rest, (error, bytes) => (error ? reject(error) : resolve(bytes)));
    });
    rest = unwritten(rest, written);
  }
}

/** What is left of `buffers` once their first `bytes` bytes are written. */
function unwritten(buffers: readonly Buffer[], bytes: number): readonly Buffer[] {
  let skip = bytes;
  for (let i = 0; i < buffers.length; i++) {
    const buffer = buffers[i] as Buffer;
    if (skip < buffer.length) return [buffer.subarray(skip), ...buffers.slice(i + 1)];
    skip -= buffer.length;
  }
  return [];
}

/** Makes a created, renamed or removed directory entry durable (a file's fsync does not). */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** `fsyncDir` with the open, sync and close on libuv's thread pool. */
export async function fsyncDirAsync(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The error's errno code (`'ENOENT'`, ...) when it has one. */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
