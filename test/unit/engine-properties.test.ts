import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DefinitionIndex } from '../../src/core/compliance/definition-index.ts';
import { ComplianceEngine, type RunContext } from '../../src/core/compliance/engine.ts';
import { computeDerivedState } from '../../src/core/compliance/derived-state.ts';
import { mergeCheckedAt } from '../../src/core/checked-item.ts';
import type { AnyDefinition, AttestationResult, DefinitionKind, ResourceSelector } from '../../src/core/model.ts';
import { typeMatchesAny } from '../../src/core/selector.ts';
import { resultsItemOf } from '../../src/core/results-item.ts';
import { attestation, implementation, requirement, resource, resultsInOrder, waiver } from '../support/builders.ts';

const T0 = Date.UTC(2026, 10, 25);
const HOUR = 3_600_000;
const MAX_DEPTH = 6;
const TYPES = ['T1', 'T2', 'T3'];
const ENVS = ['prod', 'dev'];

/** One random step; the numbers are interpreted against the current state (so every step is valid). */
interface Step {
  readonly op: number;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly d: number;
}

const stepArb = fc.record({
  op: fc.integer({ min: 0, max: 15 }),
  a: fc.nat(1000),
  b: fc.nat(1000),
  c: fc.nat(1000),
  d: fc.nat(1000),
});

/** A model of the world the test keeps itself: definitions and results, independent of the engine. */
class World {
  readonly defs = new Map<string, AnyDefinition>();
  readonly results = new Map<string, AttestationResult>();
  /** CHECKED items: resource → attestation → checked-at time. */
  readonly checked = new Map<string, Record<string, number>>();
  now = T0;

  /** The results the reference computation sees: stored results merged with checked-at times. */
  mergedResults(): AttestationResult[] {
    return mergeCheckedAt(this.results.values(), this.checked);
  }

  constructor(readonly engine: ComplianceEngine) {}

  names(kind: DefinitionKind): string[] {
    return [...this.defs.values()].filter((d) => d.kind === kind).map((d) => d.metadata.name);
  }

  upsert(def: AnyDefinition): void {
    this.defs.set(`${def.kind}/${def.metadata.name}`, def);
    this.engine.upsertDefinition(def);
  }

  remove(kind: DefinitionKind, name: string): void {
    this.defs.delete(`${kind}/${name}`);
    this.engine.removeDefinition(kind, name);
  }

  parentOf(name: string): string | undefined {
    const d = this.defs.get(`Resource/${name}`);
    return d?.kind === 'Resource' ? d.spec.parent : undefined;
  }

  depth(name: string): number {
    let depth = 0;
    for (let p = this.parentOf(name); p !== undefined && depth <= 64; p = this.parentOf(p)) depth++;
    return depth;
  }

  /** Height of the subtree below `name` (0 for a leaf). */
  height(name: string): number {
    const children = this.names('Resource').filter((r) => this.parentOf(r) === name);
    return children.length === 0 ? 0 : 1 + Math.max(...children.map((c) => this.height(c)));
  }

  isBelow(candidate: string, root: string): boolean {
    for (let p: string | undefined = candidate; p !== undefined; p = this.parentOf(p)) if (p === root) return true;
    return false;
  }
}

function pick<T>(xs: readonly T[], n: number): T | undefined {
  return xs.length === 0 ? undefined : xs[n % xs.length];
}

function subset<T>(xs: readonly T[], mask: number): T[] {
  return xs.filter((_, i) => (mask >> i) & 1);
}

function selectorFrom(world: World, n: number): ResourceSelector {
  switch (n % 4) {
    case 0: return { ids: [pick(world.names('Resource'), n >> 2) ?? 'r0'] };
    case 1: return { types: [TYPES[(n >> 2) % TYPES.length] as string] };
    case 2: return { matchLabels: { env: ENVS[(n >> 2) % ENVS.length] as string } };
    default: return {};
  }
}

