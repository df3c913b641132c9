/**
 * Kills a writing process with SIGKILL at chosen points (inside 5,000-item transactions, between
 * small ones, during compaction) and checks what a reopen finds: every transaction the child saw
 * commit is fully there, none is partly there, and the store keeps working.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { queryAll } from '#core/ports/store.ts';
import { EmbeddedStore } from '../../src/adapters/local/embedded-store.ts';

const WRITER = fileURLToPath(new URL('../fixtures/store-writer.ts', import.meta.url));
/** Small, so kills also land inside compactions. */
const COMPACT_AFTER_BYTES = 1024 * 1024;

interface ChildOutcome {
  /** Tag → item count, for every transaction the child reported committed. */
  readonly committed: Map<string, number>;
  /** Tags the child reported rewritten (to version 2). */
  readonly rewritten: Set<string>;
  readonly signal: NodeJS.Signals | null;
  readonly lines: number;
}

interface KillPlan {
  /** Kill once this many lines were printed, then: */
  readonly afterLines: number;
  /**
   * `any`: after `delayMs`; `big`: `delayMs` after the next `begin` line (inside a 5,000-item
   * transaction); `compaction`: `delayMs` after a temporary snapshot appears.
   */
  readonly at: 'any' | 'big' | 'compaction';
  readonly delayMs: number;
}

/** Deterministic pseudo-random numbers (mulberry32), so failures reproduce. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function runAndKill(dir: string, runId: string, plan: KillPlan): Promise<ChildOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, 'write', runId, String(COMPACT_AFTER_BYTES)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const committed = new Map<string, number>();
    const rewritten = new Set<string>();
    let lines = 0;
    let pending = '';
    let stderr = '';
    let killScheduled = false;
    const kill = (): void => {
      if (killScheduled) return;
      killScheduled = true;
      setTimeout(() => child.kill('SIGKILL'), plan.delayMs);
    };
    let watcher: fs.FSWatcher | undefined;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        lines++;
        const [kind, tag, value] = line.split(' ');
        if (kind === 'commit' && tag !== undefined) committed.set(tag, Number(value));
        if (kind === 'rewrite' && tag !== undefined) rewritten.add(tag);
        if (lines < plan.afterLines || watcher) continue;
        if (plan.at === 'compaction') {
          watcher = fs.watch(dir, (_event, file) => {
            if (file === 'snapshot.jsonl.tmp') kill();
          });
        } else if (plan.at === 'any' || kind === 'begin') {
          kill();
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    // 'exit' comes after the child was reaped, so its pid no longer holds the lock.
    child.on('exit', (code, signal) => {
      watcher?.close();
      if (signal === null) reject(new Error(`writer exited with code ${code} before the kill: ${stderr}`));
      else resolve({ committed, rewritten, signal, lines });
    });
  });
}

interface Marker {
  readonly tag: string;
  readonly count: number;
}

/** Asserts the all-or-nothing invariant over the whole store; returns the tags present. */
async function checkStore(store: EmbeddedStore): Promise<Map<string, { count: number; version: number }>> {
  const markers = await queryAll<Marker>(store, 'markers');
  const items = await queryAll<{ tag: string }>(store, 'items');
  const present = new Map<string, { count: number; version: number }>();
  for (const marker of markers) present.set(marker.sk, { count: marker.data.count, version: marker.version });

  const perTag = new Map<string, { count: number; versions: Set<number> }>();
  for (const item of items) {
    const entry = perTag.get(item.data.tag) ?? { count: 0, versions: new Set<number>() };
    entry.count++;
    entry.versions.add(item.version);
    perTag.set(item.data.tag, entry);
  }
  for (const [tag, { count, versions }] of perTag) {
    const marker = present.get(tag);
    expect(marker, `items of ${tag} without its marker`).toBeDefined();
    expect(count, `item count of ${tag}`).toBe(marker?.count);
    expect([...versions], `versions of ${tag} (a rewrite applied partly?)`).toEqual([marker?.version]);
  }
  for (const [tag, { count }] of present) expect(perTag.get(tag)?.count ?? 0, `items of ${tag}`).toBe(count);
  return present;
}

describe('EmbeddedStore under SIGKILL', () => {
  const dirs: string[] = [];

  afterAll(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every reported transaction and no partial one across repeated kills', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'argus-crash-'));
    dirs.push(dir);
    const rng = random(20240611);
    const reported = new Map<string, number>();
    const reportedRewrites = new Set<string>();

    for (let run = 0; run < 6; run++) {
      const at = (['big', 'any', 'compaction'] as const)[run % 3] ?? 'any';
      const plan: KillPlan = { afterLines: 2 + Math.floor(rng() * 60), at, delayMs: Math.floor(rng() * { big: 25, any: 60, compaction: 150 }[at]) };

      const outcome = await runAndKill(dir, `r${run}`, plan);

      expect(outcome.signal).toBe('SIGKILL');
      for (const [tag, count] of outcome.committed) reported.set(tag, count);
      for (const tag of outcome.rewritten) reportedRewrites.add(tag);
      const store = await EmbeddedStore.open({ dir, compactAfterBytes: COMPACT_AFTER_BYTES });
      try {
        const present = await checkStore(store);
        for (const [tag, count] of reported) {
          expect(present.get(tag)?.count, `committed transaction ${tag}`).toBe(count);
        }
        for (const tag of reportedRewrites) expect(present.get(tag)?.version, `rewrite of ${tag}`).toBe(2);
        const inFlight = [...present.keys()].filter((tag) => !reported.has(tag));
        // At most the one transaction in flight at the kill may have landed unreported.
        expect(inFlight.length, `unreported transactions present: ${inFlight.join(', ')}`).toBeLessThanOrEqual(1);
        for (const tag of inFlight) reported.set(tag, present.get(tag)?.count ?? 0);

        const after = `after-r${run}`;
        await store.transact([
          { type: 'put', pk: 'markers', sk: after, data: { tag: after, count: 1 }, ifVersion: 'absent' },
          { type: 'put', pk: 'items', sk: `${after}#00000`, data: { tag: after }, ifVersion: 'absent' },
        ]);
        reported.set(after, 1);
        expect(await store.get('items', `${after}#00000`)).toMatchObject({ version: 1 });
      } finally {
        await store.close();
      }
    }

    const store = await EmbeddedStore.open({ dir });
    try {
      const present = await checkStore(store);
      expect(present.size).toBe(reported.size);
    } finally {
      await store.close();
    }
  }, 120_000);
});
