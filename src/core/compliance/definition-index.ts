import { digestOf } from '../digest.ts';
import type {
  AnyDefinition,
  Attestation,
  ComplianceObjective,
  DefinitionKind,
  Implementation,
  Provider,
  Requirement,
  Resource,
  ResourceSelector,
  Waiver,
} from '../model.ts';
import { isIdOnlySelector, selectorMatches, typeMatchesAny, type SelectableResource } from '../selector.ts';
import { slotsOf, type Slots } from './slot-map.ts';

/** Upper bound on tree depth walked; a deeper chain is treated as a cycle and cut. */
const MAX_DEPTH = 64;
const NO_IMPLEMENTATIONS: readonly Implementation[] = Object.freeze([]);
const NO_REQUIREMENTS: readonly Requirement[] = Object.freeze([]);
const NO_REQUIREMENT_NAMES: ReadonlySet<string> = new Set();

/** An attestation an implementation can run on a resource type, with its current spec digest. */
export interface ApplicableAttestation {
  readonly name: string;
  readonly attestation: Attestation;
  readonly digest: string;
}

/** The attestations of an implementation that can check one resource type, in its order. */
export interface Applicable {
  readonly names: readonly string[];
  readonly entries: readonly ApplicableAttestation[];
  /** No name is listed twice. */
  readonly distinct: boolean;
}

/** The parts of a run's context that depend on definitions only (see `runRecords`). */
export interface RunRecord {
  /** The attestation as the index holds it (a run needs it beside its digest). */
  readonly attestation: Attestation;
  readonly attestationDigest: string;
  readonly requirementVersions: Readonly<Record<string, number>>;
}

/** A plan's run records, by attestation name and in the order of the plan's attestation keys. */
export interface PlanRunRecords {
  readonly byName: ReadonlyMap<string, RunRecord>;
  /** The plan's attestation keys: the list `AttestationStates.due()` gives when every pair is due. */
  readonly keys: readonly string[];
  /** The record of `keys[i]` at `i` (undefined for an attestation that records nothing). */
  readonly inKeyOrder: readonly (RunRecord | undefined)[];
}

const NO_APPLICABLE: Applicable = Object.freeze({ names: Object.freeze([]), entries: Object.freeze([]), distinct: true });

/**
 * What evaluating a resource needs from the definitions alone: which requirements apply to it,
 * which implementations act on it and with which attestations, and which of those implement each
 * requirement. It changes only when a definition does, so the index keeps it (`evaluationPlan`).
 */
export interface EvaluationPlan {
  /** The requirements that apply to the resource. */
  readonly requirements: readonly Requirement[];
  /** The implementations that act on it (`relevantImplementations`), sorted by name. */
  readonly reaching: readonly Implementation[];
  /** Per implementation of `reaching`, its attestations for the resource's type. */
  readonly applicable: readonly Applicable[];
  /** Per requirement of `requirements`, its implementations among `reaching`. */
  readonly implementationsOf: readonly RequirementImplementations[];
  /** The keys of an evaluation's maps: attestations (first listed first), implementations, requirements. */
  readonly attestationSlots: Slots;
  /** Per implementation of `reaching`, the slot of each of its applicable attestations. */
  readonly attestationSlotsOf: readonly (readonly number[])[];
  readonly implementationSlots: Slots;
  readonly requirementSlots: Slots;
}

/** The implementations of one requirement among a plan's `reaching`: their indexes there, and names. */
export interface RequirementImplementations {
  readonly indexes: readonly number[];
  readonly names: readonly string[];
}

/** An implementation's applicable attestations by type, and the types they can check at all. */
interface ImplAttestations {
  readonly byType: Map<string, Applicable>;
  /** An attestation with no `resourceTypes` (any type). */
  readonly anyType: boolean;
  readonly types: ReadonlySet<string>;
  /** Of `AWS::S3::*` patterns, without the `*`. */
  readonly prefixes: readonly string[];
}

/** Requirements to match against a resource of one type (see `candidateRequirements`). */
export interface CandidateRequirements {
  /** They select exactly this type and nothing else: they apply without matching. */
  readonly exact: readonly Requirement[];
  readonly exactNames: ReadonlySet<string>;
  readonly general: readonly Requirement[];
}

