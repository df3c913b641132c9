import type { CheckedItem } from '../checked-item.ts';
import { canonicalJson } from '../digest.ts';
import type { AnyDefinition, AttestationResult, DefinitionKind, Implementation, Resource } from '../model.ts';
import { isKeyedResultsItem, resultsOf, type AnyResultsItem, type ResultsItem } from '../results-item.ts';
import { DefinitionIndex } from './definition-index.ts';
import { snapshotOf, type DerivedState } from './derived-state.ts';
import { evaluateResource, type ResourceEvaluation } from './evaluate-resource.ts';
import { MinHeap } from './min-heap.ts';
import { ResourceResults } from './resource-results.ts';
import { rollUp, type EffectiveState } from './roll-up.ts';

const NO_VERSIONS: Readonly<Record<string, number>> = Object.freeze({});
/** Parent chains up to this long are walked without a visited set; longer ones may be cycles. */
const SHORT_CHAIN = 32;

/** The roll-up input of a resource without children. */
const NO_CHILDREN: readonly ReadonlyMap<string, EffectiveState>[] = [];

/** What the engine derived for one existing resource, kept together: one look-up finds it all. */
interface Derived {
  evaluation: ResourceEvaluation;
  /** Rolled-up statuses (set by the flush that evaluated it). */
  effective: Map<string, EffectiveState> | undefined;
  /** The expiry queued on the heap for it, or Infinity. */
  expiry: number;
}

/** One (resource, attestation) pair that needs a run. */
export interface WorkItem {
  readonly resource: string;
  readonly attestation: string;
}

/** What a result must record so that a later change of any of it makes the result Stale. */
export interface RunContext {
  readonly attestationDigest: string;
  readonly resourceDigest: string;
  readonly requirementVersions: Readonly<Record<string, number>>;
}

/** Counts of the work the last flush did, for benchmarks and logs. */
export interface FlushStats {
  readonly evaluated: number;
  readonly rolledUp: number;
}

/**
 * The incremental engine. It keeps derived state for every resource and, on each change, marks
 * only the resources the change can affect as dirty; `flush()` re-evaluates those and rolls
 * the result up their ancestors. Invariant (property-tested): after any sequence of changes its
 * state equals `computeDerivedState` over the same definitions, results and time.
 */
export class ComplianceEngine {
  readonly index = new DefinitionIndex();
  /** Latest results by resource, as stored, with the checked-at times that apply to them. */
  private readonly results = new Map<string, ResourceResults>();
  /** Checked-at times by resource, as their CHECKED items hold them. */
  private readonly checked = new Map<string, Readonly<Record<string, number>>>();
  /** Derived state by resource: exactly the existing resources after a flush. */
  private readonly derived = new Map<string, Derived>();
  private readonly dirty = new Set<string>();
  /**
   * Every resource is dirty until the next flush (set when a change marks them all): further
   * marks are skipped, except that a Resource written meanwhile still marks its own name. A bulk
   * apply then pays for one "everything" instead of a subtree walk per implementation.
   */
  private allDirty = false;
  /** Resources whose roll-up must be recomputed although they were not re-evaluated. */
  private readonly rollupDirty = new Set<string>();
  private readonly expiries = new MinHeap<string>();
  private currentTime: number;

  constructor(now: number) {
    this.currentTime = now;
  }

  get now(): number {
    return this.currentTime;
  }

  /** Loads a whole state at once (start-up) and computes everything. */
  static load(
    definitions: Iterable<AnyDefinition>,
    results: Iterable<AttestationResult>,
    now: number,
    checked: Iterable<CheckedItem> = [],
  ): ComplianceEngine {
    const engine = ComplianceEngine.loading(definitions, now, checked);
    const byResource = new Map<string, AttestationResult[]>();
    for (const r of results) {
      const list = byResource.get(r.resource);
      if (list) list.push(r);
      else byResource.set(r.resource, [r]);
    }
    for (const [resource, list] of byResource) engine.results.set(resource, ResourceResults.ofResults(resource, list, engine.checked.get(resource)));
    return engine.loaded();
  }

