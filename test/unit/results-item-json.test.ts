import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ResultsItemEncoder } from '../../src/core/results-item-json.ts';
import type { StoredResult } from '../../src/core/results-item.ts';
import { digest, oddString, storedRun } from '../support/result-arbitraries.ts';


const item = fc.record({ resource: oddString, resourceDigest: digest, entries: fc.array(storedRun, { maxLength: 5 }) });

/** Whether JSON gives the entries back as they are, frozen all through. */
function keptAsIs(entries: readonly StoredResult[]): boolean {
  const jsonNumber = (n: unknown) => typeof n === 'number' && Number.isFinite(n) && !Object.is(n, -0);
  return entries.every(
    (e) =>
      Object.isFrozen(e) &&
      jsonNumber(e[3]) &&
      jsonNumber(e[4]) &&
      Object.isFrozen(e[6]) &&
      Object.entries(e[6]).every(([k, v]) => k !== '__proto__' && jsonNumber(v)),
  );
}

describe('ResultsItemEncoder', () => {
  it('writes the bytes of exactly what JSON.stringify writes, and only for items JSON gives back as they are', () => {
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 8 }), (items) => {
        // One encoder across all items, as in a reconcile: its reused text must never go stale.
        const encoder = new ResultsItemEncoder();
        for (const { resource, resourceDigest, entries } of items) {
          const { item: written, json } = encoder.encode(resource, resourceDigest, entries);
          expect(written).toStrictEqual({ format: 2, resource, resourceDigest, results: entries });
          expect(Object.isFrozen(written) && Object.isFrozen(written.results)).toBe(true);
          if (keptAsIs(entries)) {
            const text = json?.toString('utf8');
            expect(text).toBe(JSON.stringify(written));
            expect(JSON.parse(text as string)).toStrictEqual(written);
          } else {
            expect(json).toBeUndefined();
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('keeps every item it wrote intact while later ones fill its buffers, an item bigger than a buffer included', () => {
    const encoder = new ResultsItemEncoder();
    const versions = Object.freeze({ 'sc-28': 1 });
    const written: Array<{ json: Buffer | undefined; expected: string }> = [];
    for (let i = 0; i < 3000; i++) {
      // Every 1000th item is one big message of about 400 KB.
      const message = i % 1000 === 999 ? 'm'.repeat(400_000) : `message ${i}`;
      const entries = [Object.freeze([`a${i % 7}`, 'Failed', message, 10 ** (i % 16), i, 'sha256:a', versions, null] as const)];
      const { item, json } = encoder.encode(`r${i}`, 'sha256:r', entries);
      written.push({ json, expected: JSON.stringify(item) });
    }
    for (const { json, expected } of written) expect(json?.toString('utf8')).toBe(expected);
  });

  it('writes each run time as it is when runs share one, however they alternate', () => {
    const encoder = new ResultsItemEncoder();
    const versions = Object.freeze({ 'sc-28': 1 });
    const run = (name: string, at: number) => Object.freeze([name, 'Passed', 'ok', at, 0, 'sha256:a', versions, null] as const);
    for (const times of [[1_733_400_000_123, 1_733_400_000_123, 1_733_400_000_124], [1_733_400_000_124, 7, 1_733_400_000_124], [7, 7, 1e21]]) {
      const entries = times.map((t, i) => run(`a${i}`, t));
      const { item, json } = encoder.encode('r', 'sha256:r', entries);
      expect(json?.toString('utf8')).toBe(JSON.stringify(item));
    }
  });

  it("finds each attestation's bytes when resources run the same attestations in another order or number", () => {
    const encoder = new ResultsItemEncoder();
    const versions = Object.freeze({ 'sc-28': 1 });
    const run = (name: string) => Object.freeze([name, 'Failed', `${name} failed`, 1, 2, `sha256:${name}`, versions, null] as const);
    for (const names of [['a', 'b', 'c'], ['a', 'c'], ['a', 'c', 'b', 'd'], ['b', 'a'], ['a', 'b', 'c']]) {
      const { item, json } = encoder.encode('r', 'sha256:r', names.map(run));
      expect(json?.toString('utf8')).toBe(JSON.stringify(item));
    }
  });

  it.each([
    ['outcome', 1, 'Failed'],
    ['message', 2, 'not encrypted'],
    ['attestation digest', 5, 'sha256:a2'],
    ['requirement versions', 6, Object.freeze({ 'sc-28': 2 })],
    ['evidence digest', 7, 'sha256:e2'],
    ['evidence digest (none)', 7, null],
    ['own resource digest', 8, 'sha256:other'],
  ] as const)('writes the next run of an attestation with its new %s', (_field, at, value) => {
    const encoder = new ResultsItemEncoder();
    const first = Object.freeze(['encrypted', 'Passed', 'ok', 1, 2, 'sha256:a', Object.freeze({ 'sc-28': 1 }), 'sha256:e1'] as const);
    const members: unknown[] = [...first];
    members[at] = value;
    const next = Object.freeze(members) as unknown as StoredResult;
    // Back and forth, as a rule that passes on some resources and fails on others.
    for (const e of [first, next, first, next]) {
      expect(encoder.encode('r', 'sha256:r', [e]).json?.toString('utf8')).toBe(JSON.stringify({ format: 2, resource: 'r', resourceDigest: 'sha256:r', results: [e] }));
    }
  });
});
