import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DefinitionIndex } from '../../src/core/compliance/definition-index.ts';
import { plainAttestationState } from '../../src/core/compliance/attestation-state.ts';
import { evaluateResource } from '../../src/core/compliance/evaluate-resource.ts';
import { ResourceResults } from '../../src/core/compliance/resource-results.ts';
import { digestOf } from '../../src/core/digest.ts';
import type { AnyDefinition, AttestationResult, ResourceSelector } from '../../src/core/model.ts';
import { attestation, implementation, requirement, resource, waiver } from '../support/builders.ts';
import { evaluateResource as referenceEvaluate } from '../support/reference-evaluate-resource.ts';

const T0 = Date.UTC(2026, 10, 25);
const HOUR = 3_600_000;
const TYPES = ['T1', 'T2'];

const selectorArb: fc.Arbitrary<ResourceSelector> = fc.oneof(
  fc.constant({}),
  fc.constant({}),
  fc.record({ ids: fc.subarray(['r0', 'r1', 'r2', 'r3', 'r4', 'r5']) }),
  fc.record({ types: fc.subarray([...TYPES, 'T*']) }),
  fc.record({ matchLabels: fc.constantFrom({ env: 'prod' }, { env: 'dev' }) }),
  fc.record({ classes: fc.subarray(['K1', 'K2']) }),
);

/** One definition of a small world; names collide on purpose so later ones replace earlier ones. */
const defArb: fc.Arbitrary<AnyDefinition> = fc.oneof(
  fc.record({ i: fc.nat(5), p: fc.nat(6), t: fc.nat(1), env: fc.boolean(), cls: fc.boolean(), v: fc.nat(2) }).map(({ i, p, t, env, cls, v }) =>
    // Parents only among lower numbers: acyclic.
    resource(`r${i}`, TYPES[t] as string, {
      parent: p < i ? `r${p}` : undefined,
      labels: { env: env ? 'prod' : 'dev' },
      classes: cls ? ['K1'] : [],
      document: { v },
    }),
  ),
  fc.record({ i: fc.nat(2), v: fc.integer({ min: 1, max: 3 }), sel: selectorArb, cls: fc.constantFrom([], [], ['C1'], ['C1', 'C2']) }).map(({ i, v, sel, cls }) =>
    requirement(`q${i}`, { version: v, appliesTo: sel, requiredImplementationClasses: cls }),
  ),
  fc.record({ i: fc.nat(3), types: fc.subarray([...TYPES, 'T*']), f: fc.integer({ min: 1, max: 3 }), e: fc.nat(1) }).map(({ i, types, f, e }) =>
    attestation(`a${i}`, { resourceTypes: types, freshnessMs: f * HOUR, params: { expression: `v${e}` } }),
  ),
  fc
    .record({
      i: fc.nat(3),
      reqs: fc.subarray(['q0', 'q1', 'q2', 'qx']),
      atts: fc.subarray(['a0', 'a1', 'a2', 'a3', 'ax']),
      targets: selectorArb,
      cascade: fc.boolean(),
      cls: fc.constantFrom('C1', 'C2', undefined),
      policy: fc.constantFrom('all' as const, 'any' as const),
    })
    .map(({ i, reqs, atts, targets, cascade, cls, policy }) =>
      implementation(`i${i}`, { requirements: reqs, attestations: atts, targets, cascade, class: cls, policy }),
    ),
  fc.record({ i: fc.nat(1), q: fc.nat(2), sel: selectorArb, h: fc.nat(3) }).map(({ i, q, sel, h }) =>
    waiver(`w${i}`, { requirement: `q${q}`, resources: sel, expiresAt: T0 + h * HOUR }),
  ),
);

const resultArb = fc.record({
  r: fc.nat(5),
  a: fc.nat(4),
  outcome: fc.constantFrom('Passed' as const, 'Failed' as const, 'Errored' as const),
  // Mostly fresh results: only 3 in 8 are made stale, and most are younger than the shortest freshness.
  ageHalfHours: fc.nat(3),
  stale: fc.nat(7),
});

describe('evaluateResource', () => {
  it('agrees with the reference evaluation on every resource, through changes that invalidate the caches', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ arbitrary: defArb, weight: 9 }, { arbitrary: fc.record({ remove: fc.nat(40) }), weight: 1 }), { minLength: 10, maxLength: 50, size: 'max' }),
        fc.array(resultArb, { minLength: 5, maxLength: 30, size: 'max' }),
        fc.nat(4),
        (steps, rawResults, hours) => {
        // Prepare: one index taken through every step (its caches warm, then invalidated), checked after each.
        const index = new DefinitionIndex();
        const now = T0 + hours * HOUR;
        for (const step of steps) {
          if ('remove' in step) {
            const all = [...index.all()];
            const victim = all[step.remove % Math.max(1, all.length)];
            if (victim) index.remove(victim.kind, victim.metadata.name);
          } else index.upsert(step);
          const results = new Map<string, Map<string, AttestationResult>>();
          for (const raw of rawResults) {
            const r = index.resources.get(`r${raw.r}`);
            const attName = `a${raw.a}`;
            const versions: Record<string, number> = {};
            for (const q of index.requirements.values()) versions[q.metadata.name] = raw.stale === 1 ? q.spec.version + 1 : q.spec.version;
            const result: AttestationResult = {
              resource: `r${raw.r}`,
              attestation: attName,
              outcome: raw.outcome,
              message: raw.outcome,
              executedAt: now - raw.ageHalfHours * 1_800_000,
              durationMs: 1,
              attestationDigest: raw.stale === 2 ? 'sha256:old' : (index.attestationDigest(attName) ?? 'sha256:none'),
              resourceDigest: raw.stale === 3 || !r ? digestOf({ other: true }) : r.spec.digest,
              requirementVersions: versions,
            };
            let m = results.get(result.resource);
            if (!m) results.set(result.resource, (m = new Map()));
            m.set(attName, result);
          }
          // Act + Assess
          for (const name of ['r0', 'r1', 'r2', 'r3', 'r4', 'r5']) {
            const own = results.get(name);
            const actual = evaluateResource(index, name, own && ResourceResults.ofResults(name, own.values(), undefined), now);
            const expected = referenceEvaluate(index, name, own, now);
            // Maps as plain Maps, and states as plain objects: a state's result is made when read.
            expect(
              actual && {
                ...actual,
                attestations: new Map([...actual.attestations].map(([k, v]) => [k, plainAttestationState(v)])),
                implementations: new Map(actual.implementations),
                requirements: new Map(actual.requirements),
              },
            ).toEqual(expected);
            // Same iteration order too (due work and reports follow it).
            expect([...(actual?.attestations.keys() ?? [])]).toEqual([...(expected?.attestations.keys() ?? [])]);
            expect([...(actual?.implementations.keys() ?? [])]).toEqual([...(expected?.implementations.keys() ?? [])]);
          }
        }
      },
      ),
      { numRuns: 300 },
    );
  });
});
