/**
 * The evaluation as first written (before the hot-path rewrite), kept as a reference: simple
 * closures, maps and filters, and the relevant implementations by their definition. The
 * differential test checks the optimised `evaluateResource` against it.
 */
import type {
  AttestationResult,
  ComplianceReason,
  ComplianceStatus,
  Implementation,
  Requirement,
  ResourceAttestationState,
  ResourceImplementationState,
  StaleReason,
  Waiver,
} from '../../src/core/model.ts';
import { selectorMatches } from '../../src/core/selector.ts';
import { selectable, type DefinitionIndex } from '../../src/core/compliance/definition-index.ts';

/** An Errored result is retried after this long even when the attestation's freshness is longer. */
export const ERRORED_RETRY_MS = 5 * 60_000;

/** Own (not rolled-up) status of one (resource, requirement) pair. */
export interface OwnRequirementState {
  readonly resource: string;
  readonly requirement: string;
  readonly status: ComplianceStatus;
  readonly reason: ComplianceReason;
  readonly implementations: readonly string[];
  readonly waiver?: string;
}

/** Everything derived for one resource that does not depend on its children. */
export interface ResourceEvaluation {
  readonly resource: string;
  readonly attestations: ReadonlyMap<string, ResourceAttestationState>;
  readonly implementations: ReadonlyMap<string, ResourceImplementationState>;
  readonly requirements: ReadonlyMap<string, OwnRequirementState>;
  /** Earliest future time at which this evaluation changes by itself (expiry), or Infinity. */
  readonly nextChangeAt: number;
}

/** Results of one resource by attestation name. */
export type ResourceResults = ReadonlyMap<string, AttestationResult>;

type Resolution = 'Valid' | 'Unknown' | 'Invalid';

/** Why a recorded result no longer counts, or undefined while it still does. */
export function staleReason(
  index: DefinitionIndex,
  result: AttestationResult,
  resourceDigest: string,
  now: number,
): StaleReason | undefined {
  const attestation = index.attestations.get(result.attestation);
  if (!attestation || index.attestationDigest(result.attestation) !== result.attestationDigest) return 'AttestationChanged';
  if (result.resourceDigest !== resourceDigest) return 'ResourceChanged';
  for (const [req, version] of Object.entries(result.requirementVersions)) {
    const current = index.requirements.get(req);
    if (current && current.spec.version !== version) return 'RequirementVersionChanged';
  }
  if (now >= expiresAt(result, attestation.spec.freshnessMs)) return 'Expired';
  return undefined;
}

export function expiresAt(result: AttestationResult, freshnessMs: number): number {
  const lifetime = result.outcome === 'Errored' ? Math.min(freshnessMs, ERRORED_RETRY_MS) : freshnessMs;
  return result.executedAt + lifetime;
}

/** Implementations that reach a resource: those targeting it, and cascading ones targeting an ancestor. */
export function implementationsReaching(index: DefinitionIndex, resourceName: string): readonly Implementation[] {
  return index.implementationsReaching(resourceName);
}

/**
 * Derives the state of one resource from the definitions, its own results and the time: the
 * ResourceImplementations that reach it, their ResourceAttestations, and the own status of every
 * requirement that applies to it. Pure; the from-scratch and incremental paths both call it.
 */
