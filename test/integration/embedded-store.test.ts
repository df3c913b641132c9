import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConflictError, StoreError } from '#core/errors.ts';
import { queryAll, type ChangeRecord, type StoredItem, type WriteOp } from '#core/ports/store.ts';
import { EmbeddedStore, WAL_FILE, type EmbeddedStoreOptions } from '../../src/adapters/local/embedded-store.ts';
import { describeStoreContract } from './store-contract.ts';

const WRITER = fileURLToPath(new URL('../fixtures/store-writer.ts', import.meta.url));

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'argus-store-'));
}

describeStoreContract('EmbeddedStore', async () => {
  const dir = tempDir();
  const store = await EmbeddedStore.open({ dir });
  return {
    store,
    cleanup: async () => {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

const put = (pk: string, sk: string, data: unknown, ifVersion: WriteOp['ifVersion'] = 'any'): WriteOp => ({ type: 'put', pk, sk, data, ifVersion });
const del = (pk: string, sk: string, ifVersion: WriteOp['ifVersion'] = 'any'): WriteOp => ({ type: 'delete', pk, sk, ifVersion });

describe('EmbeddedStore', () => {
  const dirs: string[] = [];
  const open: EmbeddedStore[] = [];

  async function openStore(dir: string, options: Omit<EmbeddedStoreOptions, 'dir'> = {}): Promise<EmbeddedStore> {
    const store = await EmbeddedStore.open({ dir, ...options });
    open.push(store);
    return store;
  }

  function newDir(): string {
    const dir = tempDir();
    dirs.push(dir);
    return dir;
  }

  /** Everything a reader can see, to compare before and after a reopen. */
  async function dump(store: EmbeddedStore, pks: readonly string[]): Promise<StoredItem[]> {
    const out: StoredItem[] = [];
    for (const pk of pks) out.push(...(await queryAll(store, pk)));
    return out;
  }

  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('persistence', () => {
    it('reopens with the same items, versions, feed and sequence numbers', async () => {
      const dir = newDir();
      const first = await openStore(dir);
      await first.transact([put('p', 'a', { n: 1 }), put('p', 'b', { n: 1 }), put('q', 'x', { list: [1, { deep: true }] })]);
      await first.transact([put('p', 'a', { n: 2 }, 1), del('p', 'b', 1), put('p', 'c', { n: 3 }, 'absent')]);
      const before = await dump(first, ['p', 'q']);
      const changes = await first.readChanges(undefined, 100);
      await first.close();

      const second = await openStore(dir);

      expect(await dump(second, ['p', 'q'])).toEqual(before);
      expect(await second.get('p', 'a')).toMatchObject({ version: 2, data: { n: 2 } });
      expect(await second.readChanges(undefined, 100)).toEqual(changes);
      const next = await second.transact([put('p', 'd', {})]);
      expect(next.sequenceNumber).toBe(String(changes.length + 1));
    });

    it('waits for a log as large as the last snapshot before compacting again, also after a reopen', async () => {
      const dir = newDir();
      const store = await openStore(dir, { compactAfterBytes: 1024 });
      const big = Array.from({ length: 100 }, (_, i) => put('p', `k${i}`, { text: 'x'.repeat(500) }));
      await store.transact(big);
      const snapshotBytes = fs.statSync(path.join(dir, 'snapshot.jsonl')).size;
      expect(snapshotBytes).toBeGreaterThan(50_000);
      expect(fs.statSync(path.join(dir, WAL_FILE)).size).toBe(0);

      // Well past compactAfterBytes, well short of the snapshot: no compaction yet.
      for (let i = 0; i < 10; i++) await store.transact([put('p', `k${i}`, { text: 'y'.repeat(500) })]);
      expect(fs.statSync(path.join(dir, WAL_FILE)).size).toBeGreaterThan(4 * 1024);
      await store.close();
      const reopened = await openStore(dir, { compactAfterBytes: 1024 });
      await reopened.transact([put('p', 'k11', { text: 'z'.repeat(500) })]);
      expect(fs.statSync(path.join(dir, 'snapshot.jsonl')).size).toBe(snapshotBytes);

      // Once the log outgrows the snapshot, it compacts.
      for (let i = 0; i < 120; i++) await reopened.transact([put('p', `k${i % 100}`, { text: 'w'.repeat(500) })]);
      expect(fs.statSync(path.join(dir, WAL_FILE)).size).toBeLessThan(snapshotBytes);
      expect((await reopened.get<{ text: string }>('p', 'k19'))?.data.text).toBe('w'.repeat(500));
    });

    it('holds compaction while a long run of writes goes on, then compacts once, unless the log grows to four times its threshold', async () => {
      const dir = newDir();
      const store = await openStore(dir, { compactAfterBytes: 4096 });
      const snapshot = path.join(dir, 'snapshot.jsonl');
      const walSize = () => fs.statSync(path.join(dir, WAL_FILE)).size;

      const written = await store.holdingCompaction(async () => {
        for (let i = 0; i < 40; i++) await store.transact([put('p', `k${i}`, { text: 'x'.repeat(200) })]);
        // Past the threshold, short of four times it: held.
        expect(walSize()).toBeGreaterThan(4096);
        expect(walSize()).toBeLessThan(4 * 4096);
        expect(fs.existsSync(snapshot)).toBe(false);
        return 40;
      });

      expect(written).toBe(40);
      expect(fs.existsSync(snapshot)).toBe(true);
      expect(walSize()).toBe(0);
      const snapshotBytes = fs.statSync(snapshot).size;
      // Held again, the log outgrows four times its threshold (the snapshot's size): it compacts anyway.
      await store.holdingCompaction(async () => {
        for (let i = 0; i < 250; i++) await store.transact([put('p', `k${i % 40}`, { text: 'y'.repeat(200) })]);
        expect(walSize()).toBeLessThan(4 * snapshotBytes + 512);
        expect(fs.statSync(snapshot).size).not.toBe(snapshotBytes);
      });
      await store.close();
      const reopened = await openStore(dir, { compactAfterBytes: 4096 });
      expect((await reopened.get<{ text: string }>('p', 'k9'))?.data.text).toBe('y'.repeat(200));
    });

    it('compacts after a held run of writes that fails, and passes the failure on', async () => {
      const dir = newDir();
      const store = await openStore(dir, { compactAfterBytes: 2048 });

      const run = store.holdingCompaction(async () => {
        for (let i = 0; i < 20; i++) await store.transact([put('p', `k${i}`, { text: 'x'.repeat(200) })]);
        throw new Error('provider crashed');
      });

      await expect(run).rejects.toThrow('provider crashed');
      expect(fs.existsSync(path.join(dir, 'snapshot.jsonl'))).toBe(true);
      expect(fs.statSync(path.join(dir, WAL_FILE)).size).toBe(0);
    });

    it('serves reads while it compacts, and commits a write that arrives meanwhile after the snapshot', async () => {
      const dir = newDir();
      const store = await openStore(dir);
      // About 3 MB: the snapshot is written in several parts.
      for (let i = 0; i < 30; i++) await store.transact(Array.from({ length: 100 }, (_, j) => put('p', `k${i}-${j}`, { text: 'x'.repeat(1000) })));
      let compacted = false;
      const compaction = store.compact().then(() => (compacted = true));

      // The event loop turns during the compaction: a read is answered before it ends, from the state it writes.
      await setImmediate();
      const read = await store.get<{ text: string }>('p', 'k7-7');
      expect(compacted).toBe(false);
      expect(read?.data.text).toBe('x'.repeat(1000));
      // A write waits for the snapshot, then lands in the emptied log.
      const write = store.transact([put('p', 'late', { n: 1 })]);
      await compaction;
      await write;
      expect(await store.get('p', 'late')).toMatchObject({ version: 1, data: { n: 1 } });
      const before = await dump(store, ['p']);
      await store.close();

      const reopened = await openStore(dir);
      expect(await dump(reopened, ['p'])).toEqual(before);
      expect(before).toHaveLength(3001);
      expect(fs.readFileSync(path.join(dir, WAL_FILE), 'utf8')).toContain('"late"');
    });

    it('reopens after compaction from the snapshot plus the newer log', async () => {
      const dir = newDir();
      const first = await openStore(dir, { compactAfterBytes: 4096 });
      for (let i = 0; i < 200; i++) await first.transact([put('p', `k${String(i).padStart(3, '0')}`, { i, text: 'x'.repeat(50) })]);
      for (let i = 0; i < 200; i += 3) await first.transact([put('p', `k${String(i).padStart(3, '0')}`, { i, again: true }, 1)]);
      await first.transact([del('p', 'k001', 1)], { clientToken: 'tok-1' });
      const before = await dump(first, ['p']);
      await first.close();

      expect(fs.existsSync(path.join(dir, 'snapshot.jsonl'))).toBe(true);
      const snapshotBytes = fs.statSync(path.join(dir, 'snapshot.jsonl')).size;
      expect(fs.statSync(path.join(dir, WAL_FILE)).size).toBeLessThan(Math.max(4096, snapshotBytes) + 200);
      const second = await openStore(dir, { compactAfterBytes: 4096 });

      expect(await dump(second, ['p'])).toEqual(before);
      expect(before).toHaveLength(199);
      // The token survives compaction: the retry is not applied again.
      await second.transact([del('p', 'k001', 1)], { clientToken: 'tok-1' });
      const next = await second.transact([put('p', 'new', {})]);
      expect(Number(next.sequenceNumber)).toBe(200 + 67 + 1 + 1);
    });

    it('skips log lines the snapshot already holds (crash between snapshot and log reset)', async () => {
      const dir = newDir();
      const first = await openStore(dir);
      await first.transact([put('p', 'a', { n: 1 })]);
      await first.transact([put('p', 'a', { n: 2 }, 1), put('p', 'b', {})]);
      const staleLog = fs.readFileSync(path.join(dir, WAL_FILE));
      await first.compact();
      await first.close();
      fs.writeFileSync(path.join(dir, WAL_FILE), staleLog);

      const second = await openStore(dir);
      expect(await second.get('p', 'a')).toMatchObject({ version: 2, data: { n: 2 } });
      await second.transact([put('p', 'a', { n: 3 }, 2)]);
      await second.close();
      const third = await openStore(dir);

      expect(await third.get('p', 'a')).toMatchObject({ version: 3, data: { n: 3 } });
      expect(await third.get('p', 'b')).toMatchObject({ version: 1 });
    });

    it('ignores and cuts away a torn last line', async () => {
      const dir = newDir();
      const first = await openStore(dir);
      await first.transact([put('p', 'a', { n: 1 })]);
      await first.transact([put('p', 'b', { n: 1 })]);
      await first.close();
      const wal = path.join(dir, WAL_FILE);
      const intact = fs.statSync(wal).size;
      fs.appendFileSync(wal, '{"tx":3,"seq":3,"t":1,"ops":[["put","p","c",{"n"');

      const second = await openStore(dir);

      expect(fs.statSync(wal).size).toBe(intact);
      expect(await second.get('p', 'c')).toBeUndefined();
      expect((await queryAll(second, 'p')).map((i) => i.sk)).toEqual(['a', 'b']);
      await second.transact([put('p', 'c', { n: 2 }, 'absent')]);
      await second.close();
      expect(await (await openStore(dir)).get('p', 'c')).toMatchObject({ version: 1, data: { n: 2 } });
    });

    it('treats an unparsable but terminated last line as torn', async () => {
      const dir = newDir();
      const first = await openStore(dir);
      await first.transact([put('p', 'a', { n: 1 })]);
      await first.close();
      const wal = path.join(dir, WAL_FILE);
      const intact = fs.statSync(wal).size;
      fs.appendFileSync(wal, '{"tx":2,"se\0\0\0\n');

      const second = await openStore(dir);

      expect(fs.statSync(wal).size).toBe(intact);
      expect(await second.get('p', 'a')).toMatchObject({ version: 1 });
    });

    it('drops a damaged last line with its whole group (a power cut may keep some of its pages and not others)', async () => {
      const dir = newDir();
      const first = await openStore(dir);
      await first.transact([put('p', 'before', {})]);
      // The first goes alone; the other three share one line.
      await Promise.all(['a', 'b', 'c', 'd'].map((sk) => first.transact([put('p', sk, { text: 'x'.repeat(100) })])));
      await first.close();
      const wal = path.join(dir, WAL_FILE);
      const text = fs.readFileSync(wal, 'utf8');
      const groupStart = text.lastIndexOf('\n', text.length - 2) + 1;
      const damaged = Buffer.from(text, 'utf8');
      damaged.fill(0, groupStart + 50, groupStart + 150);
      fs.writeFileSync(wal, damaged);

      const second = await openStore(dir);

      expect(fs.statSync(wal).size).toBe(groupStart);
      expect((await queryAll(second, 'p')).map((i) => i.sk)).toEqual(['a', 'before']);
      expect(await second.transact([put('p', 'b', {}, 'absent')])).toEqual({ sequenceNumber: '3' });
    });

    it('refuses to open a log corrupt before its last line, naming file and line', async () => {
      const dir = newDir();
      const first = await openStore(dir);
      for (let i = 0; i < 3; i++) await first.transact([put('p', `k${i}`, { i })]);
      await first.close();
      const wal = path.join(dir, WAL_FILE);
      const lines = fs.readFileSync(wal, 'utf8').split('\n');
      lines[1] = `${(lines[1] ?? '').slice(0, 20)}#garbage`;
      fs.writeFileSync(wal, lines.join('\n'));
      const corrupt = fs.readFileSync(wal);

      const error = await EmbeddedStore.open({ dir }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).message).toContain(`${wal}:2`);
      expect((error as StoreError).context).toMatchObject({ file: wal, line: 2 });
      // Nothing was cut away, and the lock was released.
      expect(fs.readFileSync(wal)).toEqual(corrupt);
      expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false);
    });

    it('refuses a log with a missing transaction', async () => {
      const dir = newDir();
      const first = await openStore(dir);
      for (let i = 0; i < 3; i++) await first.transact([put('p', `k${i}`, { i })]);
      await first.close();
      const wal = path.join(dir, WAL_FILE);
      const lines = fs.readFileSync(wal, 'utf8').split('\n');
      fs.writeFileSync(wal, [lines[0], lines[2], ''].join('\n'));

      await expect(EmbeddedStore.open({ dir })).rejects.toThrow(/wal\.jsonl:2: transaction 3 follows 1/);
    });

    it('refuses a snapshot whose item count does not match its header', async () => {
      const dir = newDir();
      const first = await openStore(dir);
      await first.transact([put('p', 'a', {}), put('p', 'b', {})]);
      await first.compact();
      await first.close();
      const snapshot = path.join(dir, 'snapshot.jsonl');
      const [header, ...rest] = fs.readFileSync(snapshot, 'utf8').split('\n');
      const claimed = { ...(JSON.parse(header ?? '') as Record<string, unknown>), count: 3 };
      fs.writeFileSync(snapshot, [JSON.stringify(claimed), ...rest].join('\n'));

      await expect(EmbeddedStore.open({ dir })).rejects.toThrow(/snapshot holds 2 items, its header says 3/);
    });

    it('stores what JSON makes of the data, the same before and after a reopen', async () => {
      const dir = newDir();
      const first = await openStore(dir);
      await first.transact([put('p', 'a', { gone: undefined, when: new Date(0), n: 1 })]);
      const live = await first.get('p', 'a');
      await first.close();

      const second = await openStore(dir);

      expect(live?.data).toEqual({ when: '1970-01-01T00:00:00.000Z', n: 1 });
      expect(Object.keys(live?.data as object)).toEqual(['when', 'n']);
      expect((await second.get('p', 'a'))?.data).toEqual(live?.data);
    });
  });

  describe('directory lock', () => {
    it('refuses a second open of the same directory while the first is open', async () => {
      const dir = newDir();
      const first = await openStore(dir);

      const error = await EmbeddedStore.open({ dir }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).message).toMatch(/locked by this process/);
      await first.close();
      await openStore(dir);
    });

    it('refuses another process while locked', async () => {
      const dir = newDir();
      await openStore(dir);

      const output = await runProbe(dir);

      expect(output).toMatch(new RegExp(`^error STORE store directory .* is locked by process ${process.pid}`));
    });

    it('takes over the lock of a process that is gone', async () => {
      const dir = newDir();
      const gone = await deadPid();
      fs.writeFileSync(path.join(dir, 'LOCK'), `${gone}\n`);

      const store = await openStore(dir);
      await store.transact([put('p', 'a', {})]);

      expect(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8').trim()).toBe(String(process.pid));
      await store.close();
      expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false);
    });
  });

  describe('in memory', () => {
    it('hands out frozen items', async () => {
      const store = await openStore(newDir());
      await store.transact([put('p', 'a', { list: [1], inner: { v: 1 } })]);
      const item = (await store.get<{ list: number[]; inner: { v: number } }>('p', 'a')) as StoredItem<{ list: number[]; inner: { v: number } }>;

      expect(() => item.data.list.push(2)).toThrow(TypeError);
      expect(() => {
        item.data.inner.v = 2;
      }).toThrow(TypeError);
      expect(Object.isFrozen(item)).toBe(true);
    });

    it('getMany hands out the very items get does, frozen and not copied', async () => {
      const store = await openStore(newDir());
      await store.transact([put('p', 'a', { list: [1] }), put('q', 'b', { n: 2 })]);

      const [a, missing, b] = await store.getMany([{ pk: 'p', sk: 'a' }, { pk: 'p', sk: 'b' }, { pk: 'q', sk: 'b' }]);

      expect(a).toBe(await store.get('p', 'a'));
      expect(b).toBe(await store.get('q', 'b'));
      expect(missing).toBeUndefined();
      expect(Object.isFrozen(a)).toBe(true);
      expect(Object.isFrozen(a?.data)).toBe(true);
    });

    it('keeps sort order and pages exactly through many random inserts and deletes', async () => {
      const store = await openStore(newDir(), { fsync: false });
      const reference = new Set<string>();
      let seed = 7;
      const next = (): number => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed / 2147483648;
      };
      for (let round = 0; round < 40; round++) {
        const ops: WriteOp[] = [];
        const touched = new Set<string>();
        for (let i = 0; i < 250; i++) {
          const sk = `k${Math.floor(next() * 20_000)}`;
          if (touched.has(sk)) continue;
          touched.add(sk);
          if (reference.has(sk) && next() < 0.3) {
            ops.push(del('p', sk));
            reference.delete(sk);
          } else {
            ops.push(put('p', sk, { round }));
            reference.add(sk);
          }
        }
        await store.transact(ops);
      }
      const expected = [...reference].sort();

      const pages: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.query('p', { limit: 333, cursor });
        pages.push(...page.items.map((i) => i.sk));
        cursor = page.cursor;
      } while (cursor !== undefined);

      expect(pages).toEqual(expected);
      expect((await store.query('p', { skPrefix: 'k1999', limit: 10_000 })).items.map((i) => i.sk)).toEqual(expected.filter((k) => k.startsWith('k1999')));
    });

    it('drops the oldest change records past the retention', async () => {
      const store = await openStore(newDir(), { feedRetention: 5 });
      for (let i = 0; i < 12; i++) await store.transact([put('p', `k${i}`, {})]);

      const retained = await store.readChanges(undefined, 100);
      const after = await store.readChanges('2', 3);

      expect(retained.map((r) => r.dynamodb.SequenceNumber)).toEqual(['8', '9', '10', '11', '12']);
      expect(after.map((r) => r.dynamodb.SequenceNumber)).toEqual(['8', '9', '10']);
      expect(await store.readChanges('10', 100)).toHaveLength(2);
    });

    it('calls subscribers synchronously with each transaction’s records until unsubscribed', async () => {
      const store = await openStore(newDir());
      const seen: ChangeRecord[][] = [];
      const unsubscribe = store.subscribe((records) => seen.push([...records]));

      await store.transact([put('p', 'a', {}), put('p', 'b', {})]);
      await expect(store.transact([put('p', 'a', {}, 'absent')])).rejects.toBeInstanceOf(ConflictError);
      await store.transact([del('p', 'a', 1)]);
      unsubscribe();
      await store.transact([put('p', 'c', {})]);

      expect(seen.map((batch) => batch.map((r) => `${r.eventName} ${r.dynamodb.Keys.sk}`))).toEqual([['INSERT a', 'INSERT b'], ['REMOVE a']]);
    });

    it('refuses a client token reused for different writes', async () => {
      const store = await openStore(newDir());
      await store.transact([put('p', 'a', {})], { clientToken: 't' });

      await expect(store.transact([put('p', 'b', {})], { clientToken: 't' })).rejects.toThrow(/already used for different writes/);
    });

    it('reports the actual version in a conflict', async () => {
      const store = await openStore(newDir());
      await store.transact([put('p', 'a', {})]);
      await store.transact([put('p', 'a', {}, 1)]);

      const error = await store.transact([put('p', 'a', {}, 1)]).catch((e: unknown) => e);
      const missing = await store.transact([del('p', 'zz', 4)]).catch((e: unknown) => e);

      expect((error as ConflictError).context).toEqual({ pk: 'p', sk: 'a', expected: 1, actual: 2 });
      expect((missing as ConflictError).context).toEqual({ pk: 'p', sk: 'zz', expected: 4, actual: 'absent' });
    });

    it('rejects malformed writes, cursors and use after close with StoreError', async () => {
      const store = await openStore(newDir());

      await expect(store.transact([put('', 'a', {})])).rejects.toThrow(StoreError);
      await expect(store.transact([put('p', 'a', {}, 0)])).rejects.toThrow(StoreError);
      await expect(store.transact([put('p', 'a', { big: 1n })])).rejects.toThrow(/JSON/);
      await expect(store.query('p', { cursor: 'nonsense' })).rejects.toThrow(StoreError);
      await expect(store.readChanges('abc', 1)).rejects.toThrow(StoreError);
      await store.close();
      await expect(store.get('p', 'a')).rejects.toThrow(/closed/);
    });
  });

  describe('concurrent commits', () => {
    const held: HeldWrites[] = [];

    /** Holds every write of the log until released, to look at the store while a commit is in flight. */
    function holdWrites(): HeldWrites {
      const writes = new HeldWrites();
      held.push(writes);
      return writes;
    }

    afterEach(() => {
      // Before the stores close: close waits for the commits a failed test left held.
      for (const writes of held.splice(0)) writes.release();
      vi.restoreAllMocks();
    });

    it('opens the log for writes that return once on disk when syncing, and plain appends when not', async () => {
      const open = vi.spyOn(fs, 'openSync');
      await openStore(newDir());
      await openStore(newDir(), { fsync: false });

      const flags = open.mock.calls.filter(([file]) => String(file).endsWith(WAL_FILE)).map(([, mode]) => mode);
      expect(flags).toHaveLength(2);
      expect(typeof flags[0] === 'number' && (flags[0] & fs.constants.O_DSYNC) === fs.constants.O_DSYNC).toBe(true);
      expect(flags[1]).toBe('a');
    });

    it('commits in call order, checking each transaction against the ones before it', async () => {
      // Prepare: both writers below read version 1.
      const store = await openStore(newDir());
      await store.transact([put('p', 'k', { n: 0 }, 'absent')]);
      const order: string[] = [];
      const noted = (name: string, commit: Promise<unknown>): Promise<unknown> =>
        commit.finally(() => {
          order.push(name);
        });

      // Act
      const outcomes = await Promise.allSettled([
        noted('first', store.transact([put('p', 'k', { n: 1 }, 1)])),
        noted('second', store.transact([put('p', 'k', { n: 2 }, 1)])),
        noted('third', store.transact([put('p', 'k', { n: 3 }, 2), put('p', 'other', {}, 'absent')])),
      ]);

      // Assess
      expect(outcomes[0]).toEqual({ status: 'fulfilled', value: { sequenceNumber: '2' } });
      expect(outcomes[1]?.status === 'rejected' && outcomes[1].reason).toBeInstanceOf(ConflictError);
      expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ context: { pk: 'p', sk: 'k', expected: 1, actual: 2 } });
      expect(outcomes[2]).toEqual({ status: 'fulfilled', value: { sequenceNumber: '4' } });
      expect(order).toEqual(['first', 'second', 'third']);
      expect(await store.get('p', 'k')).toMatchObject({ version: 3, data: { n: 3 } });
    });

    it('makes a transaction visible only once its durable write is done', async () => {
      const dir = newDir();
      const store = await openStore(dir);
      const seen: string[] = [];
      store.subscribe((records) => seen.push(...records.map((r) => r.dynamodb.Keys.sk)));
      const writes = holdWrites();

      const commit = track(store.transact([put('p', 'a', { n: 1 })]));
      await writes.reached(1);

      // Not yet on disk: no reader sees it and the caller is not told.
      expect(commit.settled).toBe(false);
      expect(await store.get('p', 'a')).toBeUndefined();
      expect(await store.readChanges(undefined, 10)).toEqual([]);
      expect(seen).toEqual([]);
      writes.release();
      await expect(commit.promise).resolves.toEqual({ sequenceNumber: '1' });
      expect(fs.readFileSync(path.join(dir, WAL_FILE), 'utf8')).toContain('"a"');
      expect(await store.get('p', 'a')).toMatchObject({ version: 1, data: { n: 1 } });
      expect(seen).toEqual(['a']);
    });

    it('getMany sees only committed transactions, not one in flight', async () => {
      const store = await openStore(newDir());
      await store.transact([put('p', 'a', { n: 1 }, 'absent')]);
      const writes = holdWrites();
      const keys = [{ pk: 'p', sk: 'a' }, { pk: 'p', sk: 'b' }];

      const commit = track(store.transact([put('p', 'a', { n: 2 }, 1), put('p', 'b', { n: 1 }, 'absent')]));
      await writes.reached(1);

      expect(commit.settled).toBe(false);
      expect(await store.getMany(keys)).toEqual([{ pk: 'p', sk: 'a', version: 1, data: { n: 1 } }, undefined]);
      writes.release();
      await commit.promise;
      expect(await store.getMany(keys)).toEqual([
        { pk: 'p', sk: 'a', version: 2, data: { n: 2 } },
        { pk: 'p', sk: 'b', version: 1, data: { n: 1 } },
      ]);
    });

    it('writes the transactions issued while a commit is in flight together, in order', async () => {
      const dir = newDir();
      const store = await openStore(dir);
      const write = vi.spyOn(fs, 'writev');

      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.transact([put('p', `k${i}`, { i })])));

      expect(results.map((r) => r.sequenceNumber)).toEqual(Array.from({ length: 20 }, (_, i) => String(i + 1)));
      // The first goes alone; the other 19 arrive while it is in flight and share the next line.
      expect(write.mock.calls.length).toBe(2);
      const [alone, group, ...rest] = fs.readFileSync(path.join(dir, WAL_FILE), 'utf8').split('\n');
      expect(JSON.parse(alone ?? '')).toMatchObject({ tx: 1 });
      expect((JSON.parse(group ?? '') as { tx: number }[]).map((entry) => entry.tx)).toEqual(Array.from({ length: 19 }, (_, i) => i + 2));
      expect(rest).toEqual(['']);
      await store.close();
      expect(await queryAll(await openStore(dir), 'p')).toHaveLength(20);
    });

    it('reports a refusal or a write that changes nothing only after the transactions before it', async () => {
      const store = await openStore(newDir());
      const writes = holdWrites();
      const first = track(store.transact([put('p', 'a', { n: 1 }, 'absent')]));
      await writes.reached(1);

      const conflicting = track(store.transact([put('p', 'a', { n: 2 }, 'absent')]));
      const noop = track(store.transact([del('p', 'absent-item')]));
      await new Promise((resolve) => setTimeout(resolve, 20));

      expect([first.settled, conflicting.settled, noop.settled]).toEqual([false, false, false]);
      writes.release();
      const error = await conflicting.promise.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConflictError);
      // A caller that rereads after the conflict sees the write that caused it.
      expect(first.settled).toBe(true);
      expect(await store.get('p', 'a')).toMatchObject({ version: 1, data: { n: 1 } });
      await expect(noop.promise).resolves.toEqual({ sequenceNumber: '' });
    });

    it('rejects malformed and non-JSON writes at once, writing nothing, even behind a commit in flight', async () => {
      const dir = newDir();
      const store = await openStore(dir);
      const writes = holdWrites();
      const first = store.transact([put('p', 'a', {})]);
      await writes.reached(1);

      await expect(store.transact([put('p', 'b', { big: 1n })])).rejects.toThrow(/JSON/);
      await expect(store.transact([put('', 'b', {})])).rejects.toThrow(StoreError);
      writes.release();
      await first;

      expect(fs.readFileSync(path.join(dir, WAL_FILE), 'utf8').trim().split('\n')).toHaveLength(1);
      expect(await store.transact([put('p', 'b', {})])).toEqual({ sequenceNumber: '2' });
    });

    it('applies a client token sent twice concurrently once, and refuses it for other writes', async () => {
      const store = await openStore(newDir());
      const ops = [put('p', 'a', { n: 1 }, 'absent')];

      const [first, second] = await Promise.all([store.transact(ops, { clientToken: 't' }), store.transact(ops, { clientToken: 't' })]);
      const other = await Promise.allSettled([store.transact([put('p', 'x', {})], { clientToken: 'u' }), store.transact([put('p', 'y', {})], { clientToken: 'u' })]);

      expect(first).toEqual({ sequenceNumber: '1' });
      expect(second).toEqual(first);
      expect(other[0]).toEqual({ status: 'fulfilled', value: { sequenceNumber: '2' } });
      expect(other[1]?.status === 'rejected' && (other[1].reason as Error).message).toMatch(/already used for different writes/);
      expect((await store.readChanges(undefined, 10)).map((r) => r.dynamodb.Keys.sk)).toEqual(['a', 'x']);
    });

    it('makes nothing visible when a synced write fails, fails what was queued behind it and refuses further writes', async () => {
      const dir = newDir();
      const store = await openStore(dir);
      await store.transact([put('p', 'a', { n: 1 })]);
      const seen: ChangeRecord[] = [];
      store.subscribe((records) => seen.push(...records));
      const writes = holdWrites();

      const failing = store.transact([put('p', 'a', { n: 2 }, 1)]).catch((e: unknown) => e);
      await writes.reached(1);
      // Checked against the failing transaction, so it cannot stand either.
      const behind = store.transact([put('p', 'a', { n: 3 }, 2)]).catch((e: unknown) => e);
      // The sync is part of the write: this may be a failed sync, after which nothing on disk is sure.
      writes.release(errno('EIO'), 10);

      expect(await failing).toMatchObject({ name: 'StoreError', message: expect.stringMatching(/may or may not be committed/) as unknown });
      expect(await behind).toBeInstanceOf(StoreError);
      expect(await store.get('p', 'a')).toMatchObject({ version: 1, data: { n: 1 } });
      expect(await store.readChanges('1', 10)).toEqual([]);
      expect(seen).toEqual([]);
      await expect(store.transact([put('p', 'b', {})])).rejects.toThrow(/reopen the store/);
      await store.close();
      // The torn line is dropped on reopen.
      expect(await (await openStore(dir)).get('p', 'a')).toMatchObject({ version: 1, data: { n: 1 } });
    });

    it('without syncing, cuts a failed write away, makes nothing visible, fails what was queued behind it and keeps working', async () => {
      const dir = newDir();
      const store = await openStore(dir, { fsync: false });
      await store.transact([put('p', 'a', { n: 1 })]);
      const intact = fs.readFileSync(path.join(dir, WAL_FILE));
      const writes = holdWrites();

      const failing = store.transact([put('p', 'a', { n: 2 }, 1)]).catch((e: unknown) => e);
      await writes.reached(1);
      const behind = store.transact([put('p', 'a', { n: 3 }, 2)]).catch((e: unknown) => e);
      writes.release(errno('ENOSPC'), 10);

      expect(await failing).toMatchObject({ name: 'StoreError', message: expect.stringMatching(/ENOSPC/) as unknown });
      expect(await behind).toBeInstanceOf(StoreError);
      expect(fs.readFileSync(path.join(dir, WAL_FILE))).toEqual(intact);
      expect(await store.get('p', 'a')).toMatchObject({ version: 1, data: { n: 1 } });
      expect(await store.transact([put('p', 'a', { n: 4 }, 1)])).toEqual({ sequenceNumber: '2' });
      await store.close();
      expect(await (await openStore(dir)).get('p', 'a')).toMatchObject({ version: 2, data: { n: 4 } });
    });

    it('without syncing, refuses further writes when a failed write cannot be cut away', async () => {
      const dir = newDir();
      const store = await openStore(dir, { fsync: false });
      await store.transact([put('p', 'a', {})]);
      const writes = holdWrites();
      const failing = store.transact([put('p', 'b', {})]).catch((e: unknown) => e);
      await writes.reached(1);
      vi.spyOn(fs, 'ftruncateSync').mockImplementationOnce(() => {
        throw errno('EIO');
      });

      writes.release(errno('ENOSPC'), 10);

      expect(await failing).toMatchObject({ message: expect.stringMatching(/unknown state/) as unknown });
      expect(await store.get('p', 'b')).toBeUndefined();
      await expect(store.transact([put('p', 'c', {})])).rejects.toThrow(/unknown state/);
      await store.close();
      const reopened = await openStore(dir);
      expect((await queryAll(reopened, 'p')).map((i) => i.sk)).toEqual(['a']);
    });

    it('closes only after the commits in flight, which stay committed', async () => {
      const dir = newDir();
      const store = await EmbeddedStore.open({ dir });
      const writes = holdWrites();
      const commit = track(store.transact([put('p', 'a', {})]));
      await writes.reached(1);

      const closing = track(store.close());
      await new Promise((resolve) => setTimeout(resolve, 20));

      expect(closing.settled).toBe(false);
      await expect(store.transact([put('p', 'b', {})])).rejects.toThrow(/closed/);
      writes.release();
      await closing.promise;
      await expect(commit.promise).resolves.toEqual({ sequenceNumber: '1' });
      const reopened = await openStore(dir);
      expect(await reopened.get('p', 'a')).toMatchObject({ version: 1 });
      expect(await reopened.get('p', 'b')).toBeUndefined();
    });

    it('keeps memory equal to a replay of the log through concurrent commits and compactions', async () => {
      const dir = newDir();
      const store = await openStore(dir, { compactAfterBytes: 2048 });
      await store.transact([put('p', 'hot', { wave: -1 }, 'absent')]);
      let refused = 0;
      for (let wave = 0; wave < 12; wave++) {
        const version = (await store.get('p', 'hot'))?.version ?? 0;
        const writes: Promise<unknown>[] = [];
        // Each conditional put is checked against the ones issued before it, still in flight.
        for (let i = 0; i < 5; i++) writes.push(store.transact([put('p', 'hot', { wave, i }, version + i), put('p', `k${(wave * 7 + i) % 30}`, { wave, i })]));
        writes.push(store.transact([put('p', 'hot', { stale: true }, version)]).catch((e: unknown) => (e instanceof ConflictError ? refused++ : Promise.reject(e))));
        if (wave % 3 === 1) writes.push(store.compact());
        if (wave % 4 === 2) writes.push(store.transact([del('p', `k${wave % 30}`)]));
        await Promise.all(writes);
      }
      const before = await dump(store, ['p']);
      await store.close();

      const reopened = await openStore(dir, { compactAfterBytes: 2048 });

      expect(refused).toBe(12);
      expect(fs.existsSync(path.join(dir, 'snapshot.jsonl'))).toBe(true);
      expect(await reopened.get('p', 'hot')).toMatchObject({ version: 61, data: { wave: 11, i: 4 } });
      expect(await dump(reopened, ['p'])).toEqual(before);
    });
  });
});

