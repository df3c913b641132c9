import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, canonicalJsonOfKnownKeys, knownKeys } from '../../src/core/digest.ts';
import { canonicalEntryBody, type EntryBody } from '../../src/core/evidence/chain.ts';

/** The definition, written as plainly as possible: sorted keys, undefined members dropped. */
function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) return 'null';
    return value === undefined ? 'null' : (JSON.stringify(value) as string);
  }
  if (Array.isArray(value)) return `[${value.map((v) => reference(v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const parts = Object.keys(obj)
    .sort()
    .filter((k) => obj[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${reference(obj[k])}`);
  return `{${parts.join(',')}}`;
}

describe('canonical JSON', () => {
  it('equals the plain definition for any JSON-like value, including odd keys and undefined members', () => {
    // Strings JSON escapes or keeps: quotes, backslashes, control characters, lone and paired surrogates, U+2028.
    const odd = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.constantFrom('a"b', 'a\\b', '\n\t\u0000\u001f', '\ud800', 'x\udfff', '\ud83d\ude00', '\u2028\u2029', '\u007f'));
    const key = fc.oneof(fc.string(), odd, fc.constantFrom('10', '2', '__proto__x', 'a"b', 'é', '\u2028', ''));
    const value = fc.letrec((tie) => ({
      leaf: fc.oneof(fc.string(), odd, fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.constant(-0)),
      node: fc.oneof(
        { depthSize: 'small' },
        tie('leaf'),
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(key, tie('node'), { maxKeys: 6 }),
        // Frozen records of numbers are encoded once and their text kept: it must stay the definition's.
        fc.array(tie('leaf'), { maxLength: 4 }).map((a) => Object.freeze(a)),
        fc.dictionary(key, tie('leaf'), { maxKeys: 4 }).map((d) => Object.freeze(d)),
        fc.dictionary(key, fc.oneof(fc.integer(), fc.double(), fc.constant(undefined)), { maxKeys: 4 }).map((d) => Object.freeze(d)),
      ),
    })).node;
    fc.assert(fc.property(value, (v) => {
        expect(canonicalJson(v)).toBe(reference(v));
        expect(canonicalJson(v)).toBe(reference(v));
      }), { numRuns: 1000 });
  });

  it('encodes a record of numbers again when it changed, unless it is frozen (and so cannot)', () => {
    const versions: Record<string, number> = { 'sc-28': 1 };
    expect(canonicalJson(versions)).toBe('{"sc-28":1}');

    versions['sc-28'] = 2;

    expect(canonicalJson(versions)).toBe('{"sc-28":2}');
    expect(canonicalJson(Object.freeze({ ...versions }))).toBe('{"sc-28":2}');
  });

  it('encodes a frozen value again when a part of it that is not frozen changed', () => {
    const inner = { n: 1 };
    const outer = Object.freeze({ inner, list: Object.freeze([inner]) });
    expect(canonicalJson(outer)).toBe('{"inner":{"n":1},"list":[{"n":1}]}');

    inner.n = 2;

    expect(canonicalJson(outer)).toBe('{"inner":{"n":2},"list":[{"n":2}]}');
  });

  it('encodes equal data the same whatever the key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: 'z' } })).toBe(canonicalJson({ a: { c: 'z', d: [1, { x: 1, y: 2 }] }, b: 1 }));
    expect(canonicalJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
  });

  it('gives the same text through the known-keys path, whatever keys the object really has', () => {
    const keys = knownKeys(['outcome', 'message', 'executedAt', 'tags']);
    const member = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.constant(undefined), fc.array(fc.string(), { maxLength: 2 }), fc.dictionary(fc.string(), fc.integer(), { maxKeys: 3 }));
    const record = fc.record(
      { outcome: member, message: member, executedAt: member, tags: member, extra: member, '10': member },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(record, (r) => {
        expect(canonicalJsonOfKnownKeys(r, keys)).toBe(canonicalJson(r));
      }),
      { numRuns: 500 },
    );
  });

  it('encodes an evidence entry body as canonical JSON, for results with and without optional or unknown fields', () => {
    const result = fc.record(
      {
        resource: fc.string(),
        attestation: fc.string(),
        outcome: fc.constantFrom('Passed', 'Failed', 'Errored'),
        message: fc.string(),
        executedAt: fc.integer(),
        durationMs: fc.integer({ min: 0 }),
        attestationDigest: fc.string(),
        resourceDigest: fc.string(),
        requirementVersions: fc.dictionary(fc.string(), fc.integer(), { maxKeys: 3 }),
        evidenceDigest: fc.option(fc.string(), { nil: undefined }),
        lastCheckedAt: fc.option(fc.integer(), { nil: undefined }),
        unexpected: fc.option(fc.string(), { nil: undefined }),
      },
      { requiredKeys: ['resource', 'attestation', 'outcome', 'message', 'executedAt', 'durationMs', 'attestationDigest', 'resourceDigest', 'requirementVersions'] },
    );
    const body = fc.record({ v: fc.constant(1 as const), seq: fc.nat(), prev: fc.string({ minLength: 64, maxLength: 64 }), at: fc.integer(), result });
    fc.assert(
      fc.property(body, (b) => {
        expect(canonicalEntryBody(b as unknown as EntryBody)).toBe(canonicalJson(b));
      }),
      { numRuns: 500 },
    );
  });
});
