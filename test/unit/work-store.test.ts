/**
 * Work items in the embedded store (a temp directory, no network): idempotent creation,
 * conditional transitions, concurrent claims, the deadline sweeper with re-queueing, results
 * through the RESULTS item, run cancellation, and the reconcile leaving agent-owned pairs alone.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/adapters/local/embedded-store.ts';
import { ComplianceEngine } from '../../src/core/compliance/engine.ts';
import { ConflictError } from '../../src/core/errors.ts';
import { resultsKey } from '../../src/core/keys.ts';
import { API_VERSION, type AttestationResult, type Provider, type Resource } from '../../src/core/model.ts';
import { RESULTS_FORMAT, resultsOf, type AnyResultsItem, type KeyedResultsItem } from '../../src/core/results-item.ts';
import { planDueWork } from '../../src/core/use-cases/reconcile.ts';
import { LeaseLostError, type WorkTimeouts } from '../../src/core/work/machine.ts';
import { dispatchAgentWork, WorkStore, workId } from '../../src/core/work/work-store.ts';
import { attestation, implementation, requirement, resource } from '../support/builders.ts';

const T0 = Date.UTC(2026, 0, 1);
const TIMEOUTS: WorkTimeouts = { pendingMs: 1_000, scheduledMs: 10_000, readyMs: 2_000, leaseMs: 3_000, abortedMs: 1_000 };
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
    expect(await work.all('agent-a')).toHaveLength(1);
  });

  it('rejects a stale writer: a transition on an old version is a ConflictError and changes nothing', async () => {
    const { item } = await work.create(newWork('w.1'), T0);
    const scheduled = await work.apply(item, { type: 'assign', providerId: 'agent-a' }, T0 + 1);
    await expect(work.apply(item, { type: 'abort', reason: 'Cancellation' }, T0 + 2)).rejects.toBeInstanceOf(ConflictError);
    expect((await work.get('agent-a', 'w.1'))?.data).toEqual(scheduled.data);
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
    const all = await work.all('agent-a');
    expect(all.find((i) => i.id === started.data.id)).toMatchObject({ state: 'Aborted', reason: 'Timeout' });
    expect(all.find((i) => i.attempt === 2)).toMatchObject({ state: 'Scheduled', reason: 'Assigned' });
    await expect(work.complete('agent-a', started.data.id, { claimId: 'c', outcome: 'Passed', message: '', executedAt: T0, durationMs: 1 }, T0 + TIMEOUTS.leaseMs + 1)).rejects.toBeInstanceOf(LeaseLostError);
    const rk = resultsKey('host/a');
    expect(await store.get(rk.pk, rk.sk)).toBeUndefined();

    await work.sweep('agent-a', T0 + TIMEOUTS.leaseMs + TIMEOUTS.abortedMs);
    expect((await work.get('agent-a', started.data.id))?.data).toMatchObject({ state: 'Failed', reason: 'Timeout' });
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
    const all = await work.all('agent-a');
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
    expect([...planDueWork(engine, T0).due.keys()].sort()).toEqual(['host/b', 'host/c']);
    expect(await dispatchAgentWork(work, engine, 'run-1', T0)).toBe(1);
    expect(await dispatchAgentWork(work, engine, 'run-2', T0 + 1)).toBe(0);
    const [only] = await work.all('agent-a');
    expect(only).toMatchObject({ resource: 'host/a', attestation: 'perms', state: 'Scheduled', providerId: 'agent-a' });
    expect(only?.context.resourceDigest).toBe(engine.index.resources.get('host/a')?.spec.digest);
  });
});
