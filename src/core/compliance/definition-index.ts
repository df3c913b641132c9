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
import { isIdOnlySelector, selectorMatches, type SelectableResource } from '../selector.ts';

/** Upper bound on tree depth walked; a deeper chain is treated as a cycle and cut. */
const MAX_DEPTH = 64;

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

export function selectable(r: Resource): SelectableResource {
  return { name: r.metadata.name, type: r.spec.type, classes: r.spec.classes, labels: r.metadata.labels };
}
