import { describe, expect, it } from 'vitest';
import { ComplianceEngine } from '../../src/core/compliance/engine.ts';
import type { AnyDefinition, AttestationResult } from '../../src/core/model.ts';
import { resultsItemOf, resultsOf, type AnyResultsItem, type KeyedResultsItem } from '../../src/core/results-item.ts';
import { attestation, implementation, requirement, resource, resultFor, resultsInOrder } from '../support/builders.ts';

const T0 = Date.UTC(2026, 10, 25);
const HOUR = 3_600_000;

function definitions(): AnyDefinition[] {
  return [
    resource('org', 'Org'),
    resource('logs', 'AWS::S3::Bucket', { parent: 'org' }),
    resource('data', 'AWS::S3::Bucket', { parent: 'org' }),
    resource('empty', 'AWS::S3::Bucket', { parent: 'org' }),
    requirement('sc-28', { appliesTo: { types: ['AWS::S3::Bucket'] } }),
    attestation('encrypted', { resourceTypes: ['AWS::S3::Bucket'], freshnessMs: HOUR }),
    attestation('versioned', { resourceTypes: ['AWS::S3::Bucket'], freshnessMs: HOUR }),
    implementation('s3', { requirements: ['sc-28'], attestations: ['encrypted', 'versioned'], targets: { ids: ['org'] } }),
  ];
}

/** A results item in the first, keyed form, filed under `resource` (its results may be other resources'). */
function keyed(resource: string, ...results: AttestationResult[]): KeyedResultsItem {
  return { resource, results: Object.fromEntries(results.map((r) => [`${r.resource}/${r.attestation}`, r])) };
}


describe('ComplianceEngine.loadItems', () => {
  it('loads what load loads from the items results, for items of both forms, results filed elsewhere and an item listed twice', () => {
    const blank = ComplianceEngine.load(definitions(), [], T0);
    const run = (name: string, att: string, outcome: AttestationResult['outcome'], at = T0) => resultFor(blank, name, att, outcome, at);
    const items: AnyResultsItem[] = [
      resultsItemOf('logs', [run('logs', 'encrypted', 'Passed')]),
      // Keyed, filed under `data`, holding one of `logs`'s results: it joins the item above.
      keyed('data', run('data', 'encrypted', 'Failed'), run('data', 'versioned', 'Failed'), run('logs', 'versioned', 'Failed')),
      // A second item of `data` in the current form: its result replaces the earlier one of its
      // attestation; the other earlier one stays.
      resultsItemOf('data', [run('data', 'encrypted', 'Passed', T0 - HOUR)]),
      resultsItemOf('empty', []),
    ];

    const fromItems = ComplianceEngine.loadItems(definitions(), items, T0);
    const fromResults = ComplianceEngine.load(definitions(), items.flatMap((item) => resultsOf(item)), T0);

    expect(fromItems.snapshot()).toEqual(fromResults.snapshot());
    expect(resultsInOrder(fromItems)).toEqual(resultsInOrder(fromResults));
    expect(resultsInOrder(fromItems).map((r) => `${r.resource}/${r.attestation} ${r.outcome}`)).toEqual([
      'data/encrypted Passed',
      'data/versioned Failed',
      'logs/encrypted Passed',
      'logs/versioned Failed',
    ]);
    expect(fromItems.resultsOf('empty')).toBeUndefined();
  });

  it('keeps the checked-at times of CHECKED items, as load does', () => {
    const blank = ComplianceEngine.load(definitions(), [], T0);
    const items = [resultsItemOf('logs', [resultFor(blank, 'logs', 'encrypted', 'Passed', T0 - 2 * HOUR)])];
    const checked = [{ resource: 'logs', checkedAt: { encrypted: T0 - 10 * 60_000 } }];

    const fromItems = ComplianceEngine.loadItems(definitions(), items, T0, checked);

    expect(fromItems.snapshot()).toEqual(ComplianceEngine.load(definitions(), items.flatMap((item) => resultsOf(item)), T0, checked).snapshot());
    expect(fromItems.evaluation('logs')?.attestations.get('encrypted')?.status).toBe('Passed');
  });
});
