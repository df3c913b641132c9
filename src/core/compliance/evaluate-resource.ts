import type {
  ComplianceReason,
  ComplianceStatus,
  Implementation,
  Requirement,
  ResourceAttestationStatus,
  ResourceImplementationState,
  StaleReason,
  Waiver,
} from '../model.ts';
import { selectorMatches, type SelectableResource } from '../selector.ts';
import type { StoredResult } from '../results-item.ts';
import { AttestationStates } from './attestation-states.ts';
import { selectable, type Applicable, type ApplicableAttestation, type DefinitionIndex, type RequirementImplementations } from './definition-index.ts';
import type { ResourceResults } from './resource-results.ts';
import { SlotMap } from './slot-map.ts';

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
  /** Its states are made when read; planning and reports read statuses (`due`, `statusOf`). */
  readonly attestations: AttestationStates;
  readonly implementations: ReadonlyMap<string, ResourceImplementationState>;
  readonly requirements: ReadonlyMap<string, OwnRequirementState>;
  /** Earliest future time at which this evaluation changes by itself (expiry), or Infinity. */
  readonly nextChangeAt: number;
}

type Resolution = 'Valid' | 'Unknown' | 'Invalid';

/** Why a stored entry's result no longer counts, or undefined while it still does. */
function staleReasonOf(
  index: DefinitionIndex,
  attestationDigest: string,
  freshnessMs: number,
  results: ResourceResults,
  entry: StoredResult,
  resourceDigest: string,
  now: number,
  currentVersions: Readonly<Record<string, number>> | undefined,
): StaleReason | undefined {
  if (attestationDigest !== results.attestationDigestOf(entry)) return 'AttestationChanged';
  if (results.resourceDigestOf(entry) !== resourceDigest) return 'ResourceChanged';
  const versions = results.requirementVersionsOf(entry);
  // The very record a run gets now: made from the current requirements (run records are made
  // again when a requirement changes), so none of them has moved on.
  if (versions !== currentVersions) {
    // for-in, not Object.entries: this runs for every result of every evaluated resource.
    for (const req in versions) {
      if (!Object.hasOwn(versions, req)) continue;
      const current = index.requirements.get(req);
      if (current && current.spec.version !== versions[req]) return 'RequirementVersionChanged';
    }
  }
  if (now >= expiresAt(results, entry, freshnessMs)) return 'Expired';
  return undefined;
}

/**
 * When a result expires: freshness counts from its latest run, `executedAt` or the latest
 * unchanged re-run (`lastCheckedAt`, from the resource's CHECKED item), whichever is later.
 */
function expiresAt(results: ResourceResults, entry: StoredResult, freshnessMs: number): number {
  const lifetime = results.outcomeOf(entry) === 'Errored' ? Math.min(freshnessMs, ERRORED_RETRY_MS) : freshnessMs;
  const executedAt = results.executedAtOf(entry);
  const checked = results.lastCheckedAtOf(entry);
  const ranAt = checked !== undefined && checked > executedAt ? checked : executedAt;
  return ranAt + lifetime;
}

/** Implementations that reach a resource: those targeting it, and cascading ones targeting an ancestor. */
export function implementationsReaching(index: DefinitionIndex, resourceName: string): readonly Implementation[] {
  return index.implementationsReaching(resourceName);
}

/** How an implementation resolves on one resource, from the states of its applicable attestations. */
interface ImplResolution {
  readonly resolution: Resolution;
  /** Some attestation is Errored. */
  readonly errored: boolean;
  /** It has no attestation for the resource's type. */
  readonly empty: boolean;
}

/**
 * Derives the state of one resource from the definitions, its own results and the time: the
 * ResourceImplementations that reach it, their ResourceAttestations, and the own status of every
 * requirement that applies to it. Pure; the from-scratch and incremental paths both call it.
 * It runs for every resource a change touches, so it avoids closures and per-call indexes.
 */
