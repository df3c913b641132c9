/** Small synchronous file primitives the write-ahead log and the snapshot share. */
import fs from 'node:fs';

/** Writes all of `buf` at the file's current position (`writeSync` may write less than asked). */
export function writeFully(fd: number, buf: Buffer): void {
  let done = 0;
  while (done < buf.length) {
    done += fs.writeSync(fd, buf, done, buf.length - done);
  }
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

/** The error's errno code (`'ENOENT'`, ...) when it has one. */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