/**
 * All definitions by kind and name, with the indexes the engine needs: the resource tree
 * (children by parent name, kept even while a parent is missing) and attestation digests.
 */
export class DefinitionIndex {
  readonly requirements = new Map<string, Requirement>();
  readonly implementations = new Map<string, Implementation>();
  readonly attestations = new Map<string, Attestation>();
  readonly resources = new Map<string, Resource>();
  readonly providers = new Map<string, Provider>();
  readonly waivers = new Map<string, Waiver>();
  readonly objectives = new Map<string, ComplianceObjective>();
  /** parent name → child names (the parent may not exist yet). */
  readonly children = new Map<string, Set<string>>();
  private readonly attestationDigests = new Map<string, string>();
  /** Implementations whose targets are ids only, by target id; the rest are matched by selector. */
  private readonly implsByTargetId = new Map<string, Set<string>>();
  private readonly selectorImpls = new Set<string>();
  /** Caches for the hot path (evaluating every resource): dropped when their inputs change. */
  private applicableCache = new Map<string, ImplAttestations>();
  /** Cascading implementations reaching a resource from it and its ancestors, by resource name. */
  private cascadeCache = new Map<string, readonly Implementation[]>();
  private cascadeSetCache = new Map<string, ReadonlySet<string>>();
  /** parent → type → cascading implementations with an attestation for that type. */
  private cascadeWithAttestationsCache = new Map<string, Map<string, readonly Implementation[]>>();
  private implsByRequirementCache: Map<string, Implementation[]> | undefined;
  /** What a run records per attestation, by evaluation plan (so shared as plans are). */
  private runRecordsByPlan = new WeakMap<EvaluationPlan, PlanRunRecords>();
  private requirementsByTypeCache: { byType: Map<string, CandidateRequirements>; general: readonly Requirement[] } | undefined;
  /** Evaluation plans by resource, and shared by the resources of a type that the same implementations reach. */
  private plansByResource = new WeakMap<Resource, EvaluationPlan>();
  private sharedPlans = new WeakMap<readonly Implementation[], Map<string, EvaluationPlan>>();

  static from(defs: Iterable<AnyDefinition>): DefinitionIndex {
    const index = new DefinitionIndex();
    for (const def of defs) index.upsert(def);
    return index;
  }

  /** Every definition, kind by kind. */
  *all(): IterableIterator<AnyDefinition> {
    yield* this.requirements.values();
    yield* this.implementations.values();
    yield* this.attestations.values();
    yield* this.resources.values();
    yield* this.providers.values();
    yield* this.waivers.values();
    yield* this.objectives.values();
  }

  get(kind: DefinitionKind, name: string): AnyDefinition | undefined {
    return this.mapFor(kind).get(name);
  }

  /** Inserts or replaces a definition; returns the one it replaced. */
  upsert(def: AnyDefinition): AnyDefinition | undefined {
    const old = this.remove(def.kind, def.metadata.name);
    this.invalidateCaches(def.kind, def.metadata.name);
    switch (def.kind) {
      case 'Requirement': this.requirements.set(def.metadata.name, def); break;
      case 'Implementation':
        this.implementations.set(def.metadata.name, def);
        if (isIdOnlySelector(def.spec.targets)) {
          for (const id of def.spec.targets.ids ?? []) {
            let set = this.implsByTargetId.get(id);
            if (!set) this.implsByTargetId.set(id, (set = new Set()));
            set.add(def.metadata.name);
          }
        } else this.selectorImpls.add(def.metadata.name);
        break;
      case 'Attestation':
        this.attestations.set(def.metadata.name, def);
        this.attestationDigests.set(def.metadata.name, digestOf(def.spec));
        break;
      case 'Resource': {
        this.resources.set(def.metadata.name, def);
        const parent = def.spec.parent;
        if (parent !== undefined) {
          let set = this.children.get(parent);
          if (!set) this.children.set(parent, (set = new Set()));
          set.add(def.metadata.name);
        }
        break;
      }
      case 'Provider': this.providers.set(def.metadata.name, def); break;
      case 'Waiver': this.waivers.set(def.metadata.name, def); break;
      case 'ComplianceObjective': this.objectives.set(def.metadata.name, def); break;
    }
    return old;
  }