/** A promise and whether it has settled yet. */
function track<T>(promise: Promise<T>): { readonly promise: Promise<T>; readonly settled: boolean } {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  return {
    promise,
    get settled() {
      return settled;
    },
  };
}

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated`), { code });
}

type WritevCallback = (error: NodeJS.ErrnoException | null, bytesWritten: number, buffers: NodeJS.ArrayBufferView[]) => void;

/** Replaces `fs.writev`: writes wait until `release`, then go on (or fail). */
class HeldWrites {
  private readonly waiting: ((failure?: { error: NodeJS.ErrnoException; landed: number }) => void)[] = [];
  private readonly spy;

  constructor() {
    const realWritev = fs.writev;
    this.spy = vi.spyOn(fs, 'writev').mockImplementation(((fd: number, buffers: NodeJS.ArrayBufferView[], callback: WritevCallback) => {
      this.waiting.push((failure) => {
        if (!failure) return realWritev(fd, buffers, callback);
        // What a failing write may leave behind: its first bytes.
        fs.writeSync(fd, Buffer.concat(buffers as Buffer[]).subarray(0, failure.landed));
        callback(failure.error, 0, buffers);
      });
    }) as typeof fs.writev);
  }

  /** Resolves once `count` writes are waiting. */
  async reached(count: number): Promise<void> {
    await vi.waitFor(() => expect(this.waiting.length).toBeGreaterThanOrEqual(count), { timeout: 5000 });
  }

  /** Lets the waiting writes go on, or fail with `error` after `landed` bytes, and holds no more. */
  release(error?: NodeJS.ErrnoException, landed = 0): void {
    this.spy.mockRestore();
    for (const write of this.waiting.splice(0)) write(error && { error, landed });
  }
}

function runProbe(dir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, 'probe'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
    });
    child.on('error', reject);
    child.on('exit', () => resolve(out.trim()));
  });
}

/** The pid of a process that has exited and been reaped. */
function deadPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', () => resolve(child.pid ?? 0x3fffffff));
  });
}
