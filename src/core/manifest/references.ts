/**
 * Cross-document checks over the set of definitions that will exist after an apply: references
 * resolve, Resource parent chains end, and no (kind, name) is defined twice in one apply.
 * Issues point at the document holding the bad reference, via each ParsedDefinition's origin.
 */
import type { ManifestIssue } from '../errors.ts';
import type { AnyDefinition, Definition, DefinitionKind } from '../model.ts';
import { didYouMean } from './suggest.ts';
import type { ParsedDefinition } from './validate.ts';

/** Definitions already stored, by kind then name. Missing kinds count as empty. */
export type ExistingDefinitions = { readonly [K in DefinitionKind]?: ReadonlyMap<string, Definition<K>> };

/** Groups definitions by kind and name, the shape `checkReferences` takes for `existing`. */
export function indexDefinitions(defs: Iterable<AnyDefinition>): ExistingDefinitions {
  const index: { [K in DefinitionKind]?: Map<string, Definition<K>> } = {};
  for (const def of defs) {
    const byName: Map<string, Definition> = index[def.kind] ?? new Map();
    byName.set(def.metadata.name, def);
    (index as Record<DefinitionKind, Map<string, Definition>>)[def.kind] = byName;
  }
  return index;
}

/**
 * Checks `defs` (one apply) against themselves merged over `existing`. Only references made by
 * `defs` are checked: stored definitions were checked when they were applied. Empty references
 * are skipped because validation already reported them as required.
 */
export function checkReferences(defs: readonly ParsedDefinition[], existing: ExistingDefinitions = {}): ManifestIssue[] {
  const issues: ManifestIssue[] = [];
  const add = (p: ParsedDefinition, path: string, message: string): void => {
    issues.push({ file: p.file, doc: p.doc, path: p.path ? joinInline(p.path, path) : path, message });
  };

  // Duplicates inside the apply, and the merged view: new definitions replace stored ones.
  const names = new Map<DefinitionKind, Map<string, AnyDefinition>>();
  const firstSeen = new Map<string, ParsedDefinition>();
  for (const kind of Object.keys(existing) as DefinitionKind[]) {
    // Each kind's map holds that kind's definitions; widened so the merged view has one type.
    names.set(kind, new Map(existing[kind] as ReadonlyMap<string, AnyDefinition> | undefined));
  }
  for (const p of defs) {
    const { kind, metadata } = p.def;
    const key = `${kind}/${metadata.name}`;
    const first = firstSeen.get(key);
    if (first) {
      add(p, p.path ? 'name' : 'metadata.name', `duplicate ${kind} ${JSON.stringify(metadata.name)}; also defined in ${first.file} doc ${first.doc}`);
      continue;
    }
    firstSeen.set(key, p);
    const byName = names.get(kind) ?? new Map<string, AnyDefinition>();
    byName.set(metadata.name, p.def);
    names.set(kind, byName);
  }

  const expect = (p: ParsedDefinition, path: string, kind: DefinitionKind, name: string | undefined): void => {
    if (!name) return;
    const known = names.get(kind);
    if (known?.has(name)) return;
    add(p, path, `${kind} ${JSON.stringify(name)} not found${didYouMean(name, known?.keys() ?? [])}`);
  };

  for (const p of defs) {
    const def = p.def;
    switch (def.kind) {
      case 'Implementation':
        def.spec.requirements.forEach((r, i) => expect(p, `spec.requirements[${i}]`, 'Requirement', r));
        def.spec.attestations.forEach((a, i) => expect(p, `spec.attestations[${i}]`, 'Attestation', a));
        break;
      case 'Resource':
        expect(p, 'spec.parent', 'Resource', def.spec.parent);
        expect(p, 'spec.provider', 'Provider', def.spec.provider);
        break;
      case 'Waiver':
        expect(p, 'spec.requirement', 'Requirement', def.spec.requirement);
        break;
      case 'ComplianceObjective':
        def.spec.requirements.forEach((r, i) => expect(p, `spec.requirements[${i}]`, 'Requirement', r));
        break;
      case 'Requirement':
      case 'Attestation':
      case 'Provider':
        break;
    }
  }

  reportParentCycles(defs, names.get('Resource') ?? new Map(), add);
  return issues;
}

/** Reports each applied Resource that sits on a cycle of parents, with the cycle spelled out. */
function reportParentCycles(
  defs: readonly ParsedDefinition[],
  resources: ReadonlyMap<string, AnyDefinition>,
  add: (p: ParsedDefinition, path: string, message: string) => void,
): void {
  const parentOf = (name: string): string | undefined => {
    const def = resources.get(name);
    return def?.kind === 'Resource' ? def.spec.parent : undefined;
  };
  for (const p of defs) {
    if (p.def.kind !== 'Resource' || p.def.spec.parent === undefined) continue;
    const start = p.def.metadata.name;
    // Only the merged definition counts: a duplicate later in the apply is not the live one.
    if (resources.get(start) !== p.def) continue;
    const chain = [start];
    const seen = new Set(chain);
    let current = parentOf(start);
    while (current !== undefined && !seen.has(current)) {
      chain.push(current);
      seen.add(current);
      current = parentOf(current);
    }
    // On a cycle only when the walk came back to where it started.
    if (current === start) add(p, 'spec.parent', `parent chain forms a cycle: ${[...chain, start].join(' -> ')}`);
  }
}

/** `spec.attestations[0]` + `metadata.name` for an inline attestation reads as `…[0].name`. */
function joinInline(inlinePath: string, path: string): string {
  return `${inlinePath}.${path.replace(/^spec\./, '')}`;
}