  /** Removes a definition; returns it, or undefined when it did not exist. */
  remove(kind: DefinitionKind, name: string): AnyDefinition | undefined {
    const map = this.mapFor(kind);
    const old = map.get(name);
    if (!old) return undefined;
    map.delete(name);
    this.invalidateCaches(kind, name);
    if (old.kind === 'Attestation') this.attestationDigests.delete(name);
    if (old.kind === 'Implementation') {
      this.selectorImpls.delete(name);
      for (const id of old.spec.targets.ids ?? []) {
        const set = this.implsByTargetId.get(id);
        set?.delete(name);
        if (set && set.size === 0) this.implsByTargetId.delete(id);
      }
    }
    if (old.kind === 'Resource' && old.spec.parent !== undefined) {
      const set = this.children.get(old.spec.parent);
      set?.delete(name);
      if (set && set.size === 0) this.children.delete(old.spec.parent);
    }
    return old;
  }

  attestationDigest(name: string): string | undefined {
    return this.attestationDigests.get(name);
  }

  /** The resource followed by its existing ancestors, nearest first. */
  lineage(name: string): Resource[] {
    const out: Resource[] = [];
    let current = this.resources.get(name);
    while (current && out.length < MAX_DEPTH) {
      out.push(current);
      const parent = current.spec.parent;
      current = parent === undefined || parent === name ? undefined : this.resources.get(parent);
    }
    return out;
  }

  /** Names of the existing ancestors of a resource, nearest first (the parent chain). */
  ancestorNames(name: string): string[] {
    const out: string[] = [];
    const seen = new Set<string>([name]);
    let parent = this.resources.get(name)?.spec.parent;
    while (parent !== undefined && !seen.has(parent) && this.resources.has(parent)) {
      out.push(parent);
      seen.add(parent);
      parent = this.resources.get(parent)?.spec.parent;
    }
    return out;
  }

  /** The resource (existing or not) and every name below it in the tree. */
  subtree(name: string): Set<string> {
    const out = new Set<string>([name]);
    const stack = [name];
    while (stack.length > 0) {
      const next = stack.pop() as string;
      for (const child of this.children.get(next) ?? []) {
        if (!out.has(child)) {
          out.add(child);
          stack.push(child);
        }
      }
    }
    return out;
  }

  /** The implementation's attestations that can check resources of this type (cached). */
  applicableAttestations(impl: Implementation, type: string): readonly string[] {
    return this.applicable(impl, type).names;
  }

  /**
   * The same attestations with their definitions and spec digests, so that evaluating a
   * resource looks up neither (cached, and dropped with them on any Attestation change).
   */
  applicable(impl: Implementation, type: string): Applicable {
    let cached = this.applicableCache.get(impl.metadata.name);
    if (!cached) this.applicableCache.set(impl.metadata.name, (cached = this.implAttestations(impl)));
    // Most (implementation, type) pairs share no attestation (an org-wide implementation per
    // type): answered from the type summary, without an entry per pair.
    if (!checksType(cached, type)) return NO_APPLICABLE;
    const byType = cached.byType;
    let found = byType.get(type);
    if (!found) {
      const names: string[] = [];
      const entries: ApplicableAttestation[] = [];
      for (const name of impl.spec.attestations) {
        const attestation = this.attestations.get(name);
        const digest = this.attestationDigests.get(name);
        if (attestation === undefined || digest === undefined || !typeMatchesAny(attestation.spec.resourceTypes, type)) continue;
        names.push(name);
        entries.push({ name, attestation, digest });
      }
      found = { names, entries, distinct: new Set(names).size === names.length };
      byType.set(type, found);
    }
    return found;
  }

  /** The resource types an implementation's attestations can check, for `applicable`. */
  private implAttestations(impl: Implementation): ImplAttestations {
    let anyType = false;
    const types = new Set<string>();
    const prefixes: string[] = [];
    for (const name of impl.spec.attestations) {
      const patterns = this.attestations.get(name)?.spec.resourceTypes;
      if (!patterns) continue;
      if (patterns.length === 0) anyType = true;
      for (const p of patterns) {
        if (p.endsWith('*')) prefixes.push(p.slice(0, -1));
        else types.add(p);
      }
    }
    return { byType: new Map(), anyType, types, prefixes };
  }