  /**
   * `load` of every item's results (`resultsOf`), from the stored results items as they are: the
   * start-up path. A resource's item of the current form keeps its entries, as the change feed's
   * `replaceResults` keeps them, with no result object per pair (1,000,000 of them at start-up
   * were most of its time and garbage). Items of the first, keyed form, and results meeting
   * another item of their resource, are read as result objects in order, as `load` reads them.
   */
  static loadItems(definitions: Iterable<AnyDefinition>, items: Iterable<AnyResultsItem>, now: number, checked: Iterable<CheckedItem> = []): ComplianceEngine {
    const engine = ComplianceEngine.loading(definitions, now, checked);
    const byResource = new Map<string, ResultsItem | AttestationResult[]>();
    /** The results so far of a resource as a list, from its item when it had one. */
    const listOf = (resource: string): AttestationResult[] | undefined => {
      const seen = byResource.get(resource);
      if (seen === undefined || Array.isArray(seen)) return seen;
      const list = resultsOf(seen);
      byResource.set(resource, list);
      return list;
    };
    for (const item of items) {
      if (!isKeyedResultsItem(item)) {
        if (item.results.length === 0) continue;
        const list = listOf(item.resource);
        if (list === undefined) byResource.set(item.resource, item);
        else list.push(...resultsOf(item));
        continue;
      }
      for (const r of resultsOf(item)) {
        const list = listOf(r.resource);
        if (list === undefined) byResource.set(r.resource, [r]);
        else list.push(r);
      }
    }
    for (const [resource, kept] of byResource) {
      const checkedAt = engine.checked.get(resource);
      const results = Array.isArray(kept) ? ResourceResults.ofResults(resource, kept, checkedAt) : ResourceResults.ofItem(resource, kept, checkedAt);
      if (results !== undefined) engine.results.set(resource, results);
    }
    return engine.loaded();
  }

  /** The start of a load: the definitions and checked-at times, no results yet. */
  private static loading(definitions: Iterable<AnyDefinition>, now: number, checked: Iterable<CheckedItem>): ComplianceEngine {
    const engine = new ComplianceEngine(now);
    for (const def of definitions) engine.index.upsert(def);
    for (const c of checked) engine.checked.set(c.resource, c.checkedAt);
    return engine;
  }

  /** Every resource dirty, then flushed: the end of a load. */
  private loaded(): ComplianceEngine {
    for (const name of this.index.resources.keys()) this.dirty.add(name);
    this.allDirty = true;
    this.flush();
    return this;
  }

  upsertDefinition(def: AnyDefinition): void {
    const old = this.index.get(def.kind, def.metadata.name);
    this.markBefore(old, def);
    this.index.upsert(def);
    this.markAfter(old, def);
  }

  removeDefinition(kind: DefinitionKind, name: string): void {
    const old = this.index.get(kind, name);
    if (!old) return;
    this.markBefore(old, undefined);
    this.index.remove(kind, name);
    this.markAfter(old, undefined);
  }

  putResult(result: AttestationResult): void {
    this.storeResult(result);
    this.dirty.add(result.resource);
  }

  /**
   * Replaces all results of a resource at once (its results item was written): the same as
   * `removeResults` then `putResult` of each. The item's entries are kept as they are.
   */
  replaceResults(resource: string, item: AnyResultsItem): void {
    const kept = ResourceResults.ofItem(resource, item, this.checked.get(resource));
    if (kept !== undefined && kept.size > 0) {
      this.results.set(resource, kept);
      this.dirty.add(resource);
      return;
    }
    const own: AttestationResult[] = [];
    for (const result of kept === undefined ? resultsOf(item) : []) {
      // A result filed under another resource goes there, as `putResult` would file it.
      if (result.resource !== resource) this.putResult(result);
      else own.push(result);
    }
    if (own.length > 0) this.results.set(resource, ResourceResults.ofResults(resource, own, this.checked.get(resource)));
    else if (!this.results.delete(resource)) return;
    this.dirty.add(resource);
  }

  /** Drops the results of a resource (it was deleted, or its results were purged). */
  removeResults(resource: string): void {
    if (this.results.delete(resource)) this.dirty.add(resource);
  }