export function evaluateResource(
  index: DefinitionIndex,
  resourceName: string,
  results: ResourceResults | undefined,
  now: number,
): ResourceEvaluation | undefined {
  const resource = index.resources.get(resourceName);
  if (!resource) return undefined;
  const digest = resource.spec.digest;
  let nextChangeAt = Number.POSITIVE_INFINITY;
  // What applies and reaches here comes from the definitions alone: planned once, kept by the index.
  const plan = index.evaluationPlan(resource);
  const reaching = plan.reaching;
  // What a run would record now, by attestation slot (kept per plan).
  const runRecords = results === undefined ? undefined : index.planRunRecords(resource).inKeyOrder;

  // A reaching implementation is materialised only where it does something: it has an
  // attestation for this type, or one of its requirements applies here. The maps' keys are the
  // plan's; only their values are made here, and for attestations only a status per pair.
  // Sized up front: an empty array grows to 17 slots at its first write, and these are kept.
  const statuses: ResourceAttestationStatus[] = new Array(plan.attestationSlots.keys.length);
  let staleReasons: StaleReason[] | undefined;
  const implementationStates: ResourceImplementationState[] = new Array(reaching.length);
  const resolutions: ImplResolution[] = new Array(reaching.length);
  for (let i = 0; i < reaching.length; i++) {
    const impl = reaching[i] as Implementation;
    const applicable = plan.applicable[i] as Applicable;
    const slots = plan.attestationSlotsOf[i] as readonly number[];
    let passed = 0;
    let failed = 0;
    let errored = false;
    const entries = applicable.entries;
    for (let k = 0; k < entries.length; k++) {
      const entry = entries[k] as ApplicableAttestation;
      const slot = slots[k] as number;
      let status = statuses[slot];
      if (status === undefined) {
        const stored = results?.entry(entry.name);
        if (!results || !stored) {
          status = 'Pending';
        } else {
          const freshnessMs = entry.attestation.spec.freshnessMs;
          const reason = staleReasonOf(index, entry.digest, freshnessMs, results, stored, digest, now, runRecords?.[slot]?.requirementVersions);
          if (reason) {
            status = 'Stale';
            (staleReasons ??= [])[slot] = reason;
          } else {
            const at = expiresAt(results, stored, freshnessMs);
            if (at < nextChangeAt) nextChangeAt = at;
            status = results.outcomeOf(stored);
          }
        }
        statuses[slot] = status;
      }
      if (status === 'Passed') passed++;
      else if (status === 'Failed') failed++;
      else if (status === 'Errored') errored = true;
    }
    const total = applicable.names.length;
    const resolution = resolve(impl.spec.policy, total, passed, failed);
    resolutions[i] = resolutionOf(resolution, errored, total === 0);
    implementationStates[plan.implementationSlots.slotOf.get(impl.metadata.name) as number] = {
      resource: resourceName,
      implementation: impl.metadata.name,
      valid: resolution === 'Valid',
      attestations: applicable.names,
    };
  }

  const requirementStates: OwnRequirementState[] = new Array(plan.requirements.length);
  let view: SelectableResource | undefined;
  for (let q = 0; q < plan.requirements.length; q++) {
    const req = plan.requirements[q] as Requirement;
    const name = req.metadata.name;
    const own = plan.implementationsOf[q] as RequirementImplementations;
    const waiver = index.waivers.size === 0 ? undefined : activeWaiver(index, name, (view ??= selectable(resource)), now);
    if (waiver) {
      nextChangeAt = Math.min(nextChangeAt, waiver.spec.expiresAt);
      requirementStates[q] = { resource: resourceName, requirement: name, status: 'Exempt', reason: 'Waived', implementations: own.names, waiver: waiver.metadata.name };
      continue;
    }
    const { status, reason } = requirementStatus(req.spec.requiredImplementationClasses, reaching, own.indexes, resolutions);
    requirementStates[q] = { resource: resourceName, requirement: name, status, reason, implementations: own.names };
  }
  const attestations = new AttestationStates(resourceName, plan.attestationSlots, statuses, staleReasons, results);
  const implementations = new SlotMap(plan.implementationSlots, implementationStates);
  const requirements = new SlotMap(plan.requirementSlots, requirementStates);

  return { resource: resourceName, attestations, implementations, requirements, nextChangeAt };
}

