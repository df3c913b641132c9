/**
 * Reads a file line by line with bounded memory (snapshots hold millions of lines), reporting
 * each line's byte offset so a torn tail can be truncated exactly.
 */
import fs from 'node:fs';
import { StoreError } from '#core/errors.ts';

export interface Line {
  readonly text: string;
  /** 1-based. */
  readonly number: number;
  /** Byte offset of the line's first byte. */
  readonly start: number;
  /** False for a last line without its newline (a torn write). */
  readonly terminated: boolean;
}

const CHUNK_BYTES = 4 * 1024 * 1024;
const NEWLINE = 0x0a;

export function* readLines(file: string): Generator<Line> {
  const fd = fs.openSync(file, 'r');
  try {
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    // Bytes of a line that started in an earlier chunk (splitting on 0x0a never cuts a UTF-8 character).
    let carry: Buffer[] = [];
    let carryStart = 0;
    let offset = 0;
    let number = 0;
    for (;;) {
      const read = fs.readSync(fd, chunk, 0, CHUNK_BYTES, null);
      if (read === 0) break;
      let from = 0;
      for (;;) {
        const nl = chunk.indexOf(NEWLINE, from);
        if (nl === -1 || nl >= read) break;
        number++;
        if (carry.length > 0) {
          carry.push(chunk.subarray(from, nl));
          const text = Buffer.concat(carry).toString('utf8');
          yield { text, number, start: carryStart, terminated: true };
          carry = [];
        } else {
          yield { text: chunk.toString('utf8', from, nl), number, start: offset + from, terminated: true };
        }
        from = nl + 1;
      }
      if (from < read) {
        if (carry.length === 0) carryStart = offset + from;
        // Copy: the chunk buffer is reused by the next read.
        carry.push(Buffer.from(chunk.subarray(from, read)));
      }
      offset += read;
    }
    if (carry.length > 0) {
      number++;
      yield { text: Buffer.concat(carry).toString('utf8'), number, start: carryStart, terminated: false };
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** The error for a line that cannot be read: names the file and line, never skips it silently. */
export function corruptLine(file: string, line: Line, cause: unknown, what = 'unreadable'): StoreError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new StoreError(`${file}:${line.number}: ${what} line (${reason}); refusing to open rather than lose data`, { file, line: line.number, offset: line.start }, { cause });
}
