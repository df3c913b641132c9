/**
 * The reconcile evaluates the next batch while the previous one commits. These tests hold the
 * store's commits open to show the overlap, and that it changes nothing a caller relies on:
 * batches commit one at a time and in order, a failed commit stops the run with nothing after
 * it written, and an abort waits for the commit in flight. A commit made of several writes moves on
 * while the next batch runs (the reconcile lets the event loop turn between resources).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateOrganisation } from '../../bench/generate-org.ts';
import { LocalRuntime } from '../../src/adapters/local/local-runtime.ts';
import { parseKey } from '../../src/core/keys.ts';
import type { Store, TransactOptions, TransactResult, WriteOp } from '../../src/core/ports/store.ts';
import { reconcile, type ProviderLookup } from '../../src/core/use-cases/reconcile.ts';
import { tempDirs } from '../support/temp-dirs.ts';

const newDir = tempDirs('each');
const RESOURCES = 12;
const BATCH = 3;

/** The runtime's store, with every commit held for a turn of the event loop and logged. */
function heldStore(inner: Store, log: string[], failOnCommit?: number): Store {
  let commits = 0;
  return {
    get: async (pk, sk) => {
      const key = parseKey(pk, sk);
      if (key.type === 'results') log.push(`read ${key.resource}`);
      return inner.get(pk, sk);
    },
    getMany: async (keys) => {
      for (const { pk, sk } of keys) {
        const key = parseKey(pk, sk);
        if (key.type === 'results') log.push(`read ${key.resource}`);
      }
      return inner.getMany(keys);
    },
    query: (pk, options) => inner.query(pk, options),
    readChanges: (after, limit) => inner.readChanges(after, limit),
    close: () => inner.close(),
    async transact(ops: readonly WriteOp[], options?: TransactOptions): Promise<TransactResult> {
      const n = ++commits;
      log.push(`commit ${n} start`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (n === failOnCommit) {
        log.push(`commit ${n} failed`);
        throw new Error(`disk full on commit ${n}`);
      }
      const result = await inner.transact(ops, options);
      log.push(`commit ${n} end`);
      return result;
    },
  };
}

describe('reconcile pipeline', () => {
  let runtime: LocalRuntime;

  beforeEach(async () => {
    runtime = await LocalRuntime.open({ home: newDir('argus-pipeline-'), fsync: false });
    const { definitions } = generateOrganisation({ resources: RESOURCES, requirements: 2, attestationsPerRequirement: 2, accounts: 1, servicesPerAccount: 2, failureRate: 0.5 });
    await runtime.apply(definitions);
  });

  afterEach(async () => {
    await runtime.close();
  });

  const run = (store: Store, extra: { signal?: AbortSignal; onProgress?: () => void } = {}) =>
    reconcile({ store, engine: runtime.engine, providers: runtime.providers, clock: runtime.clock, batchSize: BATCH, ...extra });

  it('evaluates the next batch while the previous one commits, one commit at a time, in order', async () => {
    const log: string[] = [];

    const summary = await run(heldStore(runtime.store, log));

    expect(summary.evaluated).toBe(RESOURCES * 2);
    const commits = log.filter((l) => l.startsWith('commit'));
    expect(commits).toEqual(Array.from({ length: RESOURCES / BATCH }, (_, i) => [`commit ${i + 1} start`, `commit ${i + 1} end`]).flat());
    // The second batch's reads happen between the first commit's start and end.
    const firstStart = log.indexOf('commit 1 start');
    const firstEnd = log.indexOf('commit 1 end');
    expect(log.slice(firstStart, firstEnd).filter((l) => l.startsWith('read'))).toHaveLength(BATCH);
    expect(runtime.engine.dueWork().next().done).toBe(true);
  });

  it('stops at a failed commit with its error, keeps the batch before it and writes nothing after it', async () => {
    const log: string[] = [];

    await expect(run(heldStore(runtime.store, log, 2))).rejects.toThrow('disk full on commit 2');

    expect(log.filter((l) => l.startsWith('commit'))).toEqual(['commit 1 start', 'commit 1 end', 'commit 2 start', 'commit 2 failed']);
    runtime.engine.flush();
    const due = new Set([...runtime.engine.dueWork()].map((w) => w.resource));
    expect(due.size).toBe(RESOURCES - BATCH);
    // The next reconcile finds the rest due and finishes it.
    const rest = await run(runtime.store);
    expect(rest.evaluated).toBe((RESOURCES - BATCH) * 2);
  });

  it('waits for the commit in flight when aborted, and counts only committed work', async () => {
    const log: string[] = [];
    const abort = new AbortController();

    const summary = await run(heldStore(runtime.store, log), { signal: abort.signal, onProgress: () => abort.abort() });

    expect(summary.aborted).toBe(true);
    const ends = log.filter((l) => l.endsWith(' end')).length;
    expect(log.filter((l) => l.endsWith(' start')).length).toBe(ends);
    expect(summary.evaluated).toBe(ends * BATCH * 2);
    runtime.engine.flush();
    expect(new Set([...runtime.engine.dueWork()].map((w) => w.resource)).size).toBe(RESOURCES - ends * BATCH);
  });
});

describe('reconcile pipeline with a commit of several writes', () => {
  const BIG_BATCH = 20;
  let runtime: LocalRuntime;

  beforeEach(async () => {
    runtime = await LocalRuntime.open({ home: newDir('argus-pipeline-steps-'), fsync: false });
    const { definitions } = generateOrganisation({ resources: 2 * BIG_BATCH, requirements: 2, attestationsPerRequirement: 2, accounts: 1, servicesPerAccount: 2, failureRate: 0.5 });
    await runtime.apply(definitions);
  });

  afterEach(async () => {
    await runtime.close();
  });

  /** The runtime's store, with each commit made of two more writes, each completing in a later turn of the event loop. */
  function steppedStore(inner: Store, log: string[]): Store {
    let commits = 0;
    return {
      get: (pk, sk) => inner.get(pk, sk),
      getMany: (keys) => inner.getMany(keys),
      query: (pk, options) => inner.query(pk, options),
      readChanges: (after, limit) => inner.readChanges(after, limit),
      close: () => inner.close(),
      async transact(ops: readonly WriteOp[], options?: TransactOptions): Promise<TransactResult> {
        const n = ++commits;
        for (const step of [1, 2]) {
          await new Promise((resolve) => setImmediate(resolve));
          log.push(`commit ${n} write ${step}`);
        }
        return inner.transact(ops, options);
      },
    };
  }

  /** The runtime's providers, each run logged with its resource. */
  function loggedProviders(log: string[]): ProviderLookup {
    return {
      get: (name) => {
        const provider = runtime.providers.get(name);
        if (!provider) return undefined;
        return {
          name: provider.name,
          validateParams: (params) => provider.validateParams(params),
          attest: (attestation, resource) => {
            log.push(`run ${resource.metadata.name}`);
            return provider.attest(attestation, resource);
          },
        };
      },
    };
  }

  it('moves the previous batch commit on while the next batch runs, not only after it', async () => {
    const log: string[] = [];

    const summary = await reconcile({ store: steppedStore(runtime.store, log), engine: runtime.engine, providers: loggedProviders(log), clock: runtime.clock, batchSize: BIG_BATCH });

    expect(summary.evaluated).toBe(2 * BIG_BATCH * 2);
    const runs = log.flatMap((line, at) => (line.startsWith('run ') ? [at] : []));
    const secondBatchRuns = runs.slice(BIG_BATCH * 2);
    // Both writes of the first commit land between the second batch's first and last runs.
    for (const step of [1, 2]) {
      const at = log.indexOf(`commit 1 write ${step}`);
      expect(at).toBeGreaterThan(secondBatchRuns[0] as number);
      expect(at).toBeLessThan(secondBatchRuns[secondBatchRuns.length - 1] as number);
    }
    expect(runtime.engine.dueWork().next().done).toBe(true);
  });
});
