import type {
  AnyDefinition,
  AttestationResult,
  ComplianceReason,
  ComplianceStatus,
  ResourceAttestationState,
  ResourceImplementationState,
  ResourceRequirementState,
} from '../model.ts';
import { plainAttestationState } from './attestation-state.ts';
import { DefinitionIndex } from './definition-index.ts';
import { cmp, evaluateResource, type ResourceEvaluation } from './evaluate-resource.ts';
import { ResourceResults } from './resource-results.ts';
import { rollUp, type EffectiveState } from './roll-up.ts';

/** A roll-up entry on a resource the requirement does not apply to itself (e.g. an account). */
export interface RolledUpState {
  readonly resource: string;
  readonly requirement: string;
  readonly status: ComplianceStatus;
  readonly reason: ComplianceReason;
}

/** The whole derived state, sorted, comparable with deep equality. */
export interface DerivedState {
  readonly attestations: ResourceAttestationState[];
  readonly implementations: ResourceImplementationState[];
  readonly requirements: ResourceRequirementState[];
  readonly rollups: RolledUpState[];
}

/** Read access both the incremental engine and the from-scratch computation give. */
export interface DerivedView {
  resourceNames(): Iterable<string>;
  evaluation(resource: string): ResourceEvaluation | undefined;
  effective(resource: string): ReadonlyMap<string, EffectiveState> | undefined;
}

/** Groups results by resource, then attestation. */
export function groupResults(results: Iterable<AttestationResult>): Map<string, Map<string, AttestationResult>> {
  const out = new Map<string, Map<string, AttestationResult>>();
  for (const r of results) {
    let m = out.get(r.resource);
    if (!m) out.set(r.resource, (m = new Map()));
    m.set(r.attestation, r);
  }
  return out;
}

/**
 * The reference computation: derived state from the definitions and the latest results alone.
 * The incremental engine must always agree with it (property-tested).
 */
export function computeDerivedState(
  definitions: Iterable<AnyDefinition>,
  results: Iterable<AttestationResult>,
  now: number,
): DerivedState {
  const index = DefinitionIndex.from(definitions);
  const byResource = groupResults(results);
  const evaluations = new Map<string, ResourceEvaluation>();
  for (const name of index.resources.keys()) {
    const own = byResource.get(name);
    const e = evaluateResource(index, name, own === undefined ? undefined : ResourceResults.ofResults(name, own.values(), undefined), now);
    if (e) evaluations.set(name, e);
  }
  const effective = new Map<string, Map<string, EffectiveState>>();
  const visiting = new Set<string>();
  const effectiveOf = (name: string): Map<string, EffectiveState> => {
    const done = effective.get(name);
    if (done) return done;
    visiting.add(name);
    const children = [...(index.children.get(name) ?? [])]
      .filter((c) => index.resources.has(c) && !visiting.has(c))
      .map(effectiveOf);
    const e = rollUp(evaluations.get(name)?.requirements, children);
    visiting.delete(name);
    effective.set(name, e);
    return e;
  };
  for (const name of index.resources.keys()) effectiveOf(name);
  return snapshotOf({
    resourceNames: () => index.resources.keys(),
    evaluation: (n) => evaluations.get(n),
    effective: (n) => effective.get(n),
  });
}

export function snapshotOf(view: DerivedView): DerivedState {
  const attestations: ResourceAttestationState[] = [];
  const implementations: ResourceImplementationState[] = [];
  const requirements: ResourceRequirementState[] = [];
  const rollups: RolledUpState[] = [];
  const names = [...view.resourceNames()].sort(cmp);
  for (const name of names) {
    const e = view.evaluation(name);
    const eff = view.effective(name) ?? new Map<string, EffectiveState>();
    if (!e) continue;
    for (const a of [...e.attestations.keys()].sort(cmp)) attestations.push(plainAttestationState(e.attestations.get(a) as ResourceAttestationState));
    for (const i of [...e.implementations.keys()].sort(cmp)) implementations.push(e.implementations.get(i) as ResourceImplementationState);
    for (const req of [...eff.keys()].sort(cmp)) {
      const own = e.requirements.get(req);
      const rolled = eff.get(req) as EffectiveState;
      if (own) {
        requirements.push({
          ...own,
          effectiveStatus: rolled.status,
          effectiveReason: rolled.reason,
        });
      } else {
        rollups.push({ resource: name, requirement: req, status: rolled.status, reason: rolled.reason });
      }
    }
  }
  return { attestations, implementations, requirements, rollups };
}