  /**
   * Requirements that may apply to a resource of this type: those selecting exactly this type
   * by `types` alone (they apply to every resource of it), plus every requirement with a broader
   * selector (still to be matched). One shared object per type.
   */
  candidateRequirements(type: string): CandidateRequirements {
    let cache = this.requirementsByTypeCache;
    if (!cache) {
      const byType = new Map<string, CandidateRequirements>();
      const exactByType = new Map<string, Requirement[]>();
      const general: Requirement[] = [];
      for (const req of this.requirements.values()) {
        const sel = req.spec.appliesTo;
        const typesOnly =
          (sel.types?.length ?? 0) > 0 &&
          !(sel.types ?? []).some((t) => t.endsWith('*')) &&
          (sel.ids?.length ?? 0) === 0 &&
          (sel.classes?.length ?? 0) === 0 &&
          Object.keys(sel.matchLabels ?? {}).length === 0;
        if (!typesOnly) {
          general.push(req);
          continue;
        }
        for (const t of new Set(sel.types)) {
          let list = exactByType.get(t);
          if (!list) exactByType.set(t, (list = []));
          list.push(req);
        }
      }
      for (const [t, exact] of exactByType) byType.set(t, { exact, exactNames: new Set(exact.map((q) => q.metadata.name)), general });
      cache = this.requirementsByTypeCache = { byType, general };
    }
    let found = cache.byType.get(type);
    if (!found) cache.byType.set(type, (found = { exact: NO_REQUIREMENTS, exactNames: NO_REQUIREMENT_NAMES, general: cache.general }));
    return found;
  }

  /**
   * What evaluating a resource needs from the definitions (see `EvaluationPlan`), kept until a
   * Resource, Implementation, Attestation or Requirement changes: re-evaluating a resource whose
   * results changed (every resource, in a full reconcile) then redoes none of it.
   */
  evaluationPlan(r: Resource): EvaluationPlan {
    let plan = this.plansByResource.get(r);
    if (plan === undefined) this.plansByResource.set(r, (plan = this.planEvaluation(r)));
    return plan;
  }

  private planEvaluation(r: Resource): EvaluationPlan {
    const type = r.spec.type;
    // Requirements that select this type alone apply without matching; the view is built only
    // when a broader one needs matching.
    const candidates = this.candidateRequirements(type);
    let view: SelectableResource | undefined;
    let requirements: readonly Requirement[] = candidates.exact;
    let names: ReadonlySet<string> = candidates.exactNames;
    // The type's shared lists, copied only when a broader requirement applies too.
    let grown: Requirement[] | undefined;
    let grownNames: Set<string> | undefined;
    for (const req of candidates.general) {
      if (!selectorMatches(req.spec.appliesTo, (view ??= selectable(r)))) continue;
      if (!grown || !grownNames) {
        requirements = grown = [...candidates.exact];
        names = grownNames = new Set(candidates.exactNames);
      }
      grown.push(req);
      grownNames.add(req.metadata.name);
    }
    const reaching = this.relevantImplementations(r, names);
    // A broader requirement matched this resource: a plan of its own. Otherwise the type's own
    // requirements and a shared list of implementations give the same plan as every resource of
    // the type under the same parent.
    if (grown !== undefined) return this.buildPlan(type, requirements, reaching);
    let byType = this.sharedPlans.get(reaching);
    if (!byType) this.sharedPlans.set(reaching, (byType = new Map()));
    let plan = byType.get(type);
    if (!plan) byType.set(type, (plan = this.buildPlan(type, requirements, reaching)));
    return plan;
  }

