import { describe, expect, it } from 'vitest';
import type { PlanRunRecords, RunRecord } from '../../src/core/compliance/definition-index.ts';
import { API_VERSION, type Attestation, type Resource } from '../../src/core/model.ts';
import type { AttestationProvider, ProviderOutcome } from '../../src/core/ports/attestation-provider.ts';
import { PreparedRuns } from '../../src/core/use-cases/prepared-runs.ts';

function attestation(name: string, provider: string, timeoutMs = 10_000): Attestation {
  return {
    apiVersion: API_VERSION,
    kind: 'Attestation',
    metadata: { name, labels: {} },
    spec: { provider, params: {}, resourceTypes: [], freshnessMs: 3_600_000, timeoutMs },
  };
}

function resource(name: string): Resource {
  return { apiVersion: API_VERSION, kind: 'Resource', metadata: { name, labels: {} }, spec: { type: 'T', classes: [], document: {}, digest: 'sha256:d' } };
}

const passed: ProviderOutcome = { outcome: 'Passed', message: 'ok' };

function lookup(...providers: AttestationProvider[]) {
  return { get: (name: string) => providers.find((p) => p.name === name) };
}

function provider(name: string, attest: AttestationProvider['attest'], prepare?: AttestationProvider['prepare']): AttestationProvider {
  return { name, validateParams: () => [], attest, ...(prepare ? { prepare } : {}) };
}

describe('PreparedRuns', () => {
  it('errs on every run of an attestation whose provider is unknown', () => {
    const run = new PreparedRuns(lookup()).of(attestation('a', 'nope'));
    expect(run(resource('r'))).toEqual({ outcome: 'Errored', message: 'unknown provider "nope"' });
  });

  it("runs a provider without prepare through its attest, with the run's resource", () => {
    const seen: string[] = [];
    const runs = new PreparedRuns(lookup(provider('p', (a, r) => (seen.push(`${a.metadata.name}@${r.metadata.name}`), passed))));
    const run = runs.of(attestation('a', 'p'));
    expect([run(resource('r1')), run(resource('r2'))]).toEqual([passed, passed]);
    expect(seen).toEqual(['a@r1', 'a@r2']);
  });

  it('turns a check that throws, or rejects, into an Errored outcome naming the provider', async () => {
    const throwing = provider('sync', () => {
      throw new Error('boom');
    });
    const rejecting = provider('async', () => Promise.reject(new Error('bang')));
    const runs = new PreparedRuns(lookup(throwing, rejecting));
    expect(runs.of(attestation('a', 'sync'))(resource('r'))).toEqual({ outcome: 'Errored', message: 'provider sync threw: boom' });
    expect(await runs.of(attestation('b', 'async'))(resource('r'))).toEqual({ outcome: 'Errored', message: 'provider async threw: bang' });
  });

  it('errs on every run of an attestation its provider cannot prepare', () => {
    const failing = provider('p', () => passed, () => {
      throw new Error('bad params');
    });
    const run = new PreparedRuns(lookup(failing)).of(attestation('a', 'p'));
    expect(run(resource('r'))).toEqual({ outcome: 'Errored', message: 'provider p threw: bad params' });
  });

  it("times out an asynchronous check after the attestation's timeout", async () => {
    const slow = provider('slow', () => new Promise<ProviderOutcome>((resolve) => setTimeout(() => resolve(passed), 2_000)));
    const run = new PreparedRuns(lookup(slow)).of(attestation('a', 'slow', 50));
    expect(await run(resource('r'))).toEqual({ outcome: 'Errored', message: 'timed out after 50 ms' });
  });

  it("prepares each of a plan's attestations once, by position, for every resource the plan runs on", () => {
    const prepared: string[] = [];
    const p = provider(
      'p',
      () => ({ outcome: 'Failed', message: 'attest is not used' }),
      (a) => {
        prepared.push(a.metadata.name);
        return (r) => ({ outcome: 'Passed', message: `${a.metadata.name} on ${r.metadata.name}` });
      },
    );
    const record = (a: Attestation): RunRecord => ({ attestation: a, attestationDigest: `sha256:${a.metadata.name}`, requirementVersions: {} });
    const [x, y] = [record(attestation('x', 'p')), record(attestation('y', 'p'))];
    const plan: PlanRunRecords = { byName: new Map([['x', x], ['y', y]]), keys: ['x', 'silent', 'y'], inKeyOrder: [x, undefined, y] };
    const runs = new PreparedRuns(lookup(p));

    const first = runs.ofPlan(plan);
    expect(runs.ofPlan(plan)).toBe(first);
    expect(runs.of(y.attestation)).toBe(first[2]);
    expect(first[1]).toBeUndefined();
    expect(first.map((run) => run?.(resource('r')))).toEqual([
      { outcome: 'Passed', message: 'x on r' },
      undefined,
      { outcome: 'Passed', message: 'y on r' },
    ]);
    expect(prepared).toEqual(['x', 'y']);
  });
});
