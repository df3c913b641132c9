import { describe, expect, it } from 'vitest';
import { AttestationStates } from '../../src/core/compliance/attestation-states.ts';
import { ResourceResults } from '../../src/core/compliance/resource-results.ts';
import { slotsOf } from '../../src/core/compliance/slot-map.ts';
import { RESULTS_FORMAT, resultOf, type ResultsItem, type StoredResult } from '../../src/core/results-item.ts';

const VERSIONS = Object.freeze({ 'sc-28': 1 });

function entry(attestation: string, outcome: 'Passed' | 'Failed'): StoredResult {
  return Object.freeze([attestation, outcome, outcome === 'Passed' ? 'ok' : 'not encrypted', 1_000, 2, 'sha256:a', VERSIONS, null] as const);
}

const item: ResultsItem = { format: RESULTS_FORMAT, resource: 'bucket', resourceDigest: 'sha256:r', results: [entry('encrypted', 'Passed'), entry('versioned', 'Failed'), entry('logged', 'Passed')] };
const results = ResourceResults.ofItem('bucket', item, undefined) as ResourceResults;
const slots = slotsOf(['encrypted', 'versioned', 'logged', 'tagged']);

/** encrypted Passed, versioned Failed, logged Stale (its requirement moved on), tagged never run. */
function states(): AttestationStates {
  return new AttestationStates('bucket', slots, ['Passed', 'Failed', 'Stale', 'Pending'], [undefined, undefined, 'RequirementVersionChanged'], results);
}

describe('AttestationStates', () => {
  it('lists the pairs that need a run from their statuses, in key order', () => {
    expect(states().due()).toEqual(['logged', 'tagged']);
    expect(new AttestationStates('bucket', slotsOf(['encrypted']), ['Passed'], undefined, results).due()).toBeUndefined();
  });

  it('gives the key list of the plan itself when every pair is due, and a list of its own when only some are', () => {
    const allDue = new AttestationStates('bucket', slots, ['Pending', 'Stale', 'Pending', 'Pending'], undefined, results).due();
    const firstPassed = new AttestationStates('bucket', slots, ['Passed', 'Stale', 'Pending', 'Pending'], undefined, results).due();
    const lastPassed = new AttestationStates('bucket', slots, ['Pending', 'Stale', 'Pending', 'Passed'], undefined, results).due();

    expect(allDue).toBe(slots.keys);
    expect(Object.isFrozen(allDue)).toBe(true);
    expect(firstPassed).toEqual(['versioned', 'logged', 'tagged']);
    expect(lastPassed).toEqual(['encrypted', 'versioned', 'logged']);
  });

  it('tells a status without making the state, and nothing for an attestation it does not hold', () => {
    const map = states();
    expect(map.statusOf('versioned')).toBe('Failed');
    expect(map.statusOf('absent')).toBeUndefined();
    expect(map.get('absent')).toBeUndefined();
    expect(map.has('absent')).toBe(false);
  });

  it('makes each state from its stored entry when read, the same object every time', () => {
    const map = states();

    const encrypted = map.get('encrypted');

    expect(encrypted).toMatchObject({ resource: 'bucket', attestation: 'encrypted', status: 'Passed' });
    expect(encrypted?.result).toEqual(resultOf('bucket', 'sha256:r', item.results[0] as StoredResult));
    expect(map.get('encrypted')).toBe(encrypted);
    expect([...map.values()][0]).toBe(encrypted);
  });

  it('gives a Stale state its reason and last result, and a never-run one neither', () => {
    const map = states();
    expect(map.get('logged')).toMatchObject({ status: 'Stale', staleReason: 'RequirementVersionChanged', result: { attestation: 'logged', outcome: 'Passed' } });
    expect(map.get('tagged')).toEqual({ resource: 'bucket', attestation: 'tagged', status: 'Pending' });
  });

  it('iterates as a Map of its keys in order would', () => {
    const map = states();
    const asMap = map.toMap();
    expect(map.size).toBe(4);
    expect([...map.keys()]).toEqual(['encrypted', 'versioned', 'logged', 'tagged']);
    expect([...map].map(([k, v]) => [k, v.status])).toEqual([...asMap].map(([k, v]) => [k, v.status]));
    const seen: string[] = [];
    map.forEach((v, k) => seen.push(`${k}=${v.status}`));
    expect(seen).toEqual(['encrypted=Passed', 'versioned=Failed', 'logged=Stale', 'tagged=Pending']);
  });
});
