import { COMPLIANCE_RANK, type ComplianceReason, type ComplianceStatus } from '../model.ts';
import type { OwnRequirementState } from './evaluate-resource.ts';

/** Rolled-up status of a requirement on a resource: its own and its subtree's, worst wins. */
export interface EffectiveState {
  readonly status: ComplianceStatus;
  readonly reason: ComplianceReason;
}

const REASON_FROM_CHILD: Readonly<Record<ComplianceStatus, ComplianceReason>> = {
  NonCompliant: 'ChildNonCompliant',
  Unknown: 'ChildUnknown',
  Compliant: 'Implemented',
  Exempt: 'Waived',
};

/**
 * A parent is only as compliant as its worst child for the same requirement. A requirement held
 * only by descendants rolls up too, so an account shows the compliance of everything below it.
 * The own status wins ties, so its reason is kept unless a child is strictly worse.
 */
export function rollUp(
  own: ReadonlyMap<string, OwnRequirementState> | undefined,
  children: Iterable<ReadonlyMap<string, EffectiveState>>,
): Map<string, EffectiveState> {
  let worstChild: Map<string, ComplianceStatus> | undefined;
  for (const child of children) {
    if (child.size === 0) continue;
    worstChild ??= new Map();
    for (const [req, state] of child) {
      const current = worstChild.get(req);
      if (current === undefined || COMPLIANCE_RANK[state.status] > COMPLIANCE_RANK[current]) worstChild.set(req, state.status);
    }
  }
  const out = new Map<string, EffectiveState>();
  if (own) {
    for (const state of own.values()) {
      const req = state.requirement;
      const child = worstChild?.get(req);
      if (child !== undefined && COMPLIANCE_RANK[child] > COMPLIANCE_RANK[state.status]) {
        out.set(req, effectiveState(child, REASON_FROM_CHILD[child]));
      } else {
        out.set(req, effectiveState(state.status, state.reason));
      }
    }
  }
  if (worstChild) {
    for (const [req, status] of worstChild) {
      if (!out.has(req)) out.set(req, effectiveState(status, REASON_FROM_CHILD[status]));
    }
  }
  return out;
}

/** Effective states are shared and frozen: only a few (status, reason) pairs exist. */
const EFFECTIVE_STATES = new Map<ComplianceStatus, Map<ComplianceReason, EffectiveState>>();

function effectiveState(status: ComplianceStatus, reason: ComplianceReason): EffectiveState {
  let byReason = EFFECTIVE_STATES.get(status);
  if (!byReason) EFFECTIVE_STATES.set(status, (byReason = new Map()));
  let state = byReason.get(reason);
  if (!state) byReason.set(reason, (state = Object.freeze({ status, reason })));
  return state;
}

export function sameEffective(a: ReadonlyMap<string, EffectiveState> | undefined, b: ReadonlyMap<string, EffectiveState>): boolean {
  if (!a || a.size !== b.size) return false;
  for (const [req, s] of b) {
    const o = a.get(req);
    if (!o || o.status !== s.status || o.reason !== s.reason) return false;
  }
  return true;
}