  private buildPlan(type: string, requirements: readonly Requirement[], reaching: readonly Implementation[]): EvaluationPlan {
    const applicable = reaching.map((impl) => this.applicable(impl, type));
    const implementationsOf = requirements.map((req): RequirementImplementations => {
      const indexes: number[] = [];
      const names: string[] = [];
      reaching.forEach((impl, i) => {
        if (!impl.spec.requirements.includes(req.metadata.name)) return;
        indexes.push(i);
        names.push(impl.metadata.name);
      });
      return Object.freeze({ indexes: Object.freeze(indexes), names: Object.freeze(names) });
    });
    const attestationSlots = slotsOf(applicable.flatMap((a) => a.names));
    return Object.freeze({
      requirements,
      reaching,
      applicable: Object.freeze(applicable),
      implementationsOf: Object.freeze(implementationsOf),
      attestationSlots,
      attestationSlotsOf: Object.freeze(applicable.map((a) => Object.freeze(a.entries.map((e) => attestationSlots.slotOf.get(e.name) as number)))),
      implementationSlots: slotsOf(reaching.map((impl) => impl.metadata.name)),
      requirementSlots: slotsOf(requirements.map((req) => req.metadata.name)),
    });
  }

  /**
   * Implementations that reach a resource, sorted by name: those targeting it, and cascading ones
   * targeting it or an ancestor. Memoised per ancestor, so a flush over a large tree walks each
   * parent chain once.
   */
  implementationsReaching(name: string): readonly Implementation[] {
    const r = this.resources.get(name);
    if (!r) return [];
    const own = this.implementationsTargeting(r);
    const inherited = r.spec.parent === undefined ? [] : this.cascadingFrom(r.spec.parent, new Set([name]));
    if (own.length === 0) return inherited;
    return mergeByName(own, inherited);
  }

  /**
   * The implementations reaching a resource that act on it: those with an attestation for its
   * type, and those implementing one of `applicableRequirements` (the requirements that apply to
   * it). Sorted by name. Every evaluation plan and run record starts here, so the inherited part is
   * cached per (parent, type).
   */
  relevantImplementations(r: Resource, applicableRequirements: ReadonlySet<string>): readonly Implementation[] {
    const type = r.spec.type;
    const parent = r.spec.parent;
    // Common case: nothing beyond the cached inherited list with attestations for this type.
    const base = parent === undefined ? NO_IMPLEMENTATIONS : this.cascadingWithAttestations(parent, type, r.metadata.name);
    if (!this.addsToInherited(r, applicableRequirements)) return base;
    const out = new Map<string, Implementation>();
    if (parent !== undefined) {
      for (const impl of base) out.set(impl.metadata.name, impl);
      if (applicableRequirements.size > 0) {
        const inherited = this.cascadingSet(parent, r.metadata.name);
        for (const q of applicableRequirements) {
          for (const impl of this.implementationsOf(q)) if (inherited.has(impl.metadata.name)) out.set(impl.metadata.name, impl);
        }
      }
    }
    for (const impl of this.implementationsTargeting(r)) {
      if (this.applicableAttestations(impl, type).length > 0 || impl.spec.requirements.some((q) => applicableRequirements.has(q))) {
        out.set(impl.metadata.name, impl);
      }
    }
    const list = [...out.values()];
    if (list.length > 1) list.sort((x, y) => (x.metadata.name < y.metadata.name ? -1 : x.metadata.name > y.metadata.name ? 1 : 0));
    return list;
  }

  /**
   * Whether `relevantImplementations` holds more than the inherited implementations with an
   * attestation for the resource's type: an inherited one acting through a requirement only, or
   * one targeting the resource itself that is not also inherited with an attestation.
   */
  private addsToInherited(r: Resource, applicableRequirements: ReadonlySet<string>): boolean {
    const type = r.spec.type;
    const parent = r.spec.parent;
    const inherited = parent === undefined ? undefined : this.cascadingSet(parent, r.metadata.name);
    if (inherited && applicableRequirements.size > 0) {
      for (const q of applicableRequirements) {
        for (const impl of this.implementationsOf(q)) {
          if (inherited.has(impl.metadata.name) && this.applicableAttestations(impl, type).length === 0) return true;
        }
      }
    }
    for (const impl of this.implementationsTargeting(r)) {
      const acts = this.applicableAttestations(impl, type).length > 0;
      if (acts && inherited?.has(impl.metadata.name)) continue;
      if (acts) return true;
      for (const q of impl.spec.requirements) if (applicableRequirements.has(q)) return true;
    }
    return false;
  }