function apply(world: World, s: Step): void {
  switch (s.op) {
    case 0:
    case 1: {
      // Add or change a resource, keeping the tree acyclic and at most MAX_DEPTH deep.
      const existing = world.names('Resource');
      const name = s.a % 3 === 0 || existing.length === 0 ? `r${existing.length}` : (pick(existing, s.a) as string);
      const candidates = existing.filter((p) => p !== name && !world.isBelow(p, name));
      const parent = s.b % 4 === 0 ? undefined : pick(candidates, s.b);
      if (parent !== undefined && world.depth(parent) + 1 + world.height(name) > MAX_DEPTH) return;
      world.upsert(
        resource(name, TYPES[s.c % TYPES.length] as string, {
          parent,
          labels: { env: ENVS[s.d % ENVS.length] as string },
          document: { v: s.d % 3 },
        }),
      );
      return;
    }
    case 2: {
      const name = `q${s.a % 3}`;
      world.upsert(
        requirement(name, {
          version: 1 + (s.b % 3),
          appliesTo: s.c % 3 === 0 ? {} : selectorFrom(world, s.c),
          requiredImplementationClasses: s.d % 4 === 0 ? ['C1'] : s.d % 4 === 1 ? ['C1', 'C2'] : [],
        }),
      );
      return;
    }
    case 3: {
      const name = `a${s.a % 4}`;
      world.upsert(
        attestation(name, {
          resourceTypes: s.b % 2 === 0 ? [] : [TYPES[s.b % TYPES.length] as string],
          freshnessMs: (1 + (s.c % 3)) * HOUR,
          params: { expression: `v${s.d % 2}` },
        }),
      );
      return;
    }
    case 4: {
      const name = `i${s.a % 4}`;
      const reqs = subset(['q0', 'q1', 'q2'], 1 + (s.b % 7));
      const atts = subset(['a0', 'a1', 'a2', 'a3'], 1 + (s.c % 15));
      world.upsert(
        implementation(name, {
          requirements: reqs,
          attestations: atts,
          targets: selectorFrom(world, s.d),
          cascade: (s.d >> 3) % 3 !== 0,
          class: ['C1', 'C2', undefined][(s.b >> 3) % 3],
          policy: (s.c >> 4) % 2 === 0 ? 'all' : 'any',
        }),
      );
      return;
    }
    case 5: {
      world.upsert(
        waiver(`w${s.a % 2}`, {
          requirement: `q${s.b % 3}`,
          resources: selectorFrom(world, s.c),
          expiresAt: world.now + (s.d % 5) * HOUR,
        }),
      );
      return;
    }
    case 6: {
      // Remove any definition.
      const all = [...world.defs.values()];
      const victim = pick(all, s.a);
      if (victim) world.remove(victim.kind, victim.metadata.name);
      return;
    }
    case 10: {
      // Bump only the version of an existing requirement.
      const name = pick(world.names('Requirement'), s.a);
      const def = name === undefined ? undefined : world.defs.get(`Requirement/${name}`);
      if (def?.kind === 'Requirement') world.upsert(requirement(def.metadata.name, { ...def.spec, version: def.spec.version + 1 }));
      return;
    }
    case 11: {
      // Move an existing resource (and its subtree) under another parent, or make it a root.
      const name = pick(world.names('Resource'), s.a);
      const def = name === undefined ? undefined : world.defs.get(`Resource/${name}`);
      if (def?.kind !== 'Resource' || name === undefined) return;
      const candidates = world.names('Resource').filter((p) => p !== name && !world.isBelow(p, name));
      const parent = s.b % 5 === 0 ? undefined : pick(candidates, s.b);
      if (parent !== undefined && world.depth(parent) + 1 + world.height(name) > MAX_DEPTH) return;
      world.upsert({ ...def, spec: { ...def.spec, parent } });
      return;
    }
    case 7:
    case 8:
    case 12:
    case 13: {
      // Record a result for a pair the engine has (mostly), against the current context or an outdated one.
      const r = pick(world.names('Resource'), s.a);
      const pairs = r === undefined ? [] : [...(world.engine.evaluation(r)?.attestations.keys() ?? [])];
      const a = s.b % 4 === 0 || pairs.length === 0 ? pick(world.names('Attestation'), s.b) : pick(pairs, s.b);
      if (!r || !a) return;
      const ctx = world.engine.runContext(r, a);
      if (!ctx) return;
      const outdated = s.d % 5 === 0;
      const result: AttestationResult = {
        resource: r,
        attestation: a,
        outcome: (['Passed', 'Passed', 'Passed', 'Failed', 'Errored'] as const)[s.c % 5] as AttestationResult['outcome'],
        message: 'm',
        executedAt: world.now - (s.d % 4) * 30 * 60_000,
        durationMs: 1,
        attestationDigest: ctx.attestationDigest,
        resourceDigest: ctx.resourceDigest,
        requirementVersions: outdated
          ? Object.fromEntries(Object.keys(ctx.requirementVersions).map((q) => [q, 99]))
          : ctx.requirementVersions,
      };
      world.results.set(`${r}/${a}`, result);
      world.engine.putResult(result);
      return;
    }
    case 14: {
      // Re-check unchanged: a re-run found a recorded result unchanged, so only the resource's
      // CHECKED item moves (sometimes to a time before the result ran: an outdated check).
      const recorded = [...world.results.values()];
      const r = pick(recorded, s.a);
      if (!r) return;
      const times = { ...(world.checked.get(r.resource) ?? {}), [r.attestation]: world.now - (s.b % 4) * 30 * 60_000 };
      world.checked.set(r.resource, times);
      world.engine.putChecked(r.resource, times);
      return;
    }
    case 15: {
      // A CHECKED item deleted (its resource was deleted), or a results item removed.
      const r = pick([...new Set([...world.results.values()].map((x) => x.resource))], s.a);
      if (!r) return;
      if (s.b % 2 === 0) {
        world.checked.delete(r);
        world.engine.removeChecked(r);
      } else {
        for (const [k, x] of world.results) if (x.resource === r) world.results.delete(k);
        world.engine.removeResults(r);
      }
      return;
    }
    default: {
      world.now += (s.a % 6) * 20 * 60_000;
      world.engine.advanceTo(world.now);
    }
  }
}

