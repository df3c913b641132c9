/**
 * The embedded store opened read-only: no lock taken, nothing written, a view of the state
 * committed at open, beside a writer that holds the directory, appends and compacts. And the
 * local runtime over it, as the CLI's read commands open it while `argus serve` runs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreError } from '#core/errors.ts';
import { queryAll, type StoredItem, type WriteOp } from '#core/ports/store.ts';
import { EmbeddedStore, WAL_FILE } from '../../src/adapters/local/embedded-store.ts';
import { LocalRuntime } from '../../src/adapters/local/local-runtime.ts';
import { BATCH_ITEMS, itemKey, WINDOW } from '../fixtures/store-compactor.ts';
import { runNode, TSX_LOADER } from '../support/child.ts';
import { tempDirs } from '../support/temp-dirs.ts';

const COMPACTOR = fileURLToPath(new URL('../fixtures/store-compactor.ts', import.meta.url));
const QUICKSTART = fileURLToPath(new URL('../../examples/quickstart/', import.meta.url));
const SNAPSHOT_FILE = 'snapshot.jsonl';

const tempDir = tempDirs('each');

const put = (pk: string, sk: string, data: unknown, ifVersion: WriteOp['ifVersion'] = 'any'): WriteOp => ({ type: 'put', pk, sk, data, ifVersion });
const del = (pk: string, sk: string): WriteOp => ({ type: 'delete', pk, sk, ifVersion: 'any' });

/** Every file and folder under `dir` with its bytes and times: what "wrote nothing" compares. */
function fileTree(dir: string): Record<string, { bytes?: string; mtimeNs: bigint; ctimeNs: bigint; ino: bigint }> {
  const out: Record<string, { bytes?: string; mtimeNs: bigint; ctimeNs: bigint; ino: bigint }> = {};
  const walk = (at: string): void => {
    for (const name of fs.readdirSync(at).sort()) {
      const file = path.join(at, name);
      const stat = fs.statSync(file, { bigint: true });
      const key = path.relative(dir, file);
      out[key] = { mtimeNs: stat.mtimeNs, ctimeNs: stat.ctimeNs, ino: stat.ino, ...(stat.isFile() ? { bytes: fs.readFileSync(file).toString('base64') } : {}) };
      if (stat.isDirectory()) walk(file);
    }
  };
  walk(dir);
  return out;
}