  /**
   * Replaces the checked-at times of a resource (its CHECKED item): re-runs that found the
   * stored results unchanged. They move only freshness (see `expiresAt`).
   */
  putChecked(resource: string, checkedAt: Readonly<Record<string, number>>): void {
    this.checked.set(resource, checkedAt);
    this.remerge(resource);
  }

  /** Drops the checked-at times of a resource (its CHECKED item was deleted). */
  removeChecked(resource: string): void {
    if (!this.checked.delete(resource)) return;
    this.remerge(resource);
  }

  private remerge(resource: string): void {
    const current = this.results.get(resource);
    if (!current) return;
    this.results.set(resource, current.withChecked(this.checked.get(resource)));
    this.dirty.add(resource);
  }

  /** Moves the clock; results and waivers that expire by then make their resources dirty. */
  advanceTo(now: number): void {
    if (now <= this.currentTime) return;
    this.currentTime = now;
    for (;;) {
      const top = this.expiries.peek();
      if (!top || top.priority > now) break;
      this.expiries.pop();
      const d = this.derived.get(top.value);
      if (d && d.expiry === top.priority) {
        d.expiry = Number.POSITIVE_INFINITY;
        this.dirty.add(top.value);
      }
    }
  }

  get pendingChanges(): number {
    return this.dirty.size + this.rollupDirty.size;
  }

  /** Re-evaluates dirty resources and rolls the changes up their ancestors. */
  flush(): FlushStats {
    const rollupSet = new Set<string>(this.rollupDirty);
    this.rollupDirty.clear();
    /** Resources whose whole ancestor chain is already in `rollupSet`: a later walk stops there. */
    const chained = new Set<string>();
    let evaluated = 0;
    let rolledUp = 0;
    for (const name of this.dirty) {
      const e = evaluateResource(this.index, name, this.results.get(name), this.currentTime);
      evaluated++;
      if (!e) {
        this.derived.delete(name);
        continue;
      }
      let d = this.derived.get(name);
      if (d) d.evaluation = e;
      else this.derived.set(name, (d = { evaluation: e, effective: undefined, expiry: Number.POSITIVE_INFINITY }));
      this.scheduleExpiry(name, d, e.nextChangeAt);
      // Without children its roll-up is its own state alone: done here, outside the depth order
      // (most dirty resources are leaves).
      if (!this.index.children.has(name) && !rollupSet.has(name)) {
        d.effective = rollUp(e.requirements, NO_CHILDREN);
        rolledUp++;
      } else {
        rollupSet.add(name);
      }
      this.addAncestors(name, rollupSet, chained);
    }
    this.dirty.clear();
    this.allDirty = false;
    // Deepest first, so every child's roll-up is current before its parent's; within a depth,
    // in insertion order (buckets instead of a sort). Only existing resources have derived state.
    const byDepth: string[][] = [];
    for (const n of rollupSet) {
      if (!this.derived.has(n)) continue;
      const depth = this.depthOf(n);
      (byDepth[depth] ??= []).push(n);
      rolledUp++;
    }
    const children: Map<string, EffectiveState>[] = [];
    for (let depth = byDepth.length - 1; depth >= 0; depth--) {
      for (const n of byDepth[depth] ?? []) {
        children.length = 0;
        const names = this.index.children.get(n);
        if (names) {
          for (const c of names) {
            const eff = this.derived.get(c)?.effective;
            if (eff) children.push(eff);
          }
        }
        const d = this.derived.get(n);
        if (d) d.effective = rollUp(d.evaluation.requirements, children);
      }
    }
    return { evaluated, rolledUp };
  }

  /**
   * Adds the existing ancestors of `name` to `into`, stopping at one whose chain is already
   * there. Each ancestor passed is marked as chained too (its chain is added by the time this
   * returns), so siblings stop at their common parent.
   */
  private addAncestors(name: string, into: Set<string>, chained: Set<string>): void {
    let steps = 0;
    let parent = this.index.resources.get(name)?.spec.parent;
    while (parent !== undefined && parent !== name && !chained.has(parent)) {
      const def = this.index.resources.get(parent);
      if (!def) break;
      into.add(parent);
      chained.add(parent);
      if (++steps > SHORT_CHAIN) {
        // Long chain or a cycle: the exact walk, which stops at a repeat.
        for (const a of this.index.ancestorNames(name)) into.add(a);
        return;
      }
      parent = def.spec.parent;
    }
    chained.add(name);
  }

