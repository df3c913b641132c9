/**
 * One writer per store directory: a `LOCK` file holding the owner's pid. A lock whose pid is no
 * longer running (the owner was killed) is taken over; a live one is a clear StoreError.
 * Readers take none (`EmbeddedStore.open({ dir, readOnly: true })`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { StoreError } from '#core/errors.ts';
import { errnoCode } from './durable-file.ts';

export const LOCK_FILE = 'LOCK';
/** A lock file without a readable pid younger than this may still be being written. */
const UNREADABLE_GRACE_MS = 5_000;

export class DirLock {
  private released = false;

  private constructor(readonly file: string) {}

  static acquire(dir: string): DirLock {
    const file = path.join(dir, LOCK_FILE);
    // Two attempts: the second follows the removal of a stale lock.
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        createWithPid(file);
        // Another process taking over the same stale lock may have replaced ours.
        if (readPid(file) !== process.pid) break;
        return new DirLock(file);
      } catch (error) {
        if (errnoCode(error) !== 'EEXIST') throw new StoreError(`cannot create lock file ${file}`, { file }, { cause: error });
      }
      const holder = readPid(file);
      if (holder !== undefined && isRunning(holder)) {
        const who = holder === process.pid ? 'this process (the store is already open)' : `process ${holder}`;
        throw new StoreError(`store directory ${dir} is locked by ${who}; close it first, or remove ${file} if that process is not an Argus store (while \`argus serve\` or \`npm start\` runs, send writes through it with --api http://127.0.0.1:8080; get, describe and report read beside it without --api)`, { dir, file, pid: holder });
      }
      if (holder === undefined && Date.now() - mtimeMs(file) < UNREADABLE_GRACE_MS) {
        throw new StoreError(`store directory ${dir} is being locked by another process`, { dir, file });
      }
      fs.rmSync(file, { force: true });
    }
    throw new StoreError(`store directory ${dir} was locked by another process while taking over a stale lock`, { dir, file });
  }

  /** Removes the lock if it is still ours. */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (readPid(this.file) === process.pid) fs.rmSync(this.file, { force: true });
  }
}

/**
 * Creates `file` holding this pid, failing with EEXIST when it exists. The pid is written to a
 * private file first and hard-linked into place, so a process killed mid-way never leaves an
 * empty lock (which the next process would have to wait out); where links are not supported it
 * falls back to create-then-write.
 */
function createWithPid(file: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${process.pid}\n`);
  try {
    fs.linkSync(tmp, file);
    return;
  } catch (error) {
    const code = errnoCode(error);
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  const fd = fs.openSync(file, 'wx');
  try {
    fs.writeSync(fd, `${process.pid}\n`);
  } finally {
    fs.closeSync(fd);
  }
}

function readPid(file: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, owned by someone else.
    return errnoCode(error) === 'EPERM';
  }
}

function mtimeMs(file: string): number {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}