  /**
   * What a run of each attestation on this resource records, by attestation name: the
   * attestation's digest and the version of every requirement of every implementation through
   * which it reaches the resource. Only those with an attestation for the type can run one, so
   * requirements that apply here do not matter. The records are frozen and shared by every
   * resource that shares the evaluation plan. An attestation that does not reach the resource is
   * missing (its run records no requirement).
   */
  runRecords(r: Resource): ReadonlyMap<string, RunRecord> {
    return this.planRunRecords(r).byName;
  }

  /**
   * `runRecords` with the same records in the order of the plan's attestation keys: a run of the
   * plan's whole key list (a full reconcile) finds each by position, not by name.
   */
  planRunRecords(r: Resource): PlanRunRecords {
    // The plan's implementations are a superset of those with an attestation for the type; the
    // others have no applicable attestation and record nothing. Kept per plan: a reconcile asks
    // for every resource it runs, and plans are already kept per resource.
    const plan = this.evaluationPlan(r);
    let records = this.runRecordsByPlan.get(plan);
    if (records === undefined) {
      const byName = runRecordsOf(plan, this.requirements);
      const keys = plan.attestationSlots.keys;
      records = Object.freeze({ byName, keys, inKeyOrder: Object.freeze(keys.map((k) => byName.get(k))) });
      this.runRecordsByPlan.set(plan, records);
    }
    return records;
  }

  /** Implementations listing a requirement. */
  implementationsOf(requirement: string): readonly Implementation[] {
    if (!this.implsByRequirementCache) {
      const byReq = new Map<string, Implementation[]>();
      for (const impl of this.implementations.values()) {
        for (const q of new Set(impl.spec.requirements)) {
          let list = byReq.get(q);
          if (!list) byReq.set(q, (list = []));
          list.push(impl);
        }
      }
      this.implsByRequirementCache = byReq;
    }
    return this.implsByRequirementCache.get(requirement) ?? [];
  }

  private cascadingWithAttestations(parent: string, type: string, child: string): readonly Implementation[] {
    let byType = this.cascadeWithAttestationsCache.get(parent);
    if (!byType) this.cascadeWithAttestationsCache.set(parent, (byType = new Map()));
    let list = byType.get(type);
    if (!list) {
      list = this.cascadingFrom(parent, new Set([child])).filter((i) => this.applicableAttestations(i, type).length > 0);
      byType.set(type, list);
    }
    return list;
  }

  private cascadingSet(parent: string, child: string): ReadonlySet<string> {
    let set = this.cascadeSetCache.get(parent);
    if (!set) {
      set = new Set(this.cascadingFrom(parent, new Set([child])).map((i) => i.metadata.name));
      this.cascadeSetCache.set(parent, set);
    }
    return set;
  }

  private cascadingFrom(name: string, visiting: Set<string>): readonly Implementation[] {
    const cached = this.cascadeCache.get(name);
    if (cached) return cached;
    const r = this.resources.get(name);
    if (!r || visiting.has(name)) return [];
    visiting.add(name);
    const own = this.implementationsTargeting(r).filter((i) => i.spec.cascade);
    const inherited = r.spec.parent === undefined ? [] : this.cascadingFrom(r.spec.parent, visiting);
    visiting.delete(name);
    const out = own.length === 0 ? inherited : mergeByName(own, inherited);
    this.cascadeCache.set(name, out);
    return out;
  }

  private invalidateCaches(kind: DefinitionKind, name: string): void {
    if (kind === 'Resource' || kind === 'Implementation' || kind === 'Attestation') {
      this.cascadeCache = new Map();
      this.cascadeSetCache = new Map();
      this.cascadeWithAttestationsCache = new Map();
    }
    // Run records hold requirement versions and attestation digests, beside what reaches whom.
    if (kind === 'Resource' || kind === 'Implementation' || kind === 'Attestation' || kind === 'Requirement') {
      this.runRecordsByPlan = new WeakMap();
      this.plansByResource = new WeakMap();
      this.sharedPlans = new WeakMap();
    }
    if (kind === 'Implementation') {
      this.applicableCache.delete(name);
      this.implsByRequirementCache = undefined;
    } else if (kind === 'Attestation') this.applicableCache = new Map();
    else if (kind === 'Requirement') this.requirementsByTypeCache = undefined;
  }

