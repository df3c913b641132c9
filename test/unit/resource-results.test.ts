import { describe, expect, it } from 'vitest';
import { StoredAttestationState } from '../../src/core/compliance/attestation-state.ts';
import { ResourceResults } from '../../src/core/compliance/resource-results.ts';
import { RESULTS_FORMAT, resultsOf, type ResultsItem, type StoredResult } from '../../src/core/results-item.ts';

const VERSIONS = Object.freeze({ 'sc-28': 1 });

function entry(attestation: string, outcome: 'Passed' | 'Failed', executedAt = 1_000): StoredResult {
  return Object.freeze([attestation, outcome, outcome === 'Passed' ? 'ok' : 'not encrypted', executedAt, 2, 'sha256:a', VERSIONS, null] as const);
}

function item(...entries: StoredResult[]): ResultsItem {
  return { format: RESULTS_FORMAT, resource: 'bucket', resourceDigest: 'sha256:r', results: entries };
}

describe('ResourceResults', () => {
  it.each([2, 40])('counts the last entry of an attestation an item lists twice, as the stored results read back do (%i entries)', (n) => {
    // Prepare: n entries, the first attestation repeated at the end with another outcome.
    const entries = Array.from({ length: n - 1 }, (_, i) => entry(`a${i}`, 'Passed'));
    entries.push(entry('a0', 'Failed'));
    const stored = item(...entries);

    // Act
    const results = ResourceResults.ofItem('bucket', stored, undefined);

    // Assess: the item's results, each attestation once, as its last entry.
    const all = resultsOf(stored);
    const lastOfEach = all.filter((r, i) => all.findLastIndex((x) => x.attestation === r.attestation) === i);
    expect(results?.get('a0')?.outcome).toBe('Failed');
    expect([...(results?.values() ?? [])]).toEqual(lastOfEach);
  });

  it('keeps the item\'s own entries, without a copy', () => {
    const stored = item(entry('encrypted', 'Passed'));
    const results = ResourceResults.ofItem('bucket', stored, undefined);
    expect(results?.entry('encrypted')).toBe(stored.results[0]);
  });

  it('reads an item of another resource, or in the keyed form, as objects instead', () => {
    expect(ResourceResults.ofItem('other', item(entry('encrypted', 'Passed')), undefined)).toBeUndefined();
    expect(ResourceResults.ofItem('bucket', { resource: 'bucket', results: {} }, undefined)).toBeUndefined();
  });

  it('gives a result the checked-at time of a later unchanged re-run only', () => {
    const results = ResourceResults.ofItem('bucket', item(entry('encrypted', 'Passed', 1_000), entry('versioned', 'Passed', 5_000)), { encrypted: 3_000, versioned: 4_000 });
    expect(results?.get('encrypted')?.lastCheckedAt).toBe(3_000);
    expect(results?.get('versioned')).not.toHaveProperty('lastCheckedAt');
    expect(results?.withChecked(undefined).get('encrypted')).not.toHaveProperty('lastCheckedAt');
  });
});

describe('StoredAttestationState', () => {
  it('reads as a plain state in JSON, its result included', () => {
    // Prepare
    const stored = item(entry('encrypted', 'Failed'));
    const results = ResourceResults.ofItem('bucket', stored, undefined);
    const kept = results?.entry('encrypted');
    if (!results || !kept) throw new Error('entry not kept');

    // Act
    const state = new StoredAttestationState('bucket', 'encrypted', 'Failed', undefined, results, kept);

    // Assess
    const [result] = resultsOf(stored);
    expect(JSON.parse(JSON.stringify(state))).toEqual({ resource: 'bucket', attestation: 'encrypted', status: 'Failed', result });
    expect(state.result).toBe(state.result);
  });
});
