/**
 * Finished agent work items over the agent routes (loopback HTTP, embedded store, fake clock): a
 * finished item stays readable for its retention, then is gone from every read; the sweeper
 * deletes it, and a late result gets the same 409 LEASE_LOST before and after, writing nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/adapters/local/embedded-store.ts';
import { ApiServer } from '../../src/adapters/local/http-server.ts';
import { createAgentHandler } from '../../src/api/agent-handlers.ts';
import type { ApiContext } from '../../src/api/context.ts';
import { AgentSweeper } from '../../src/api/agent-sweeper.ts';
import { createApiHandlers } from '../../src/api/handlers.ts';
import { ComplianceEngine } from '../../src/core/compliance/engine.ts';
import { resultsKey } from '../../src/core/keys.ts';
import { API_VERSION, type Provider, type Resource } from '../../src/core/model.ts';
import { issueApiKey } from '../../src/core/providers-registry/credentials.ts';
import { AGENT_RUNTIME_VERSION } from '../../src/core/providers-registry/version-policy.ts';
import { DEFAULT_WORK_TIMEOUTS, type WorkTimeouts } from '../../src/core/work/machine.ts';
import { attestation, implementation, requirement, resource } from '../support/builders.ts';

const T0 = Date.UTC(2026, 0, 1);
const RETENTION_MS = 3_600_000;
const TIMEOUTS: WorkTimeouts = { ...DEFAULT_WORK_TIMEOUTS, finishedRetentionMs: RETENTION_MS };

describe('finished agent work over the agent routes', () => {
  let dir: string;
  let store: EmbeddedStore;
  let server: ApiServer;
  let now = T0;
  let key = '';
  let sweeper: AgentSweeper;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'argus-work-retention-'));
    store = await EmbeddedStore.open({ dir, fsync: false });
    now = T0;
    const agent: Provider = { apiVersion: API_VERSION, kind: 'Provider', metadata: { name: 'agent-a', labels: {} }, spec: { type: 'agent' } };
    const host: Resource = resource('host/a', 'Host');
    const engine = ComplianceEngine.load(
      [agent, requirement('r'), attestation('perms', { provider: 'file', params: {} }), implementation('i', { requirements: ['r'], attestations: ['perms'] }), { ...host, spec: { ...host.spec, provider: 'agent-a' } }],
      [],
      T0,
    );
    const clock = { now: () => now };
    const ctx: ApiContext = { store, providers: new Map(), clock, engine: async () => engine };
    sweeper = new AgentSweeper({ store, engine, clock, timeouts: TIMEOUTS });
    server = await ApiServer.start({ handlers: createApiHandlers(() => ctx, { logger: () => undefined }), agents: createAgentHandler(() => ctx, { timeouts: TIMEOUTS, logger: () => undefined }), port: 0 });
    key = (await issueApiKey(store, 'agent-a', T0)).key;
  });
  afterEach(async () => {
    await server.close(1000);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'x-argus-agent-version': AGENT_RUNTIME_VERSION, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const adminList = async () => ((await call('GET', '/providers/agent-a/work')).json.items as Array<{ id: string }>).map((i) => i.id);

  it('answers a late result with 409 LEASE_LOST before and after the item is swept, and writes nothing', async () => {
    const claimed = await call('POST', '/agents/agent-a/work/claim', { agentId: 'a1', max: 1 });
    const claimId = claimed.json.claimId as string;
    const [item] = claimed.json.items as Array<{ id: string }>;
    expect(item).toBeDefined();
    const id = item?.id ?? '';
    expect((await call('POST', `/agents/agent-a/work/${id}/start`, { claimId })).status).toBe(200);
    const report = { claimId, outcome: 'Passed', message: 'ok', executedAt: T0, durationMs: 1 };
    expect((await call('POST', `/agents/agent-a/work/${id}/result`, report)).status).toBe(200);
    const rk = resultsKey('host/a');
    const results = await store.get(rk.pk, rk.sk);

    now = T0 + RETENTION_MS - 1;
    const before = await call('POST', `/agents/agent-a/work/${id}/result`, report);
    expect(await adminList()).toContain(id);
    expect((await call('GET', `/agents/agent-a/work/${id}`)).status).toBe(200);

    now = T0 + RETENTION_MS + 1_000;
    const expired = await call('POST', `/agents/agent-a/work/${id}/result`, report);
    expect(await adminList()).not.toContain(id);
    expect((await call('GET', `/agents/agent-a/work/${id}`)).status).toBe(404);
    expect((await sweeper.sweepOnce()).removed).toBe(1);
    const swept = await call('POST', `/agents/agent-a/work/${id}/result`, report);

    for (const late of [before, expired, swept]) expect(late).toMatchObject({ status: 409, json: { error: { code: 'LEASE_LOST' } } });
    expect(await store.get(rk.pk, rk.sk)).toEqual(results);
  });
});