  /** Implementations whose targets select this resource directly (not through an ancestor). */
  implementationsTargeting(r: Resource): Implementation[] {
    const out: Implementation[] = [];
    for (const name of this.implsByTargetId.get(r.metadata.name) ?? []) {
      const impl = this.implementations.get(name);
      if (impl) out.push(impl);
    }
    if (this.selectorImpls.size > 0) {
      const view = selectable(r);
      for (const name of this.selectorImpls) {
        const impl = this.implementations.get(name);
        if (impl && selectorMatches(impl.spec.targets, view)) out.push(impl);
      }
    }
    return out;
  }

  /** Existing resources a selector picks; uses the name index when the selector is ids only. */
  select(selector: ResourceSelector): string[] {
    if (isIdOnlySelector(selector)) return (selector.ids ?? []).filter((id) => this.resources.has(id));
    const out: string[] = [];
    for (const r of this.resources.values()) if (selectorMatches(selector, selectable(r))) out.push(r.metadata.name);
    return out;
  }

  /** Resources an implementation reaches: its targets and, with cascade, their subtrees. */
  reach(impl: Implementation): Set<string> {
    const out = new Set<string>();
    for (const target of this.select(impl.spec.targets)) {
      if (impl.spec.cascade) for (const n of this.subtree(target)) out.add(n);
      else out.add(target);
    }
    return out;
  }

  private mapFor(kind: DefinitionKind): Map<string, AnyDefinition> {
    switch (kind) {
      case 'Requirement': return this.requirements as Map<string, AnyDefinition>;
      case 'Implementation': return this.implementations as Map<string, AnyDefinition>;
      case 'Attestation': return this.attestations as Map<string, AnyDefinition>;
      case 'Resource': return this.resources as Map<string, AnyDefinition>;
      case 'Provider': return this.providers as Map<string, AnyDefinition>;
      case 'Waiver': return this.waivers as Map<string, AnyDefinition>;
      case 'ComplianceObjective': return this.objectives as Map<string, AnyDefinition>;
    }
  }
}

/** Whether some attestation of the summary can check this type (`typeMatchesAny` over them all). */
function checksType(summary: ImplAttestations, type: string): boolean {
  if (summary.anyType || summary.types.has(type)) return true;
  for (const prefix of summary.prefixes) if (type.startsWith(prefix)) return true;
  return false;
}

/** Union of two lists of implementations, sorted by name, without duplicates. */
function mergeByName(a: readonly Implementation[], b: readonly Implementation[]): Implementation[] {
  const byName = new Map<string, Implementation>();
  for (const i of b) byName.set(i.metadata.name, i);
  for (const i of a) byName.set(i.metadata.name, i);
  return [...byName.values()].sort((x, y) => (x.metadata.name < y.metadata.name ? -1 : x.metadata.name > y.metadata.name ? 1 : 0));
}

export function selectable(r: Resource): SelectableResource {
  return { name: r.metadata.name, type: r.spec.type, classes: r.spec.classes, labels: r.metadata.labels };
}

/**
 * What a run of each attestation of a plan records: its digest, and the version of every
 * requirement of every implementation through which it reaches the resource. Frozen: every
 * resource sharing the plan records the same objects.
 */
function runRecordsOf(plan: EvaluationPlan, requirements: ReadonlyMap<string, Requirement>): ReadonlyMap<string, RunRecord> {
  const versions = new Map<string, { attestation: Attestation; digest: string; record: Record<string, number> }>();
  plan.reaching.forEach((impl, i) => {
    for (const { name, attestation, digest } of (plan.applicable[i] as Applicable).entries) {
      let found = versions.get(name);
      if (!found) versions.set(name, (found = { attestation, digest, record: {} }));
      for (const req of impl.spec.requirements) {
        const def = requirements.get(req);
        if (def) found.record[req] = def.spec.version;
      }
    }
  });
  const records = new Map<string, RunRecord>();
  for (const [name, { attestation, digest, record }] of versions) {
    records.set(name, Object.freeze({ attestation, attestationDigest: digest, requirementVersions: Object.freeze(record) }));
  }
  return records;
}
