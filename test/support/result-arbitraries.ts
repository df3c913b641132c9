/**
 * Small pools of the values results are made of, for property tests of the encoders that keep
 * text from one result to the next: names repeat across results with other outcomes, messages,
 * digests and versions, which is what kept text must notice.
 */
import fc from 'fast-check';
import type { StoredResult } from '../../src/core/results-item.ts';

/** Strings JSON escapes or that break naive quoting (quotes, control characters, a lone surrogate). */
export const oddString = fc.oneof(
  fc.constantFrom('', 'ok', 'x"y', 'back\\slash', 'line\nbreak', '\u2028', '\ud800', 'é', '\u0000'),
  fc.string({ unit: 'binary', maxLength: 6 }),
);
export const attestationName = fc.constantFrom('encrypted', 'versioned', 'toString', '__proto__', 'a"b');
export const digest = fc.constantFrom('sha256:a', 'sha256:b', 'sha256:"c"');
/** Mostly times JSON keeps, so that most results get a text and its reuse is checked. */
export const runTime = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 2 ** 42 }), weight: 6 },
  { arbitrary: fc.maxSafeNat(), weight: 2 },
  { arbitrary: fc.constantFrom(0, -0, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60), weight: 1 },
);

/** Version records, some shared between results (the reconcile shares one per attestation). */
const SHARED_VERSIONS = [Object.freeze({ 'sc-28': 1 }), Object.freeze({ 'sc-28': 2, 'ac-2': 1 }), Object.freeze({})];
export const requirementVersions: fc.Arbitrary<Readonly<Record<string, number>>> = fc.oneof(
  { arbitrary: fc.constantFrom(...SHARED_VERSIONS), weight: 6 },
  {
    arbitrary: fc
      .record({ record: fc.dictionary(fc.constantFrom('sc-28', 'ac-2', '__proto__'), fc.oneof(fc.nat(), fc.constantFrom(-0, Number.NaN)), { noNullPrototype: true }), frozen: fc.boolean() })
      .map(({ record, frozen }) => (frozen ? Object.freeze(record) : record)),
    weight: 1,
  },
  // Frozen, but holding an object that can still change.
  { arbitrary: fc.constant(null).map(() => Object.freeze({ 'sc-28': { nested: 1 } }) as unknown as Readonly<Record<string, number>>), weight: 1 },
);

/** The fields every run has, in either form (an AttestationResult, a stored entry). */
export const runFields = {
  attestation: attestationName,
  outcome: fc.constantFrom('Passed' as const, 'Failed' as const, 'Errored' as const),
  message: oddString,
  executedAt: runTime,
  durationMs: runTime,
  attestationDigest: digest,
  requirementVersions,
};

/** Runs as results items store them: evidence digest or null, sometimes their own resource digest, mostly frozen. */
export const storedRun: fc.Arbitrary<StoredResult> = fc
  .record({
    ...runFields,
    evidenceDigest: fc.option(digest, { nil: null }),
    ownDigest: fc.option(digest, { nil: undefined }),
    frozen: fc.constantFrom(true, true, true, false),
  })
  .map(({ attestation, outcome, message, executedAt, durationMs, attestationDigest, requirementVersions, evidenceDigest, ownDigest, frozen }) => {
    const members = [attestation, outcome, message, executedAt, durationMs, attestationDigest, requirementVersions, evidenceDigest];
    if (ownDigest !== undefined) members.push(ownDigest);
    return (frozen ? Object.freeze(members) : members) as unknown as StoredResult;
  });