  /** Number of existing ancestors (the length of `ancestorNames`), without building the list. */
  private depthOf(name: string): number {
    let depth = 0;
    let parent = this.index.resources.get(name)?.spec.parent;
    while (parent !== undefined && parent !== name) {
      const def = this.index.resources.get(parent);
      if (!def) return depth;
      if (++depth > SHORT_CHAIN) return this.index.ancestorNames(name).length;
      parent = def.spec.parent;
    }
    return depth;
  }

  evaluation(resource: string): ResourceEvaluation | undefined {
    return this.derived.get(resource)?.evaluation;
  }

  effective(resource: string): ReadonlyMap<string, EffectiveState> | undefined {
    return this.derived.get(resource)?.effective;
  }

  /** The latest results of a resource (each made when read). */
  resultsOf(resource: string): ResourceResults | undefined {
    return this.results.get(resource);
  }

  *allResults(): IterableIterator<AttestationResult> {
    for (const m of this.results.values()) yield* m.values();
  }

  /** Pairs never attested, or whose result went Stale. Call after `flush()`. */
  *dueWork(): IterableIterator<WorkItem> {
    for (const [resource, { evaluation }] of this.derived) {
      for (const attestation of evaluation.attestations.due() ?? []) yield { resource, attestation };
    }
  }

  /**
   * The same pairs as `dueWork`, grouped by resource in the same order, without an object per
   * pair (a full reconcile plans every pair of the organisation). Call after `flush()`.
   */
  dueWorkByResource(): Array<[resource: string, attestations: readonly string[]]> {
    const out: Array<[string, readonly string[]]> = [];
    for (const [resource, { evaluation }] of this.derived) {
      // Statuses only: no state object is made for planning.
      const due = evaluation.attestations.due();
      if (due) out.push([resource, due]);
    }
    return out;
  }

  /** The context a run of this pair is made against, recorded in its result. */
  runContext(resource: string, attestation: string): RunContext | undefined {
    return this.runContexts(resource, [attestation]).get(attestation);
  }

  /** Run contexts of several attestations of one resource (one look-up per attestation). */
  runContexts(resource: string, attestations: readonly string[]): Map<string, RunContext> {
    const out = new Map<string, RunContext>();
    const r = this.index.resources.get(resource);
    if (!r) return out;
    const records = this.index.runRecords(r);
    const resourceDigest = r.spec.digest;
    for (const a of attestations) {
      const record = records.get(a);
      if (record) {
        out.set(a, { attestationDigest: record.attestationDigest, resourceDigest, requirementVersions: record.requirementVersions });
        continue;
      }
      // An attestation that does not reach the resource: its run would record no requirement.
      const attestationDigest = this.index.attestationDigest(a);
      if (attestationDigest !== undefined) out.set(a, { attestationDigest, resourceDigest, requirementVersions: NO_VERSIONS });
    }
    return out;
  }

  snapshot(): DerivedState {
    return snapshotOf({
      resourceNames: () => this.derived.keys(),
      evaluation: (n) => this.derived.get(n)?.evaluation,
      effective: (n) => this.derived.get(n)?.effective,
    });
  }

  private storeResult(result: AttestationResult): void {
    const current = this.results.get(result.resource);
    const times = this.checked.get(result.resource);
    this.results.set(result.resource, current ? current.withResult(result, times) : ResourceResults.ofResults(result.resource, [result], times));
  }

  /** Queues the time at which a resource's evaluation changes by itself (once per time). */
  private scheduleExpiry(name: string, d: Derived, at: number): void {
    if (!Number.isFinite(at)) {
      d.expiry = Number.POSITIVE_INFINITY;
      return;
    }
    if (d.expiry === at) return;
    d.expiry = at;
    this.expiries.push(at, name);
  }

