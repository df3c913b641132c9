/**
 * The reconcile reads results items of either stored form and writes the current one: state
 * written by an earlier version keeps its meaning and is rewritten on its next re-run.
 */
import { describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/adapters/local/embedded-store.ts';
import { ComplianceEngine } from '../../src/core/compliance/engine.ts';
import { computeDerivedState } from '../../src/core/compliance/derived-state.ts';
import { checkedKey, resultsKey } from '../../src/core/keys.ts';
import type { AnyDefinition, AttestationResult } from '../../src/core/model.ts';
import { isKeyedResultsItem, resultsOf, RESULTS_FORMAT, type AnyResultsItem, type KeyedResultsItem } from '../../src/core/results-item.ts';
import { applyChangeRecords } from '../../src/core/use-cases/apply-change-records.ts';
import { applyDefinitions } from '../../src/core/use-cases/apply-definitions.ts';
import { loadDefinitions, loadEngine, loadResults } from '../../src/core/use-cases/load-engine.ts';
import { reconcile } from '../../src/core/use-cases/reconcile.ts';
import { defaultProviders } from '../../src/providers/registry.ts';
import { attestation, implementation, requirement, resource } from '../support/builders.ts';
import { tempDirs } from '../support/temp-dirs.ts';

const tempDir = tempDirs('each');
const T0 = Date.UTC(2026, 10, 25);
const HOUR = 3_600_000;
const clockAt = (ms: number) => ({ now: () => ms });

function catalog(): AnyDefinition[] {
  return [
    resource('org', 'Org'),
    resource('org/bucket-a', 'AWS::S3::Bucket', { parent: 'org', document: { encrypted: true, public: false } }),
    resource('org/bucket-b', 'AWS::S3::Bucket', { parent: 'org', document: { encrypted: false, public: false } }),
    requirement('sc-28', { appliesTo: { types: ['AWS::S3::Bucket'] } }),
    attestation('encrypted', { params: { expression: 'resource.encrypted == true' }, resourceTypes: ['AWS::S3::Bucket'] }),
    attestation('private', { params: { expression: 'resource.public == false' }, resourceTypes: ['AWS::S3::Bucket'] }),
    implementation('impl-sc-28', { requirements: ['sc-28'], attestations: ['encrypted', 'private'], targets: { ids: ['org'] } }),
  ];
}

async function open() {
  const store = await EmbeddedStore.open({ dir: tempDir('argus-results-format-'), fsync: false });
  const engine = new ComplianceEngine(T0);
  store.subscribe((records) => applyChangeRecords(engine, records));
  return { store, engine };
}

describe('results item format', () => {
  it('writes every results item in the current, positional form, read back as the results that ran', async () => {
    const { store, engine } = await open();
    await applyDefinitions(store, catalog());
    await reconcile({ store, engine, providers: defaultProviders(), clock: clockAt(T0) });

    const item = (await store.get<AnyResultsItem>(resultsKey('org/bucket-b').pk, resultsKey('org/bucket-b').sk))?.data;
    expect(item && isKeyedResultsItem(item)).toBe(false);
    expect(item).toMatchObject({ format: RESULTS_FORMAT, resource: 'org/bucket-b' });
    const results = item ? resultsOf(item) : [];
    expect(results.map((r) => [r.attestation, r.outcome])).toEqual([
      ['encrypted', 'Failed'],
      ['private', 'Passed'],
    ]);
    expect(results.every((r) => r.resource === 'org/bucket-b' && r.executedAt === T0 && r.evidenceDigest?.startsWith('sha256:'))).toBe(true);
    await store.close();
  });

  it('rewrites a results item of an earlier version in the current form on its next re-run, and the engine sees the same state as a fresh load', async () => {
    const { store, engine } = await open();
    await applyDefinitions(store, catalog());
    await reconcile({ store, engine, providers: defaultProviders(), clock: clockAt(T0) });
    // bucket-a's item as an earlier version wrote it: keyed by attestation, whole results.
    const key = resultsKey('org/bucket-a');
    const current = await store.get<AnyResultsItem>(key.pk, key.sk);
    const keyed: KeyedResultsItem = { resource: 'org/bucket-a', results: Object.fromEntries((current ? resultsOf(current.data) : []).map((r): [string, AttestationResult] => [r.attestation, r])) };
    await store.transact([{ type: 'put', ...key, data: keyed, ifVersion: current?.version ?? 'absent' }]);
    const untouched = await store.get(resultsKey('org/bucket-b').pk, resultsKey('org/bucket-b').sk);

    // Every pair expired; the re-run finds the same outcomes everywhere.
    const T1 = T0 + 25 * HOUR;
    const summary = await reconcile({ store, engine, providers: defaultProviders(), clock: clockAt(T1) });

    expect(summary).toMatchObject({ planned: 4, evaluated: 4, writes: 2 });
    const rewritten = (await store.get<AnyResultsItem>(key.pk, key.sk))?.data;
    expect(rewritten && isKeyedResultsItem(rewritten)).toBe(false);
    expect(rewritten ? resultsOf(rewritten).map((r) => [r.attestation, r.outcome, r.executedAt]) : []).toEqual([
      ['encrypted', 'Passed', T1],
      ['private', 'Passed', T1],
    ]);
    // The item in the current form is not rewritten: only its checked-at times move.
    expect((await store.get(resultsKey('org/bucket-b').pk, resultsKey('org/bucket-b').sk))?.version).toBe(untouched?.version);
    expect((await store.get(checkedKey('org/bucket-b').pk, checkedKey('org/bucket-b').sk))?.data).toEqual({ resource: 'org/bucket-b', checkedAt: { encrypted: T1, private: T1 } });

    engine.advanceTo(T1 + HOUR);
    engine.flush();
    expect(engine.snapshot()).toEqual(computeDerivedState(await loadDefinitions(store), await loadResults(store), T1 + HOUR));
    expect((await loadEngine(store, T1 + HOUR)).snapshot()).toEqual(engine.snapshot());
    await store.close();
  });
});
