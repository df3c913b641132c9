import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach } from 'vitest';

/**
 * Temporary directories a test file owns: `tempDir(prefix)` makes one, and they are all removed
 * after each test (`'each'`) or after the file (`'all'`).
 */
export function tempDirs(cleanup: 'each' | 'all'): (prefix: string) => string {
  const dirs: string[] = [];
  const removeAll = () => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  };
  if (cleanup === 'each') afterEach(removeAll);
  else afterAll(removeAll);
  return (prefix) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
}
