import type { ComplianceEngine } from '../compliance/engine.ts';
import type { ComplianceObjective, ComplianceObjectiveSpec, ComplianceStatus, Requirement } from '../model.ts';
import { selectorMatches } from '../selector.ts';

/** Selected (resource, requirement) pairs of an objective by own status. */
export interface PairCounts {
  readonly compliant: number;
  readonly nonCompliant: number;
  readonly unknown: number;
  readonly exempt: number;
}

export const NO_PAIRS: PairCounts = { compliant: 0, nonCompliant: 0, unknown: 0, exempt: 0 };

/** True when a requirement's framework references match one of the objective's prefixes (empty = all). */
export function citesFramework(frameworkRefs: readonly string[], prefixes: readonly string[]): boolean {
  if (prefixes.length === 0) return true;
  return frameworkRefs.some((ref) => prefixes.some((p) => ref === p || ref.startsWith(`${p}:`)));
}

/** Whether the objective counts this requirement at all (its `requirements` and `frameworks`). */
export function objectiveSelectsRequirement(spec: ComplianceObjectiveSpec, req: Requirement): boolean {
  if (spec.requirements.length > 0 && !spec.requirements.includes(req.metadata.name)) return false;
  return citesFramework(req.spec.frameworks, spec.frameworks);
}

/**
 * Counts an objective's pairs by their **own** status (not the rolled-up one: a parent's effective
 * status repeats its children's, so counting it would count one finding twice). Call after
 * `engine.flush()`.
 */
export function countObjectivePairs(engine: ComplianceEngine, objective: ComplianceObjective): PairCounts {
  const { index } = engine;
  const spec = objective.spec;
  const counts: Record<ComplianceStatus, number> = { Compliant: 0, NonCompliant: 0, Unknown: 0, Exempt: 0 };
  const selected = new Map<string, boolean>();
  const selects = (name: string): boolean => {
    let s = selected.get(name);
    if (s === undefined) {
      const req = index.requirements.get(name);
      s = req !== undefined && objectiveSelectsRequirement(spec, req);
      selected.set(name, s);
    }
    return s;
  };
  for (const [name, resource] of index.resources) {
    const sel = { name, type: resource.spec.type, classes: resource.spec.classes, labels: resource.metadata.labels };
    if (!selectorMatches(spec.resources, sel)) continue;
    const evaluation = engine.evaluation(name);
    if (!evaluation) continue;
    for (const [req, own] of evaluation.requirements) if (selects(req)) counts[own.status]++;
  }
  return { compliant: counts.Compliant, nonCompliant: counts.NonCompliant, unknown: counts.Unknown, exempt: counts.Exempt };
}

/**
 * The SLI at an instant: good / assessable pairs, where assessable leaves Exempt pairs out and good
 * is Compliant (plus Unknown when `unknownIsCompliant`). 1 when nothing is assessable, as in the
 * report: an objective with nothing to meet is not violated.
 */
export function instantSli(counts: PairCounts, unknownIsCompliant: boolean): number {
  const assessable = counts.compliant + counts.nonCompliant + counts.unknown;
  if (assessable === 0) return 1;
  const good = counts.compliant + (unknownIsCompliant ? counts.unknown : 0);
  return good / assessable;
}