async function dump(store: EmbeddedStore, pks: readonly string[]): Promise<StoredItem[]> {
  const out: StoredItem[] = [];
  for (const pk of pks) out.push(...(await queryAll(store, pk)));
  return out;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

describe('EmbeddedStore opened read-only', () => {
  const open: Array<{ close(): Promise<void> }> = [];
  const track = <T extends { close(): Promise<void> }>(closable: T): T => {
    open.push(closable);
    return closable;
  };

  afterEach(async () => {
    for (const closable of open.splice(0).reverse()) await closable.close();
  });

  it('sees everything a writer committed while the writer holds the lock, and a second reader opens beside the first', async () => {
    const dir = tempDir('argus-ro-');
    const writer = track(await EmbeddedStore.open({ dir }));
    for (let i = 0; i < 20; i++) await writer.transact([put('p', `k${String(i).padStart(2, '0')}`, { i })]);
    await writer.compact();
    await writer.transact([put('p', 'k03', { i: 3, again: true }, 1), del('p', 'k04'), put('q', 'x', { list: [1, { deep: true }] })], { clientToken: 'tok' });
    const committed = await dump(writer, ['p', 'q']);
    const changes = await writer.readChanges(undefined, 1000);

    const first = track(await EmbeddedStore.open({ dir, readOnly: true }));
    const second = track(await EmbeddedStore.open({ dir, readOnly: true }));

    expect(first.readOnly).toBe(true);
    expect(await dump(first, ['p', 'q'])).toEqual(committed);
    expect(await dump(second, ['p', 'q'])).toEqual(committed);
    expect(await first.get('p', 'k03')).toMatchObject({ version: 2, data: { i: 3, again: true } });
    // Only the snapshot's transactions are in the feed before the log's, as for a reopen.
    expect(await first.readChanges(undefined, 1000)).toEqual(changes.slice(-3));
    // The writer kept its lock and goes on; the readers hold the state as of their open.
    expect(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8').trim()).toBe(String(process.pid));
    await writer.transact([put('p', 'later', {})]);
    expect(await first.get('p', 'later')).toBeUndefined();
    const third = track(await EmbeddedStore.open({ dir, readOnly: true }));
    expect(await third.get('p', 'later')).toMatchObject({ version: 1 });
  });

  it('lets a writer open and write while readers have it open', async () => {
    const dir = tempDir('argus-ro-first-');
    const seed = await EmbeddedStore.open({ dir });
    await seed.transact([put('p', 'a', { n: 1 })]);
    await seed.close();
    const reader = track(await EmbeddedStore.open({ dir, readOnly: true }));

    const writer = track(await EmbeddedStore.open({ dir }));
    await writer.transact([put('p', 'a', { n: 2 }, 1)]);

    expect(await reader.get('p', 'a')).toMatchObject({ version: 1, data: { n: 1 } });
    expect(await writer.get('p', 'a')).toMatchObject({ version: 2, data: { n: 2 } });
  });

  it('writes nothing: the listing, bytes and times of the directory are the same after open, reads and close', async () => {
    const dir = tempDir('argus-ro-untouched-');
    const writer = await EmbeddedStore.open({ dir });
    for (let i = 0; i < 10; i++) await writer.transact([put('p', `k${i}`, { i })]);
    await writer.compact();
    await writer.transact([put('p', 'k0', { i: 0, again: true }, 1)]);
    await writer.close();
    // What a writer's open would clean up: a temporary snapshot left by a crash.
    fs.writeFileSync(path.join(dir, `${SNAPSHOT_FILE}.tmp`), '{"format":1');
    const before = fileTree(dir);

    const reader = await EmbeddedStore.open({ dir, readOnly: true });
    const items = await queryAll(reader, 'p');
    await reader.readChanges(undefined, 100);
    await reader.close();

    expect(items).toHaveLength(10);
    expect(fileTree(dir)).toEqual(before);
    expect(Object.keys(before).sort()).toEqual([SNAPSHOT_FILE, `${SNAPSHOT_FILE}.tmp`, WAL_FILE]);
  });

  it('reads a missing directory as an empty store without creating it', async () => {
    const dir = path.join(tempDir('argus-ro-missing-'), 'not-yet');

    const reader = await EmbeddedStore.open({ dir, readOnly: true });

    expect(await queryAll(reader, 'p')).toEqual([]);
    await reader.close();
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('reads a log whose last line is torn (an append in progress) up to the last complete transaction, and leaves the file as it is', async () => {
    const dir = tempDir('argus-ro-torn-');
    const writer = track(await EmbeddedStore.open({ dir }));
    await writer.transact([put('p', 'a', { n: 1 })]);
    await writer.transact([put('p', 'b', { n: 1 })]);
    const wal = path.join(dir, WAL_FILE);
    fs.appendFileSync(wal, '{"tx":3,"seq":3,"t":1,"ops":[["put","p","c",{"n"');
    const torn = fs.readFileSync(wal);

    const reader = track(await EmbeddedStore.open({ dir, readOnly: true }));

    expect((await queryAll(reader, 'p')).map((i) => i.sk)).toEqual(['a', 'b']);
    expect(await reader.get('p', 'c')).toBeUndefined();
    expect(fs.readFileSync(wal)).toEqual(torn);
  });

  it('reports damage no writer explains at once, naming file and line as a writer would', async () => {
    const dir = tempDir('argus-ro-corrupt-');
    const writer = await EmbeddedStore.open({ dir });
    for (let i = 0; i < 3; i++) await writer.transact([put('p', `k${i}`, { i })]);
    await writer.close();
    const wal = path.join(dir, WAL_FILE);
    const lines = fs.readFileSync(wal, 'utf8').split('\n');
    lines[1] = `${(lines[1] ?? '').slice(0, 20)}#garbage`;
    fs.writeFileSync(wal, lines.join('\n'));
    const corrupt = fs.readFileSync(wal);

    const error = await EmbeddedStore.open({ dir, readOnly: true }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).message).toContain(`${wal}:2`);
    expect(fs.readFileSync(wal)).toEqual(corrupt);
  });

  it('refuses transact and compact with a read-only StoreError, a client token already committed included', async () => {
    const dir = tempDir('argus-ro-refuse-');
    const writer = track(await EmbeddedStore.open({ dir }));
    await writer.transact([put('p', 'a', { n: 1 })], { clientToken: 'tok' });
    const reader = track(await EmbeddedStore.open({ dir, readOnly: true }));
    const before = fileTree(dir);

    const transact = await reader.transact([put('p', 'b', {})]).catch((e: unknown) => e);
    const replay = await reader.transact([put('p', 'a', { n: 1 })], { clientToken: 'tok' }).catch((e: unknown) => e);
    const compact = await reader.compact().catch((e: unknown) => e);

    for (const error of [transact, replay, compact]) {
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).message).toMatch(/^store opened read-only: (transact|compact) refused in /);
    }
    expect(fileTree(dir)).toEqual(before);
    expect(await reader.get('p', 'b')).toBeUndefined();
  });

  it('gives every reader one committed state while a writer process commits and compacts', async () => {
    const dir = tempDir('argus-ro-race-');
    let committed = 0;
    let compactions = 0;
    let wanted: { readonly commits: number; readonly resolve: () => void } | undefined;
    let kill: () => void = () => undefined;
    // A compaction every 20 commits: often enough that reads straddle some, as a busy writer's would.
    const child = runNode(['--import', TSX_LOADER, COMPACTOR, dir, '20'], {
      timeoutMs: 180_000,
      onSpawn: (k) => {
        kill = k;
      },
      onLine: (line) => {
        const [what, n] = line.split(' ');
        if (what === 'commit') committed = Number(n);
        if (what === 'compact') compactions++;
        if (wanted && committed >= wanted.commits) wanted.resolve();
      },
    });
    try {
      // Past the window, so the writer deletes as well as puts, and past a few compactions.
      await new Promise<void>((resolve) => {
        wanted = { commits: WINDOW + 10, resolve };
      });
      const compactionsBefore = compactions;
      const seen: number[] = [];

      // 50 reads at least, and on until the writer compacted a few times under them (a slow disk commits slowly).
      for (let read = 0; read < 50 || compactions - compactionsBefore < 3; read++) {
        const floor = committed;
        const reader = await EmbeddedStore.open({ dir, readOnly: true });
        const markers = await queryAll<{ n: number; count: number }>(reader, 'markers');
        const items = await queryAll(reader, 'items');
        await reader.close();

        // Whole, consecutive batches ending at the last one committed: one committed state.
        const latest = markers.at(-1)?.data.n ?? 0;
        expect(latest, `read ${read}`).toBeGreaterThanOrEqual(floor);
        expect(markers.map((m) => m.data.n)).toEqual(range(Math.max(1, latest - WINDOW + 1), latest));
        expect(markers.every((m) => m.data.count === BATCH_ITEMS)).toBe(true);
        expect(items).toHaveLength(markers.length * BATCH_ITEMS);
        expect(items.map((i) => i.sk)).toEqual(markers.flatMap((m) => range(0, BATCH_ITEMS - 1).map((i) => itemKey(m.data.n, i))));
        seen.push(latest);
      }

      // The reads really ran beside the writer's commits.
      expect(new Set(seen).size).toBeGreaterThan(1);
    } finally {
      kill();
      await child.catch(() => undefined);
    }
  }, 180_000);
});

describe('LocalRuntime opened read-only', () => {
  it('reads the state beside a runtime holding the home, opens no evidence ledger and refuses writes', async () => {
    const home = tempDir('argus-ro-runtime-');
    const writer = await LocalRuntime.open({ home, fsync: false });
    try {
      await writer.applyFiles([path.join(QUICKSTART, 'catalog.yaml')]);
      await writer.importCloudFormation([path.join(QUICKSTART, 'template.yaml')]);
      await writer.reconcile();
      const before = fileTree(home);

      const reader = await LocalRuntime.open({ home, readOnly: true });
      let refusals: unknown[];
      try {
        expect(reader.readOnly).toBe(true);
        expect(reader.report().totals).toEqual(writer.report().totals);
        expect(reader.report().totals.pairs).toBeGreaterThan(0);
        refusals = [
          await reader.applyFiles([path.join(QUICKSTART, 'catalog.yaml')]).catch((e: unknown) => e),
          await reader.apply([], [{ kind: 'Requirement', name: 'sc-28' }]).catch((e: unknown) => e),
          await reader.importCloudFormation([path.join(QUICKSTART, 'template.yaml')]).catch((e: unknown) => e),
          await reader.reconcile().catch((e: unknown) => e),
          (() => {
            try {
              return reader.evidence;
            } catch (e) {
              return e;
            }
          })(),
        ];
      } finally {
        await reader.close();
      }

      for (const error of refusals) {
        expect(error).toBeInstanceOf(StoreError);
        expect((error as StoreError).message).toMatch(/^runtime opened read-only: /);
      }
      expect(fileTree(home)).toEqual(before);
      // The writer is unaffected.
      expect((await writer.apply([], [{ kind: 'Waiver', name: 'none' }])).deleted).toEqual([]);
    } finally {
      await writer.close();
    }
  });

  it('creates nothing in a home that does not exist: no directory, ledger or signing key', async () => {
    const home = path.join(tempDir('argus-ro-runtime-missing-'), 'home');

    const reader = await LocalRuntime.open({ home, readOnly: true });
    const report = reader.report();
    await reader.close();

    expect(report.totals.pairs).toBe(0);
    expect(fs.existsSync(home)).toBe(false);
  });
});
