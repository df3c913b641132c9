import type { ComplianceEngine } from '../compliance/engine.ts';
import type { AnyDefinition, StaleReason } from '../model.ts';
import type { Store } from '../ports/store.ts';
import { buildReport, type ComplianceReport } from '../report.ts';
import { planApply, type ApplyOutcome, type DefinitionRef } from './apply-definitions.ts';

/** Why a pair would need a run after an apply when it does not need one now. */
export type NewlyDueReason = 'NeverAttested' | StaleReason;

/** What an apply would do to the pairs and their compliance (beside its outcome). */
export interface ApplyImpact {
  /** Pairs that need a run now, and right after the apply (until a reconcile runs them). */
  readonly due: { readonly now: number; readonly after: number };
  /** Pairs that would need a run and do not now, by why (a new version, a changed rule, a new pair). */
  readonly newlyDue: Readonly<Partial<Record<NewlyDueReason, number>>>;
  /** Compliance totals now, and right after the apply: invalidated results count as Unknown until re-run. */
  readonly totals: { readonly now: ComplianceReport['totals']; readonly after: ComplianceReport['totals'] };
}

/**
 * What an apply would change, computed without writing anything: the outcome it would report
 * (created, configured, unchanged, deleted), with its impact beside it, as `POST /apply?dryRun=true`
 * answers it.
 */
export type ApplyPreview = ApplyOutcome & { readonly preview: ApplyImpact };

/**
 * A dry run of an apply: the store's outcome, and the apply's effect on the derived state,
 * worked out on `scratch`, an engine loaded from the same store, which this changes (the caller
 * discards it). The changes reach it as the change feed would bring them after a real apply.
 */
export async function previewApply(store: Store, scratch: ComplianceEngine, defs: readonly AnyDefinition[], deletes: readonly DefinitionRef[], now: number): Promise<ApplyPreview> {
  const { outcome } = await planApply(store, defs, deletes);
  scratch.advanceTo(now);
  scratch.flush();
  const dueNow = new Set<string>();
  for (const { resource, attestation } of scratch.dueWork()) dueNow.add(pairKey(resource, attestation));
  const totalsNow = buildReport(scratch).totals;

  const byRef = new Map(defs.map((d) => [pairKey(d.kind, d.metadata.name), d]));
  for (const ref of [...outcome.created, ...outcome.configured]) {
    const def = byRef.get(pairKey(ref.kind, ref.name));
    if (def) scratch.upsertDefinition(def);
  }
  for (const ref of outcome.deleted) {
    scratch.removeDefinition(ref.kind, ref.name);
    // The apply deletes a Resource's results and checked-at items with it.
    if (ref.kind === 'Resource') {
      scratch.removeResults(ref.name);
      scratch.removeChecked(ref.name);
    }
  }
  scratch.flush();

  let dueAfter = 0;
  const newlyDue: Partial<Record<NewlyDueReason, number>> = {};
  for (const { resource, attestation } of scratch.dueWork()) {
    dueAfter++;
    if (dueNow.has(pairKey(resource, attestation))) continue;
    const state = scratch.evaluation(resource)?.attestations.get(attestation);
    const reason: NewlyDueReason = state?.status === 'Stale' && state.staleReason !== undefined ? state.staleReason : 'NeverAttested';
    newlyDue[reason] = (newlyDue[reason] ?? 0) + 1;
  }
  return { ...outcome, preview: { due: { now: dueNow.size, after: dueAfter }, newlyDue, totals: { now: totalsNow, after: buildReport(scratch).totals } } };
}

function pairKey(a: string, b: string): string {
  // NUL cannot occur in names: the two parts never run together.
  return `${a}\u0000${b}`;
}