export function evaluateResource(
  index: DefinitionIndex,
  resourceName: string,
  results: ResourceResults | undefined,
  now: number,
): ResourceEvaluation | undefined {
  const resource = index.resources.get(resourceName);
  if (!resource) return undefined;
  let nextChangeAt = Number.POSITIVE_INFINITY;

  const attestations = new Map<string, ResourceAttestationState>();
  const attestationState = (name: string): ResourceAttestationState => {
    let state = attestations.get(name);
    if (state) return state;
    const result = results?.get(name);
    if (!result) {
      state = { resource: resourceName, attestation: name, status: 'Pending' };
    } else {
      const reason = staleReason(index, result, resource.spec.digest, now);
      if (reason) {
        state = { resource: resourceName, attestation: name, status: 'Stale', staleReason: reason, result };
      } else {
        const freshness = index.attestations.get(name)?.spec.freshnessMs ?? 0;
        nextChangeAt = Math.min(nextChangeAt, expiresAt(result, freshness));
        state = { resource: resourceName, attestation: name, status: result.outcome, result };
      }
    }
    attestations.set(name, state);
    return state;
  };

  // Requirements that apply to this resource, found through the by-type index.
  const view = selectable(resource);
  const candidates = index.candidateRequirements(resource.spec.type);
  const applicableRequirements: Requirement[] = [];
  for (const req of candidates.exact) if (selectorMatches(req.spec.appliesTo, view)) applicableRequirements.push(req);
  for (const req of candidates.general) if (selectorMatches(req.spec.appliesTo, view)) applicableRequirements.push(req);
  const applicableNames = new Set(applicableRequirements.map((r) => r.metadata.name));

  // A reaching implementation is materialised only where it does something: it has an
  // attestation for this type, or one of its requirements applies here.
  const implementations = new Map<string, ResourceImplementationState>();
  const resolutions = new Map<string, { resolution: Resolution; errored: boolean; empty: boolean }>();
  // By definition: the reaching implementations that act here (an attestation for the type, or an applicable requirement).
  const reaching = index
    .implementationsReaching(resourceName)
    .filter((i) => index.applicableAttestations(i, resource.spec.type).length > 0 || i.spec.requirements.some((q) => applicableNames.has(q)));
  for (const impl of reaching) {
    const applicable = index.applicableAttestations(impl, resource.spec.type);
    const states = applicable.map(attestationState);
    const resolution = resolve(impl.spec.policy, states);
    resolutions.set(impl.metadata.name, {
      resolution,
      errored: states.some((s) => s.status === 'Errored'),
      empty: states.length === 0,
    });
    implementations.set(impl.metadata.name, {
      resource: resourceName,
      implementation: impl.metadata.name,
      valid: resolution === 'Valid',
      attestations: applicable,
    });
  }

  const requirements = new Map<string, OwnRequirementState>();
  for (const req of applicableRequirements) {
    const name = req.metadata.name;
    const implsOfReq = reaching.filter((i) => i.spec.requirements.includes(name));
    const implNames = implsOfReq.map((i) => i.metadata.name);
    const waiver = activeWaiver(index, name, view, now);
    if (waiver) {
      nextChangeAt = Math.min(nextChangeAt, waiver.spec.expiresAt);
      requirements.set(name, { resource: resourceName, requirement: name, status: 'Exempt', reason: 'Waived', implementations: implNames, waiver: waiver.metadata.name });
      continue;
    }
    const { status, reason } = requirementStatus(req.spec.requiredImplementationClasses, implsOfReq, resolutions);
    requirements.set(name, { resource: resourceName, requirement: name, status, reason, implementations: implNames });
  }

  return { resource: resourceName, attestations, implementations, requirements, nextChangeAt };
}

function resolve(policy: 'all' | 'any', states: readonly ResourceAttestationState[]): Resolution {
  if (states.length === 0) return 'Invalid';
  if (policy === 'all') {
    if (states.some((s) => s.status === 'Failed')) return 'Invalid';
    return states.every((s) => s.status === 'Passed') ? 'Valid' : 'Unknown';
  }
  if (states.some((s) => s.status === 'Passed')) return 'Valid';
  return states.every((s) => s.status === 'Failed') ? 'Invalid' : 'Unknown';
}

const RESOLUTION_RANK: Readonly<Record<Resolution, number>> = { Valid: 0, Unknown: 1, Invalid: 2 };

/**
 * With required classes, each class must be covered by its best implementation and the
 * requirement is as good as its worst class; without, the best implementation decides.
 */
function requirementStatus(
  requiredClasses: readonly string[],
  impls: readonly Implementation[],
  resolutions: ReadonlyMap<string, { resolution: Resolution; errored: boolean; empty: boolean }>,
): { status: ComplianceStatus; reason: ComplianceReason } {
  if (impls.length === 0) return { status: 'NonCompliant', reason: 'NoImplementation' };
  const groups: Implementation[][] =
    requiredClasses.length === 0 ? [[...impls]] : requiredClasses.map((c) => impls.filter((i) => i.spec.class === c));
  if (groups.some((g) => g.length === 0)) return { status: 'NonCompliant', reason: 'MissingImplementationClass' };

  let worst: Resolution = 'Valid';
  let errored = false;
  let allEmpty = true;
  for (const group of groups) {
    let best: Resolution = 'Invalid';
    for (const impl of group) {
      const r = resolutions.get(impl.metadata.name);
      if (!r) continue;
      if (RESOLUTION_RANK[r.resolution] < RESOLUTION_RANK[best]) best = r.resolution;
      if (r.resolution === 'Unknown' && r.errored) errored = true;
      if (!r.empty) allEmpty = false;
    }
    if (RESOLUTION_RANK[best] > RESOLUTION_RANK[worst]) worst = best;
  }
  if (worst === 'Valid') return { status: 'Compliant', reason: 'Implemented' };
  if (worst === 'Unknown') return { status: 'Unknown', reason: errored ? 'AttestationErrored' : 'AttestationPending' };
  return { status: 'NonCompliant', reason: allEmpty ? 'NoApplicableAttestation' : 'AttestationFailed' };
}

function activeWaiver(index: DefinitionIndex, requirement: string, view: ReturnType<typeof selectable>, now: number): Waiver | undefined {
  let chosen: Waiver | undefined;
  for (const w of index.waivers.values()) {
    if (w.spec.requirement !== requirement || w.spec.expiresAt <= now) continue;
    if (!selectorMatches(w.spec.resources, view)) continue;
    if (!chosen || cmp(w.metadata.name, chosen.metadata.name) < 0) chosen = w;
  }
  return chosen;
}

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
