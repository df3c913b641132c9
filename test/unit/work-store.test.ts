/**
 * Work items in the embedded store (a temp directory, no network): idempotent creation,
 * conditional transitions, concurrent claims, the deadline sweeper with re-queueing, results
 * through the RESULTS item, run cancellation, the reconcile leaving agent-owned pairs alone, and
 * the retention of finished items (ttl, reads that ignore expired items, the sweeper's purge).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/adapters/local/embedded-store.ts';
import { AgentSweeper, type SweepReport } from '../../src/api/agent-sweeper.ts';
import { ComplianceEngine } from '../../src/core/compliance/engine.ts';
import { ConflictError } from '../../src/core/errors.ts';
import { resultsKey, workItemKey, workPartition } from '../../src/core/keys.ts';
import { API_VERSION, type AttestationResult, type Provider, type Resource } from '../../src/core/model.ts';
import type { Store, WriteOp } from '../../src/core/ports/store.ts';
import { RESULTS_FORMAT, resultsOf, type AnyResultsItem, type KeyedResultsItem } from '../../src/core/results-item.ts';
import { indexAttributes } from '../../src/core/table-design.ts';
import { planDueWork } from '../../src/core/use-cases/reconcile.ts';
import { LeaseLostError, type WorkItem, type WorkTimeouts } from '../../src/core/work/machine.ts';
import { dispatchAgentWork, WorkItemGoneError, WorkStore, workId } from '../../src/core/work/work-store.ts';
import { attestation, implementation, requirement, resource } from '../support/builders.ts';

const T0 = Date.UTC(2026, 0, 1);
const RETENTION_MS = 60_000;
const TIMEOUTS: WorkTimeouts = { pendingMs: 1_000, scheduledMs: 10_000, readyMs: 2_000, leaseMs: 3_000, abortedMs: 1_000, finishedRetentionMs: RETENTION_MS };
const context = { attestationDigest: 'sha256:a', resourceDigest: 'sha256:r', requirementVersions: {} };

function provider(name: string, type: 'agent' | 'local'): Provider {
  return { apiVersion: API_VERSION, kind: 'Provider', metadata: { name, labels: {} }, spec: { type } };
}

function owned(r: Resource, by: string): Resource {
  return { ...r, spec: { ...r.spec, provider: by } };
}

describe('WorkStore', () => {
  let dir: string;
  let store: EmbeddedStore;
  let work: WorkStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'argus-work-'));
    store = await EmbeddedStore.open({ dir, fsync: false });
    work = new WorkStore(store, { timeouts: TIMEOUTS });
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const newWork = (id: string, res = 'host/a', att = 'perms') => ({ id, provider: 'agent-a', resource: res, attestation: att, runId: 'run-1', attempt: 1, context, timeoutMs: 5_000 });

  it('returns the first item when the same item is created twice, and one live item per pair', async () => {
    const first = await work.create(newWork('w.1'), T0);
    const again = await work.create(newWork('w.1'), T0 + 5);
    const otherRun = await work.create(newWork('x.1'), T0 + 6);
    expect(first.created).toBe(true);
    expect(again).toEqual({ item: first.item, created: false });
    expect(otherRun.created).toBe(false);
    expect(otherRun.item.data.id).toBe('w.1');
    expect(await work.all('agent-a', T0 + 6)).toHaveLength(1);
  });

  it('rejects a stale writer: a transition on an old version is a ConflictError and changes nothing', async () => {
    const { item } = await work.create(newWork('w.1'), T0);
    const scheduled = await work.apply(item, { type: 'assign', providerId: 'agent-a' }, T0 + 1);
    await expect(work.apply(item, { type: 'abort', reason: 'Cancellation' }, T0 + 2)).rejects.toBeInstanceOf(ConflictError);
    expect((await work.get('agent-a', 'w.1', T0 + 2))?.data).toEqual(scheduled.data);
  });

  it('lets concurrent claimers take disjoint items', async () => {
    for (const r of ['h/1', 'h/2', 'h/3', 'h/4']) {
      const { item } = await work.create(newWork(`${r}.1`.replace('/', '-'), r), T0);
      await work.apply(item, { type: 'assign', providerId: 'agent-a' }, T0);
    }
    const [a, b] = await Promise.all([work.claim('agent-a', 'claim-a', 3, T0 + 1), work.claim('agent-a', 'claim-b', 3, T0 + 1)]);
    const ids = [...a, ...b].map((i) => i.data.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(4);
  });

  it('sweeps an expired lease: the item is Aborted(Timeout) and a new attempt is Scheduled; the late result is refused', async () => {
    const { item } = await work.create(newWork(workId('agent-a', 'run-1', 'host/a', 'perms', 1)), T0);
    await work.apply(item, { type: 'assign', providerId: 'agent-a' }, T0);
    const [claimed] = await work.claim('agent-a', 'c', 1, T0);
    const started = await work.apply(claimed!, { type: 'start', claimId: 'c' }, T0);
    expect(await work.sweep('agent-a', T0 + 1_000)).toBe(0);

    expect(await work.sweep('agent-a', T0 + TIMEOUTS.leaseMs)).toBe(1);
    const all = await work.all('agent-a', T0 + TIMEOUTS.leaseMs);
    expect(all.find((i) => i.id === started.data.id)).toMatchObject({ state: 'Aborted', reason: 'Timeout' });
    expect(all.find((i) => i.attempt === 2)).toMatchObject({ state: 'Scheduled', reason: 'Assigned' });
    await expect(work.complete('agent-a', started.data.id, { claimId: 'c', outcome: 'Passed', message: '', executedAt: T0, durationMs: 1 }, T0 + TIMEOUTS.leaseMs + 1)).rejects.toBeInstanceOf(LeaseLostError);
    const rk = resultsKey('host/a');
    expect(await store.get(rk.pk, rk.sk)).toBeUndefined();

    await work.sweep('agent-a', T0 + TIMEOUTS.leaseMs + TIMEOUTS.abortedMs);
    expect((await work.get('agent-a', started.data.id, T0 + TIMEOUTS.leaseMs + TIMEOUTS.abortedMs))?.data).toMatchObject({ state: 'Failed', reason: 'Timeout' });
  });

  it('writes a result into the RESULTS item with the recorded run context, once', async () => {
    const { item } = await work.create(newWork('w.1'), T0);
    await work.apply(item, { type: 'assign', providerId: 'agent-a' }, T0);
    const [claimed] = await work.claim('agent-a', 'c', 1, T0);
    await work.apply(claimed!, { type: 'start', claimId: 'c' }, T0);
    const report = { claimId: 'c', outcome: 'Failed' as const, message: 'mode 0666', output: { mode: '0666' }, executedAt: T0 + 1, durationMs: 3 };

    const done = await work.complete('agent-a', 'w.1', report, T0 + 2);
    await expect(work.complete('agent-a', 'w.1', report, T0 + 3)).rejects.toBeInstanceOf(LeaseLostError);

    expect(done.item.data).toMatchObject({ state: 'Done', reason: 'Failed' });
    const rk = resultsKey('host/a');
    const stored = await store.get<AnyResultsItem>(rk.pk, rk.sk);
    expect(stored?.version).toBe(1);
    expect(resultsOf(stored!.data)).toMatchObject([
      { resource: 'host/a', attestation: 'perms', outcome: 'Failed', attestationDigest: 'sha256:a', resourceDigest: 'sha256:r', evidenceDigest: expect.stringMatching(/^sha256:/) },
    ]);
  });

  it('keeps the other results of a results item of earlier versions and rewrites it in the current form', async () => {
    const rk = resultsKey('host/a');
    const other: AttestationResult = { resource: 'host/a', attestation: 'owner', outcome: 'Passed', message: '', executedAt: T0 - 10, durationMs: 2, attestationDigest: 'sha256:o', resourceDigest: 'sha256:old', requirementVersions: { r: 1 } };
    const keyed: KeyedResultsItem = { resource: 'host/a', results: { owner: other } };
    await store.transact([{ type: 'put', ...rk, data: keyed, ifVersion: 'absent' }]);
    const { item } = await work.create(newWork('w.1'), T0);
    await work.apply(item, { type: 'assign', providerId: 'agent-a' }, T0);
    const [claimed] = await work.claim('agent-a', 'c', 1, T0);
    await work.apply(claimed!, { type: 'start', claimId: 'c' }, T0);

    await work.complete('agent-a', 'w.1', { claimId: 'c', outcome: 'Passed', message: '', executedAt: T0 + 1, durationMs: 3 }, T0 + 2);

    const stored = await store.get<AnyResultsItem>(rk.pk, rk.sk);
    expect(stored?.version).toBe(2);
    expect((stored?.data as { format?: unknown }).format).toBe(RESULTS_FORMAT);
    const results = resultsOf(stored!.data);
    expect(results.find((r) => r.attestation === 'owner')).toEqual(other);
    expect(results.find((r) => r.attestation === 'perms')).toMatchObject({ outcome: 'Passed', resourceDigest: 'sha256:r', executedAt: T0 + 1 });
    expect(results).toHaveLength(2);
  });

  it('aborts the unfinished items of a cancelled run without re-queueing them', async () => {
    const { item } = await work.create(newWork('w.1'), T0);
    await work.apply(item, { type: 'assign', providerId: 'agent-a' }, T0);
    expect(await work.abortRun(['agent-a'], 'run-1', 'Cancellation', T0 + 1)).toBe(1);
    const all = await work.all('agent-a', T0 + 1);
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ state: 'Aborted', reason: 'Cancellation' });
  });

  it('dispatches the due pairs of agent-owned resources only, and the reconcile plan leaves them out', async () => {
    const engine = ComplianceEngine.load(
      [
        provider('agent-a', 'agent'),
        provider('here', 'local'),
        requirement('r'),
        attestation('perms', { provider: 'file', params: { forbiddenModeBits: '0002' } }),
        implementation('i', { requirements: ['r'], attestations: ['perms'] }),
        owned(resource('host/a', 'Host'), 'agent-a'),
        owned(resource('host/b', 'Host'), 'here'),
        resource('host/c', 'Host'),
      ],
      [],
      T0,
    );
    expect(planDueWork(engine, T0).due.map(([resource]) => resource).sort()).toEqual(['host/b', 'host/c']);
    expect(await dispatchAgentWork(work, engine, 'run-1', T0)).toBe(1);
    expect(await dispatchAgentWork(work, engine, 'run-2', T0 + 1)).toBe(0);
    const [only] = await work.all('agent-a', T0 + 1);
    expect(only).toMatchObject({ resource: 'host/a', attestation: 'perms', state: 'Scheduled', providerId: 'agent-a' });
    expect(only?.context.resourceDigest).toBe(engine.index.resources.get('host/a')?.spec.digest);
  });
  describe('retention of finished items', () => {
    /** Runs a new item to Done(Passed) with its result, finishing at `at`. */
    const finish = async (id: string, at: number, res = 'host/a', att = 'perms') => {
      const { item } = await work.create(newWork(id, res, att), at - 3);
      const scheduled = await work.apply(item, { type: 'assign', providerId: 'agent-a' }, at - 3);
      const claimed = await work.apply(scheduled, { type: 'claim', claimId: `c-${id}` }, at - 2);
      await work.apply(claimed, { type: 'start', claimId: `c-${id}` }, at - 1);
      return work.complete('agent-a', id, { claimId: `c-${id}`, outcome: 'Passed', message: '', executedAt: at - 1, durationMs: 1 }, at);
    };
    const ttlOf = (finishedAt: number) => Math.ceil((finishedAt + RETENTION_MS) / 1000);
    const partition = async () => (await store.query(workPartition('agent-a'))).items.map((i) => i.sk);

    it('sets ttl (finish time + retention, epoch seconds) in the write that completes an item, and no pointer outlives it', async () => {
      const done = await finish('w.1', T0 + 10);

      const k = workItemKey('agent-a', 'w.1');
      const raw = await store.get<WorkItem>(k.pk, k.sk);
      expect(done.item.data.ttl).toBe(ttlOf(T0 + 10));
      expect(raw).toMatchObject({ version: done.item.version, data: { state: 'Done', ttl: ttlOf(T0 + 10) } });
      expect(indexAttributes(k.pk, k.sk, raw?.data).ttl).toBe(ttlOf(T0 + 10));
      expect(await partition()).toEqual([k.sk]);
    });

    it('reads a finished item until its ttl and ignores it from then on, even before it is deleted', async () => {
      await finish('w.1', T0 + 10);
      const expiresAt = ttlOf(T0 + 10) * 1000;

      expect((await work.get('agent-a', 'w.1', expiresAt - 1))?.data.state).toBe('Done');
      expect(await work.all('agent-a', expiresAt - 1)).toHaveLength(1);
      expect(await work.get('agent-a', 'w.1', expiresAt)).toBeUndefined();
      expect(await work.all('agent-a', expiresAt)).toEqual([]);
      const k = workItemKey('agent-a', 'w.1');
      expect(await store.get(k.pk, k.sk)).toBeDefined();
    });

    it('purges an expired finished item, and nothing of it is left in the partition', async () => {
      await finish('w.1', T0 + 10);
      const expiresAt = ttlOf(T0 + 10) * 1000;

      expect(await work.purgeExpired('agent-a', expiresAt - 1)).toEqual({ removed: 0 });
      expect(await work.purgeExpired('agent-a', expiresAt)).toEqual({ removed: 1 });

      expect(await partition()).toEqual([]);
    });

    it('refuses a late result for a purged item as it did before the purge (LEASE_LOST), and writes nothing', async () => {
      await finish('w.1', T0 + 10);
      const late = { claimId: 'c-w.1', outcome: 'Failed' as const, message: 'late', executedAt: T0, durationMs: 1 };
      const expiresAt = ttlOf(T0 + 10) * 1000;
      const rk = resultsKey('host/a');
      const results = await store.get<AnyResultsItem>(rk.pk, rk.sk);

      const before = work.complete('agent-a', 'w.1', late, expiresAt - 1);
      await expect(before).rejects.toBeInstanceOf(LeaseLostError);
      await expect(before).rejects.toMatchObject({ code: 'LEASE_LOST' });
      const expired = work.complete('agent-a', 'w.1', late, expiresAt);
      await expect(expired).rejects.toBeInstanceOf(WorkItemGoneError);
      await work.purgeExpired('agent-a', expiresAt);
      const after = work.complete('agent-a', 'w.1', late, expiresAt + 1);
      await expect(after).rejects.toBeInstanceOf(LeaseLostError);
      await expect(after).rejects.toMatchObject({ code: 'LEASE_LOST' });

      expect(await store.get(rk.pk, rk.sk)).toEqual(results);
      expect(await partition()).toEqual([]);
    });

    it('never purges an open item, however old', async () => {
      const { item: pending } = await work.create(newWork('p.1', 'host/p'), T0);
      const { item } = await work.create(newWork('s.1', 'host/s'), T0);
      await work.apply(item, { type: 'assign', providerId: 'agent-a' }, T0);
      const { item: r } = await work.create(newWork('r.1', 'host/r'), T0);
      const ready = await work.apply(await work.apply(r, { type: 'assign', providerId: 'agent-a' }, T0), { type: 'claim', claimId: 'c' }, T0);
      await work.apply(ready, { type: 'start', claimId: 'c' }, T0);
      const { item: a } = await work.create(newWork('a.1', 'host/x'), T0);
      await work.apply(a, { type: 'abort', reason: 'Cancellation' }, T0);
      const tenYears = T0 + 10 * 365 * 86_400_000;

      expect(await work.purgeExpired('agent-a', tenYears)).toEqual({ removed: 0 });

      expect((await work.all('agent-a', tenYears)).map((w) => [w.id, w.state, w.ttl])).toEqual([
        ['a.1', 'Aborted', undefined],
        ['p.1', 'Pending', undefined],
        ['r.1', 'InProgress', undefined],
        ['s.1', 'Scheduled', undefined],
      ]);
      expect(pending.data.ttl).toBeUndefined();
    });

    it('works through a backlog in bounded pages, going on from the cursor it returns', async () => {
      for (let i = 1; i <= 5; i++) await finish(`w${i}.1`, T0 + 10);
      await work.create(newWork('x-open.1', 'host/open'), T0);
      const later = ttlOf(T0 + 10) * 1000;

      const first = await work.purgeExpired('agent-a', later, { pageSize: 2, maxPages: 1 });
      expect(first.removed).toBe(2);
      expect(first.cursor).toBeTypeOf('string');
      let removed = first.removed;
      let cursor = first.cursor;
      let calls = 1;
      while (cursor !== undefined) {
        const next = await work.purgeExpired('agent-a', later, { pageSize: 2, maxPages: 1, cursor });
        removed += next.removed;
        cursor = next.cursor;
        calls++;
      }

      expect(removed).toBe(5);
      expect(calls).toBeGreaterThanOrEqual(3);
      expect((await work.all('agent-a', later)).map((w) => w.id)).toEqual(['x-open.1']);
    });

    it('skips an item that changed after the purge read it: the concurrent write wins', async () => {
      await finish('w.1', T0 + 10);
      const later = ttlOf(T0 + 10) * 1000;
      // Between the purge's read and its delete, the same id is created again (an expired item counts as absent).
      let raced = false;
      const racing: Store = {
        get: (pk, sk) => store.get(pk, sk),
        getMany: (keys) => store.getMany(keys),
        query: (pk, o) => store.query(pk, o),
        readChanges: (after, limit) => store.readChanges(after, limit),
        close: async () => undefined,
        transact: async (ops: readonly WriteOp[], o) => {
          if (!raced && ops.some((op) => op.type === 'delete')) {
            raced = true;
            await work.create(newWork('w.1'), later);
          }
          return store.transact(ops, o);
        },
      };

      expect(await new WorkStore(racing, { timeouts: TIMEOUTS }).purgeExpired('agent-a', later)).toEqual({ removed: 0 });

      expect(raced).toBe(true);
      expect((await work.get('agent-a', 'w.1', later))?.data).toMatchObject({ state: 'Pending', revision: 1 });
      expect((await work.get('agent-a', 'w.1', later))?.data.ttl).toBeUndefined();
    });

    it('creates an item again under the id of an expired one, whether or not that one was deleted yet', async () => {
      await finish('w.1', T0 + 10);
      const later = ttlOf(T0 + 10) * 1000;

      const again = await work.create(newWork('w.1'), later);

      expect(again.created).toBe(true);
      expect(again.item.data).toMatchObject({ state: 'Pending', createdAt: later });
      expect(await work.get('agent-a', 'w.1', later)).toEqual(again.item);
    });
  });

  describe('AgentSweeper', () => {
    it('deletes expired finished items on its pass and reports them; open items are moved on by their deadline, never deleted', async () => {
      const engine = ComplianceEngine.load([provider('agent-a', 'agent')], [], T0);
      let now = T0;
      const reports: SweepReport[] = [];
      const sweeper = new AgentSweeper({ store, engine, clock: { now: () => now }, timeouts: TIMEOUTS, onSweep: (r) => reports.push(r) });
      const { item } = await work.create(newWork('w.1'), T0);
      const started = await work.apply(await work.apply(await work.apply(item, { type: 'assign', providerId: 'agent-a' }, T0), { type: 'claim', claimId: 'c' }, T0), { type: 'start', claimId: 'c' }, T0);
      const done = await work.complete('agent-a', 'w.1', { claimId: 'c', outcome: 'Passed', message: '', executedAt: T0, durationMs: 1 }, T0 + 1);
      const { item: open } = await work.create(newWork('s.1', 'host/s'), T0 + 1);
      await work.apply(open, { type: 'assign', providerId: 'agent-a' }, T0 + 1);
      expect(started.data.state).toBe('InProgress');

      now = T0 + 2;
      expect(await sweeper.sweepOnce()).toEqual({ moved: 0, removed: 0 });
      now = (done.item.data.ttl ?? 0) * 1000;
      expect(await sweeper.sweepOnce()).toEqual({ moved: 1, removed: 1 });

      expect(reports).toEqual([{ moved: 1, removed: 1 }]);
      const k = workItemKey('agent-a', 'w.1');
      expect(await store.get(k.pk, k.sk)).toBeUndefined();
      const left = await work.all('agent-a', now);
      expect(left.find((w) => w.id === 's.1')).toMatchObject({ state: 'Aborted', reason: 'Timeout' });
      expect(left.find((w) => w.resource === 'host/s' && w.attempt === 2)).toMatchObject({ state: 'Scheduled' });
    });
  });
});
