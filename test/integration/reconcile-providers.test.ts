/** A reconcile batch whose runs use several providers: each run goes to its own attestation's provider. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalRuntime } from '../../src/adapters/local/local-runtime.ts';
import type { Attestation, Resource } from '../../src/core/model.ts';
import type { AttestationProvider, ProviderOutcome } from '../../src/core/ports/attestation-provider.ts';
import { reconcile } from '../../src/core/use-cases/reconcile.ts';
import { attestation, implementation, requirement, resource } from '../support/builders.ts';

/** A provider that passes and says which provider ran which attestation on which resource. */
function namedProvider(name: string): AttestationProvider {
  return {
    name,
    validateParams: () => [],
    attest: (a: Attestation, r: Resource): ProviderOutcome => ({ outcome: 'Passed', message: `${name} ran ${a.metadata.name} on ${r.metadata.name}` }),
  };
}

describe('reconcile across providers', () => {
  let home: string;
  let runtime: LocalRuntime;

  beforeEach(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'argus-reconcile-providers-'));
    runtime = await LocalRuntime.open({ home, fsync: false });
    // Attestations listed so that their providers alternate within each resource's runs.
    await runtime.apply([
      requirement('q'),
      attestation('a1', { provider: 'alpha' }),
      attestation('a2', { provider: 'beta' }),
      attestation('a3', { provider: 'alpha' }),
      attestation('a4', { provider: 'gone' }),
      attestation('a5', { provider: 'beta' }),
      implementation('i', { requirements: ['q'], attestations: ['a1', 'a2', 'a3', 'a4', 'a5'] }),
      resource('org', 'Org'),
      resource('org/r1', 'T', { parent: 'org' }),
      resource('org/r2', 'T', { parent: 'org' }),
    ]);
  });

  afterEach(async () => {
    await runtime.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('runs each attestation with its own provider and errors the runs of an unknown one', async () => {
    const providers = new Map([
      ['alpha', namedProvider('alpha')],
      ['beta', namedProvider('beta')],
    ]);

    const summary = await reconcile({ store: runtime.store, engine: runtime.engine, providers, clock: runtime.clock, batchSize: 10 });

    expect(summary).toMatchObject({ evaluated: 15, passed: 12, errored: 3 });
    const r1 = runtime.engine.resultsOf('org/r1');
    expect(r1?.get('a1')?.message).toBe('alpha ran a1 on org/r1');
    expect(r1?.get('a2')?.message).toBe('beta ran a2 on org/r1');
    expect(r1?.get('a3')?.message).toBe('alpha ran a3 on org/r1');
    expect(r1?.get('a4')).toMatchObject({ outcome: 'Errored', message: 'unknown provider "gone"' });
    expect(r1?.get('a5')?.message).toBe('beta ran a5 on org/r1');
    expect(runtime.engine.resultsOf('org/r2')?.get('a5')?.message).toBe('beta ran a5 on org/r2');
  });

  it('runs synchronous and asynchronous providers in list order, each run starting when the one before it ended', async () => {
    // beta answers with a promise, alpha at once: each resource switches between them mid-way.
    const order: string[] = [];
    let now = 1_000;
    const clock = { now: () => now };
    const alpha: AttestationProvider = {
      name: 'alpha',
      validateParams: () => [],
      attest: (a, r) => {
        order.push(`${r.metadata.name}:${a.metadata.name}`);
        now += 1;
        return { outcome: 'Passed', message: 'alpha' };
      },
    };
    const beta: AttestationProvider = {
      name: 'beta',
      validateParams: () => [],
      attest: async (a, r) => {
        order.push(`${r.metadata.name}:${a.metadata.name}`);
        await new Promise((resolve) => setTimeout(resolve, 1));
        now += 10;
        return { outcome: 'Failed', message: 'beta' };
      },
    };

    const summary = await reconcile({ store: runtime.store, engine: runtime.engine, providers: new Map([['alpha', alpha], ['beta', beta]]), clock, batchSize: 10 });

    expect(summary).toMatchObject({ evaluated: 15, passed: 6, failed: 6, errored: 3 });
    expect(order).toEqual(['org', 'org/r1', 'org/r2'].flatMap((r) => ['a1', 'a2', 'a3', 'a5'].map((a) => `${r}:${a}`)));
    const r2 = runtime.engine.resultsOf('org/r2');
    const times = ['a1', 'a2', 'a3', 'a4', 'a5'].map((a) => [r2?.get(a)?.executedAt, r2?.get(a)?.durationMs]);
    // The runs of org and org/r1 took 1 + 10 + 1 + 0 + 10 = 22 ms each from 1000.
    expect(times).toEqual([
      [1044, 1],
      [1045, 10],
      [1055, 1],
      [1056, 0],
      [1056, 10],
    ]);
    expect(r2?.get('a2')).toMatchObject({ outcome: 'Failed', message: 'beta' });
  });

  it('records the definitions the run was made against', async () => {
    const providers = new Map([
      ['alpha', namedProvider('alpha')],
      ['beta', namedProvider('beta')],
    ]);
    await reconcile({ store: runtime.store, engine: runtime.engine, providers, clock: runtime.clock });
    await runtime.apply([requirement('q', { version: 2 })]);

    const result = runtime.engine.resultsOf('org/r2')?.get('a3');

    expect(result?.requirementVersions).toEqual({ q: 1 });
    expect(result?.attestationDigest).toBe(runtime.engine.index.attestationDigest('a3'));
    expect(runtime.engine.runContext('org/r2', 'a3')?.requirementVersions).toEqual({ q: 2 });
  });
});
