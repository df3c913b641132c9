import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AttestationResult } from '../../src/core/model.ts';
import {
  RESULTS_FORMAT,
  resultsItemOf,
  resultsOf,
  sameStoredContent,
  storedByAttestation,
  storedResult,
  type AnyResultsItem,
  type KeyedResultsItem,
  type ResultsItem,
  type StoredResult,
} from '../../src/core/results-item.ts';

const RESOURCE = 'stack/Bucket';
const T0 = Date.UTC(2026, 0, 1);
const RESOURCE_DIGESTS = ['sha256:r1', 'sha256:r2', 'sha256:r3'] as const;

function result(attestation: string, more: Partial<AttestationResult> = {}): AttestationResult {
  return {
    resource: RESOURCE,
    attestation,
    outcome: 'Passed',
    message: '',
    executedAt: T0,
    durationMs: 4,
    attestationDigest: `sha256:a-${attestation}`,
    resourceDigest: 'sha256:r1',
    requirementVersions: { 'sc-28': 1 },
    ...more,
  };
}

/** A result of RESOURCE; names and resource digests come from small pools so both repeat. */
const resultArb: fc.Arbitrary<AttestationResult> = fc
  .record({
    attestation: fc.constantFrom('encrypted', 'versioned', 'logged', 'constructor', 'toString'),
    outcome: fc.constantFrom('Passed' as const, 'Failed' as const, 'Errored' as const),
    message: fc.string(),
    executedAt: fc.integer({ min: 0, max: 2 ** 42 }),
    durationMs: fc.nat(),
    attestationDigest: fc.string().map((s) => `sha256:${s}`),
    resourceDigest: fc.constantFrom(...RESOURCE_DIGESTS),
    requirementVersions: fc.dictionary(fc.constantFrom('sc-28', 'ac-2', 'constructor', '__proto__'), fc.nat(), { noNullPrototype: true }),
    evidenceDigest: fc.option(fc.string().map((s) => `sha256:${s}`), { nil: undefined }),
  })
  .map(({ evidenceDigest, ...rest }) => (evidenceDigest === undefined ? { resource: RESOURCE, ...rest } : { resource: RESOURCE, ...rest, evidenceDigest }));

/** One result per attestation, in the order each first appears, holding the last one given. */
function latestByAttestation(results: readonly AttestationResult[]): AttestationResult[] {
  const names = [...new Set(results.map((r) => r.attestation))];
  return names.map((name) => results.filter((r) => r.attestation === name).at(-1) as AttestationResult);
}

/** A current-form item made of given entries (what a reconcile writes after storedByAttestation). */
function itemOf(resourceDigest: string, entries: Iterable<StoredResult>): ResultsItem {
  return { format: RESULTS_FORMAT, resource: RESOURCE, resourceDigest, results: [...entries] };
}

function keyedOf(results: readonly AttestationResult[]): KeyedResultsItem {
  return { resource: RESOURCE, results: Object.fromEntries(results.map((r) => [r.attestation, r])) };
}