  /** Dirty marks that need the index as it was before the change. */
  private markBefore(old: AnyDefinition | undefined, next: AnyDefinition | undefined): void {
    const def = old ?? next;
    if (!def || this.allDirty) return;
    switch (def.kind) {
      case 'Resource':
        if (old) for (const a of this.index.ancestorNames(old.metadata.name)) this.rollupDirty.add(a);
        if (old && (!next || isStructuralResourceChange(old as Resource, next as Resource))) {
          this.markAll(this.index.subtree(old.metadata.name));
        }
        break;
      case 'Implementation':
        if (old) this.markReach(old as Implementation);
        break;
      case 'Waiver':
        if (old && old.kind === 'Waiver') this.markAll(this.index.select(old.spec.resources));
        break;
      default:
        break;
    }
  }

  /** Dirty marks that need the index as it is after the change. */
  private markAfter(old: AnyDefinition | undefined, next: AnyDefinition | undefined): void {
    const def = next ?? old;
    if (!def) return;
    if (this.allDirty) {
      if (def.kind === 'Resource') this.dirty.add(def.metadata.name);
      return;
    }
    switch (def.kind) {
      case 'Resource': {
        const name = def.metadata.name;
        // A deleted resource's results stay until the runtime purges them (removeResults).
        if (!next) {
          this.dirty.add(name);
        } else if (!old || isStructuralResourceChange(old as Resource, next as Resource)) {
          this.markAll(this.index.subtree(name));
        } else {
          this.dirty.add(name);
        }
        break;
      }
      case 'Requirement': {
        const o = old?.kind === 'Requirement' ? old : undefined;
        const n = next?.kind === 'Requirement' ? next : undefined;
        if (o && n && sameApplicability(o.spec, n.spec)) {
          if (o.spec.version !== n.spec.version) this.markResourcesWithResultsFor(def.metadata.name);
        } else {
          this.markAll(this.index.resources.keys());
          this.allDirty = true;
        }
        break;
      }
      case 'Implementation':
        if (next && next.kind === 'Implementation') this.markReach(next);
        break;
      case 'Attestation':
        for (const impl of this.index.implementations.values()) {
          if (impl.spec.attestations.includes(def.metadata.name)) this.markReach(impl);
          if (this.allDirty) break;
        }
        break;
      case 'Waiver':
        if (next && next.kind === 'Waiver') this.markAll(this.index.select(next.spec.resources));
        break;
      case 'Provider':
      case 'ComplianceObjective':
        break;
    }
  }

  private markResourcesWithResultsFor(requirement: string): void {
    for (const [resource, m] of this.results) {
      if (m.recordsRequirement(requirement)) this.dirty.add(resource);
    }
  }

  /**
   * Marks what an implementation reaches. When that is every resource (an org-wide
   * implementation), everything is dirty: the further changes before the flush need no marks,
   * so a catalog update walks the tree once rather than once per attestation.
   */
  private markReach(impl: Implementation): void {
    const reached = this.index.reach(impl);
    this.markAll(reached);
    // `reach` holds existing resources only, so its size tells whether it holds them all.
    if (reached.size === this.index.resources.size) this.allDirty = true;
  }

  private markAll(names: Iterable<string>): void {
    for (const n of names) this.dirty.add(n);
  }
}

/** Changes that can alter what reaches the resource's descendants, not only the resource. */
function isStructuralResourceChange(a: Resource, b: Resource): boolean {
  return (
    a.spec.parent !== b.spec.parent ||
    a.spec.type !== b.spec.type ||
    canonicalJson(a.spec.classes) !== canonicalJson(b.spec.classes) ||
    canonicalJson(a.metadata.labels) !== canonicalJson(b.metadata.labels)
  );
}

function sameApplicability(
  a: { appliesTo: unknown; requiredImplementationClasses: readonly string[] },
  b: { appliesTo: unknown; requiredImplementationClasses: readonly string[] },
): boolean {
  return (
    canonicalJson(a.appliesTo) === canonicalJson(b.appliesTo) &&
    canonicalJson(a.requiredImplementationClasses) === canonicalJson(b.requiredImplementationClasses)
  );
}