/** `all`: every attestation passed; `any`: one did. Counts of Passed and Failed among `total` states. */
function resolve(policy: 'all' | 'any', total: number, passed: number, failed: number): Resolution {
  if (total === 0) return 'Invalid';
  if (policy === 'all') {
    if (failed > 0) return 'Invalid';
    return passed === total ? 'Valid' : 'Unknown';
  }
  if (passed > 0) return 'Valid';
  return failed === total ? 'Invalid' : 'Unknown';
}

/** Shared, frozen resolutions (there are only twelve), by resolution then `errored * 2 + empty`. */
const RESOLUTION_TABLE: Readonly<Record<Resolution, readonly ImplResolution[]>> = {
  Valid: resolutionsFor('Valid'),
  Unknown: resolutionsFor('Unknown'),
  Invalid: resolutionsFor('Invalid'),
};

function resolutionsFor(resolution: Resolution): readonly ImplResolution[] {
  return [0, 1, 2, 3].map((i) => Object.freeze({ resolution, errored: (i & 2) !== 0, empty: (i & 1) !== 0 }));
}

function resolutionOf(resolution: Resolution, errored: boolean, empty: boolean): ImplResolution {
  return RESOLUTION_TABLE[resolution][(errored ? 2 : 0) + (empty ? 1 : 0)] as ImplResolution;
}

const RESOLUTION_RANK: Readonly<Record<Resolution, number>> = { Valid: 0, Unknown: 1, Invalid: 2 };

/** Shared results of `requirementStatus` (status and reason only; never mutated). */
const STATUS = {
  noImplementation: Object.freeze({ status: 'NonCompliant', reason: 'NoImplementation' }),
  missingClass: Object.freeze({ status: 'NonCompliant', reason: 'MissingImplementationClass' }),
  compliant: Object.freeze({ status: 'Compliant', reason: 'Implemented' }),
  erroredUnknown: Object.freeze({ status: 'Unknown', reason: 'AttestationErrored' }),
  pending: Object.freeze({ status: 'Unknown', reason: 'AttestationPending' }),
  noApplicable: Object.freeze({ status: 'NonCompliant', reason: 'NoApplicableAttestation' }),
  failed: Object.freeze({ status: 'NonCompliant', reason: 'AttestationFailed' }),
} as const satisfies Record<string, { status: ComplianceStatus; reason: ComplianceReason }>;

/**
 * With required classes, each class must be covered by its best implementation and the
 * requirement is as good as its worst class; without, the best implementation decides.
 * `impls` are indexes into `reaching` and `resolutions`.
 */
function requirementStatus(
  requiredClasses: readonly string[],
  reaching: readonly Implementation[],
  impls: readonly number[],
  resolutions: readonly ImplResolution[],
): { readonly status: ComplianceStatus; readonly reason: ComplianceReason } {
  if (impls.length === 0) return STATUS.noImplementation;
  let worst: Resolution = 'Valid';
  let errored = false;
  let allEmpty = true;
  const groups = requiredClasses.length === 0 ? 1 : requiredClasses.length;
  for (let g = 0; g < groups; g++) {
    const cls = requiredClasses.length === 0 ? undefined : requiredClasses[g];
    let best: Resolution = 'Invalid';
    let members = 0;
    for (let k = 0; k < impls.length; k++) {
      const i = impls[k] as number;
      if (cls !== undefined && (reaching[i] as Implementation).spec.class !== cls) continue;
      members++;
      const r = resolutions[i] as ImplResolution;
      if (RESOLUTION_RANK[r.resolution] < RESOLUTION_RANK[best]) best = r.resolution;
      if (r.resolution === 'Unknown' && r.errored) errored = true;
      if (!r.empty) allEmpty = false;
    }
    if (members === 0) return STATUS.missingClass;
    if (RESOLUTION_RANK[best] > RESOLUTION_RANK[worst]) worst = best;
  }
  if (worst === 'Valid') return STATUS.compliant;
  if (worst === 'Unknown') return errored ? STATUS.erroredUnknown : STATUS.pending;
  return allEmpty ? STATUS.noApplicable : STATUS.failed;
}

function activeWaiver(index: DefinitionIndex, requirement: string, view: SelectableResource, now: number): Waiver | undefined {
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