describe('results item', () => {
  describe('storedByAttestation', () => {
    it('gives entries that decode to the same results in an item of the given digest, whatever digest each was stored against', () => {
      fc.assert(
        fc.property(fc.array(resultArb, { maxLength: 12 }), fc.constantFrom(...RESOURCE_DIGESTS, 'sha256:new'), (results, digest) => {
          // Prepare
          const item = resultsItemOf(RESOURCE, results);
          // Act
          const entries = storedByAttestation(item, digest);
          // Assess: the same results, each entry as storedResult would make it for that digest.
          expect(resultsOf(itemOf(digest, entries.values()))).toStrictEqual(resultsOf(item));
          for (const r of resultsOf(item)) expect(entries.get(r.attestation)).toStrictEqual(storedResult(r, digest));
        }),
      );
    });

    it('adds the resource digest to an entry that had the item digest when the new item has another', () => {
      // Prepare: "a" was made against the item's digest (8 elements), "b" against another (9).
      const a = result('a', { resourceDigest: 'sha256:old' });
      const b = result('b', { resourceDigest: 'sha256:new' });
      const item = itemOf('sha256:old', [storedResult(a, 'sha256:old'), storedResult(b, 'sha256:old')]);
      expect(item.results.map((s) => s.length)).toEqual([8, 9]);

      // Act
      const entries = storedByAttestation(item, 'sha256:new');

      // Assess: relative to the new digest, "a" now carries its digest and "b" no longer needs to.
      expect(entries.get('a')).toEqual(storedResult(a, 'sha256:new'));
      expect(entries.get('a')?.[8]).toBe('sha256:old');
      expect(entries.get('b')).toHaveLength(8);
      expect(resultsOf(itemOf('sha256:new', entries.values()))).toStrictEqual([a, b]);
    });

    it('keeps the stored entries themselves when the digest is the item digest', () => {
      const item = resultsItemOf(RESOURCE, [result('a'), result('b', { resourceDigest: 'sha256:r2' })]);
      const entries = storedByAttestation(item, item.resourceDigest);
      expect([...entries.values()]).toStrictEqual([...item.results]);
      expect(entries.get('a')).toBe(item.results[0]);
    });

    it('converts the results of a keyed item to entries relative to the given digest', () => {
      // Prepare
      const results = [result('a'), result('b', { resourceDigest: 'sha256:r2', evidenceDigest: 'sha256:e' })];
      const keyed = keyedOf(results);

      // Act
      const entries = storedByAttestation(keyed, 'sha256:r1');

      // Assess
      expect([...entries.keys()]).toEqual(['a', 'b']);
      expect(entries.get('a')).toHaveLength(8);
      expect(entries.get('b')?.[8]).toBe('sha256:r2');
      expect(resultsOf(itemOf('sha256:r1', entries.values()))).toStrictEqual(results);
    });
  });

  describe('resultsItemOf and resultsOf', () => {
    it('read back one result per attestation, the last given, in order of first appearance', () => {
      fc.assert(
        fc.property(fc.array(resultArb, { maxLength: 12 }), (results) => {
          // Act
          const item = resultsItemOf(RESOURCE, results);
          // Assess
          expect(item.format).toBe(RESULTS_FORMAT);
          expect(item.resource).toBe(RESOURCE);
          expect(resultsOf(item)).toStrictEqual(latestByAttestation(results));
        }),
      );
    });

    it('store the resource digest in an entry exactly when it differs from the item digest, which most results share', () => {
      fc.assert(
        fc.property(fc.array(resultArb, { minLength: 1, maxLength: 12 }), (results) => {
          const item = resultsItemOf(RESOURCE, results);
          const latest = latestByAttestation(results);
          const shared = latest.filter((r) => r.resourceDigest === item.resourceDigest).length;
          for (const digest of RESOURCE_DIGESTS) expect(shared).toBeGreaterThanOrEqual(latest.filter((r) => r.resourceDigest === digest).length);
          item.results.forEach((stored, i) => {
            const own = latest[i]?.resourceDigest;
            expect(stored.length).toBe(own === item.resourceDigest ? 8 : 9);
            if (stored.length === 9) expect(stored[8]).toBe(own);
          });
        }),
      );
    });

    it('read the same results from an item after a JSON round trip', () => {
      fc.assert(
        fc.property(fc.array(resultArb, { maxLength: 12 }), (results) => {
          const item = resultsItemOf(RESOURCE, results);
          const copy = JSON.parse(JSON.stringify(item)) as AnyResultsItem;
          expect(resultsOf(copy)).toStrictEqual(resultsOf(item));
        }),
      );
    });

    it('build a frozen item with frozen entries', () => {
      const item = resultsItemOf(RESOURCE, [result('a'), result('b', { resourceDigest: 'sha256:r2' })]);
      expect(Object.isFrozen(item)).toBe(true);
      expect(Object.isFrozen(item.results)).toBe(true);
      for (const stored of item.results) expect(Object.isFrozen(stored)).toBe(true);
    });

    it('read the results of a keyed item of earlier versions as stored', () => {
      const results = [result('a'), result('b', { outcome: 'Failed', message: 'no key', resourceDigest: 'sha256:r2', evidenceDigest: 'sha256:e' })];
      const keyed = JSON.parse(JSON.stringify(keyedOf(results))) as AnyResultsItem;
      expect(resultsOf(keyed)).toStrictEqual(results);
    });

    it('read nothing from an item without results', () => {
      expect(resultsOf(resultsItemOf(RESOURCE, []))).toEqual([]);
      expect(resultsOf({ resource: RESOURCE, results: {} })).toEqual([]);
    });
  });

  describe('sameStoredContent', () => {
    const base = result('a', { outcome: 'Failed', message: 'unencrypted', evidenceDigest: 'sha256:e', requirementVersions: { 'sc-28': 1, 'ac-2': 2 } });
    const stored = (r: AttestationResult): StoredResult => storedResult(r, 'sha256:r1');

    it('ignores when the run happened and how long it took', () => {
      expect(sameStoredContent(stored(base), stored({ ...base, executedAt: T0 + 60_000, durationMs: 99 }))).toBe(true);
    });

    it('sees equal requirement versions in another object and key order', () => {
      expect(sameStoredContent(stored(base), stored({ ...base, requirementVersions: { 'ac-2': 2, 'sc-28': 1 } }))).toBe(true);
    });

    it.each<[string, Partial<AttestationResult>]>([
      ['attestation', { attestation: 'b' }],
      ['outcome', { outcome: 'Passed' }],
      ['message', { message: 'encrypted with the default key' }],
      ['attestation digest', { attestationDigest: 'sha256:a2' }],
      ['a requirement version', { requirementVersions: { 'sc-28': 2, 'ac-2': 2 } }],
      ['a requirement more', { requirementVersions: { 'sc-28': 1, 'ac-2': 2, 'au-2': 1 } }],
      ['a requirement less', { requirementVersions: { 'sc-28': 1 } }],
      ['a requirement renamed', { requirementVersions: { 'sc-28': 1, 'au-2': 2 } }],
      ['evidence digest', { evidenceDigest: 'sha256:e2' }],
      ['no evidence digest', { evidenceDigest: undefined }],
      ['resource digest (other than the item digest)', { resourceDigest: 'sha256:r2' }],
    ])('sees a different %s', (_field, change) => {
      const changed = stored({ ...base, ...change });
      expect(sameStoredContent(stored(base), changed)).toBe(false);
      expect(sameStoredContent(changed, stored(base))).toBe(false);
    });

    it('sees two different resource digests that both differ from the item digest', () => {
      expect(sameStoredContent(stored({ ...base, resourceDigest: 'sha256:r2' }), stored({ ...base, resourceDigest: 'sha256:r3' }))).toBe(false);
    });
  });

  it('stores a realistic resource in at most 60% of the JSON of the keyed form', () => {
    // Prepare: 10 attestations run against the current resource, 3 of them with evidence.
    const hex = (n: number): string => `sha256:${n.toString(16).padStart(64, 'c')}`;
    const results = Array.from({ length: 10 }, (_, i) =>
      result(`aws-s3-bucket-check-${i}`, {
        resource: 'arn:aws:s3:::prod-payments-ledger-eu-west-1',
        outcome: i % 4 === 0 ? 'Failed' : 'Passed',
        message: i % 4 === 0 ? 'Bucket policy allows s3:GetObject to *' : '',
        executedAt: T0 + i * 37,
        durationMs: 3 + i,
        attestationDigest: hex(1000 + i),
        resourceDigest: hex(42),
        requirementVersions: { 'nist-800-53-sc-28': 3, 'nist-800-53-ac-3': 1 },
        ...(i % 3 === 0 ? { evidenceDigest: hex(2000 + i) } : {}),
      }),
    );
    const resource = 'arn:aws:s3:::prod-payments-ledger-eu-west-1';

    // Act
    const current = JSON.stringify(resultsItemOf(resource, results)).length;
    const keyed = JSON.stringify({ resource, results: Object.fromEntries(results.map((r) => [r.attestation, r])) }).length;

    // Assess
    expect(current / keyed).toBeLessThanOrEqual(0.6);
  });
});
