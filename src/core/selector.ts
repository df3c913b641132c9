import type { Labels, ResourceSelector } from './model.ts';

/** The parts of a resource a selector looks at. */
export interface SelectableResource {
  readonly name: string;
  readonly type: string;
  readonly classes: readonly string[];
  readonly labels: Labels;
}

/** `AWS::S3::*` matches every type starting with `AWS::S3::`; `*` matches all. */
export function typeMatches(pattern: string, type: string): boolean {
  if (pattern.endsWith('*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

export function typeMatchesAny(patterns: readonly string[], type: string): boolean {
  return patterns.length === 0 || patterns.some((p) => typeMatches(p, type));
}

/** Every given field must match; an empty selector matches every resource. */
export function selectorMatches(selector: ResourceSelector, r: SelectableResource): boolean {
  if (selector.ids && selector.ids.length > 0 && !selector.ids.includes(r.name)) return false;
  if (selector.types && selector.types.length > 0 && !typeMatchesAny(selector.types, r.type)) return false;
  if (selector.classes && selector.classes.length > 0 && !selector.classes.some((c) => r.classes.includes(c))) return false;
  if (selector.matchLabels) {
    for (const [k, v] of Object.entries(selector.matchLabels)) {
      if (r.labels[k] !== v) return false;
    }
  }
  return true;
}

/** True when the selector names resources only by id (so matching can use an index). */
export function isIdOnlySelector(selector: ResourceSelector): boolean {
  return (
    (selector.ids?.length ?? 0) > 0 &&
    (selector.types?.length ?? 0) === 0 &&
    (selector.classes?.length ?? 0) === 0 &&
    Object.keys(selector.matchLabels ?? {}).length === 0
  );
}