/**
 * The run context of every (resource, attestation) pair, from the definitions alone (a fresh
 * index, no cache kept across changes): every requirement of every implementation through which
 * the attestation reaches the resource.
 */
function expectedRunContexts(world: World): Map<string, RunContext> {
  const index = DefinitionIndex.from(world.defs.values());
  const out = new Map<string, RunContext>();
  for (const r of index.resources.values()) {
    for (const a of index.attestations.values()) {
      const requirementVersions: Record<string, number> = {};
      if (typeMatchesAny(a.spec.resourceTypes, r.spec.type)) {
        for (const impl of index.implementationsReaching(r.metadata.name)) {
          if (!impl.spec.attestations.includes(a.metadata.name)) continue;
          for (const q of impl.spec.requirements) {
            const req = index.requirements.get(q);
            if (req) requirementVersions[q] = req.spec.version;
          }
        }
      }
      const attestationDigest = index.attestationDigest(a.metadata.name) as string;
      out.set(`${r.metadata.name}/${a.metadata.name}`, { attestationDigest, resourceDigest: r.spec.digest, requirementVersions });
    }
  }
  return out;
}

function runContexts(world: World): Map<string, RunContext> {
  const out = new Map<string, RunContext>();
  const attestations = world.names('Attestation');
  for (const r of world.names('Resource')) {
    for (const [a, ctx] of world.engine.runContexts(r, attestations)) out.set(`${r}/${a}`, ctx);
  }
  return out;
}

/** Due pairs grouped by resource, resources in first-seen order. */
function groupByResource(pairs: ReadonlyArray<{ resource: string; attestation: string }>): Array<[string, string[]]> {
  const grouped = new Map<string, string[]>();
  for (const { resource, attestation } of pairs) grouped.set(resource, [...(grouped.get(resource) ?? []), attestation]);
  return [...grouped];
}

describe('incremental engine', () => {
  it('always equals a from-scratch recomputation over random trees, definitions, changes and results', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 10, maxLength: 150, size: 'max' }), fc.integer({ min: 1, max: 8 }), (steps, flushEvery) => {
        const world = new World(new ComplianceEngine(T0));
        steps.forEach((step, i) => {
          apply(world, step);
          if (i % flushEvery === 0 || i === steps.length - 1) {
            world.engine.flush();
            const expected = computeDerivedState(world.defs.values(), world.mergedResults(), world.now);
            expect(world.engine.snapshot()).toEqual(expected);
            expect(world.engine.dueWorkByResource()).toEqual(groupByResource([...world.engine.dueWork()]));
          }
        });
      }),
      { numRuns: 200 },
    );
  });

  it('gives every pair the run context the definitions call for, through changes that invalidate its caches', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 10, maxLength: 150, size: 'max' }), (steps) => {
        const world = new World(new ComplianceEngine(T0));
        for (const step of steps) {
          apply(world, step);
          // Asked after every step, so each change meets run contexts cached before it.
          expect(runContexts(world)).toEqual(expectedRunContexts(world));
        }
      }),
      { numRuns: 100 },
    );
  });

  it('loads a whole state to the same derived state as the reference', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 10, maxLength: 100, size: 'max' }), (steps) => {
        const world = new World(new ComplianceEngine(T0));
        for (const step of steps) apply(world, step);
        world.engine.flush();
        const checked = [...world.checked].map(([resource, checkedAt]) => ({ resource, checkedAt }));
        const loaded = ComplianceEngine.load(world.defs.values(), world.results.values(), world.now, checked);
        const expected = computeDerivedState(world.defs.values(), world.mergedResults(), world.now);
        expect(loaded.snapshot()).toEqual(expected);
        // From the results items the store holds, as start-up loads them.
        const byResource = new Map<string, AttestationResult[]>();
        for (const r of world.results.values()) byResource.set(r.resource, [...(byResource.get(r.resource) ?? []), r]);
        const items = [...byResource].map(([name, results]) => resultsItemOf(name, results));
        const fromItems = ComplianceEngine.loadItems(world.defs.values(), items, world.now, checked);
        expect(fromItems.snapshot()).toEqual(expected);
        expect(resultsInOrder(fromItems)).toEqual(resultsInOrder(loaded));
        expect(world.engine.snapshot()).toEqual(expected);
      }),
      { numRuns: 100 },
    );
  });
});

