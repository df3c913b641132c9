import type { ComplianceEngine } from './compliance/engine.ts';
import { cmp } from './compliance/evaluate-resource.ts';
import type { ComplianceReason, ComplianceStatus, Severity } from './model.ts';

/** One (resource, requirement) pair as a report shows it, with the attestations behind it. */
export interface ReportFinding {
  readonly requirement: string;
  readonly resource: string;
  readonly resourceType: string;
  readonly status: ComplianceStatus;
  readonly reason: ComplianceReason;
  readonly effectiveStatus: ComplianceStatus;
  /** Failed/errored attestations and their messages; the waiver for Exempt pairs. */
  readonly detail: string;
  readonly waiver?: { readonly name: string; readonly reason: string; readonly approver: string; readonly expiresAt: string };
}

export interface RequirementSummary {
  readonly requirement: string;
  readonly title: string;
  readonly version: number;
  readonly severity: Severity;
  readonly frameworks: readonly string[];
  readonly applicable: number;
  readonly compliant: number;
  readonly nonCompliant: number;
  readonly unknown: number;
  readonly exempt: number;
  /** compliant / (applicable - exempt); 1 when nothing is assessable. */
  readonly ratio: number;
}

export interface ComplianceReport {
  readonly generatedAt: string;
  readonly totals: { readonly pairs: number; readonly compliant: number; readonly nonCompliant: number; readonly unknown: number; readonly exempt: number };
  readonly requirements: RequirementSummary[];
  readonly findings: ReportFinding[];
}

/** Builds the report from the engine's current derived state (call `engine.flush()` first). */
export function buildReport(engine: ComplianceEngine): ComplianceReport {
  const { index } = engine;
  const findings: ReportFinding[] = [];
  for (const name of [...index.resources.keys()].sort(cmp)) {
    const evaluation = engine.evaluation(name);
    const effective = engine.effective(name);
    const resource = index.resources.get(name);
    if (!evaluation || !resource) continue;
    for (const [reqName, own] of [...evaluation.requirements].sort((a, b) => cmp(a[0], b[0]))) {
      const waiverDef = own.waiver ? index.waivers.get(own.waiver) : undefined;
      const failing: string[] = [];
      for (const implName of own.implementations) {
        const ri = evaluation.implementations.get(implName);
        for (const att of ri?.attestations ?? []) {
          // The status first: a passing pair's state is not made (nor kept) for the report.
          const status = evaluation.attestations.statusOf(att);
          const state = status === undefined || status === 'Passed' ? undefined : evaluation.attestations.get(att);
          if (!state) continue;
          const why = state.status === 'Stale' ? `stale (${state.staleReason})` : state.result?.message ?? state.status.toLowerCase();
          failing.push(`${att}: ${why}`);
        }
      }
      const detail = waiverDef
        ? `waived by ${waiverDef.spec.approver} until ${new Date(waiverDef.spec.expiresAt).toISOString()}: ${waiverDef.spec.reason}`
        : own.reason === 'NoImplementation'
          ? 'no implementation reaches this resource'
          : failing.join('; ');
      findings.push({
        requirement: reqName,
        resource: name,
        resourceType: resource.spec.type,
        status: own.status,
        reason: own.reason,
        effectiveStatus: effective?.get(reqName)?.status ?? own.status,
        detail,
        ...(waiverDef
          ? {
              waiver: {
                name: waiverDef.metadata.name,
                reason: waiverDef.spec.reason,
                approver: waiverDef.spec.approver,
                expiresAt: new Date(waiverDef.spec.expiresAt).toISOString(),
              },
            }
          : {}),
      });
    }
  }

  const tally = new Map<string, Record<ComplianceStatus, number>>();
  const totals: Record<ComplianceStatus, number> = { Compliant: 0, NonCompliant: 0, Unknown: 0, Exempt: 0 };
  for (const f of findings) {
    let t = tally.get(f.requirement);
    if (!t) tally.set(f.requirement, (t = { Compliant: 0, NonCompliant: 0, Unknown: 0, Exempt: 0 }));
    t[f.status]++;
    totals[f.status]++;
  }
  const requirements: RequirementSummary[] = [];
  for (const req of [...index.requirements.values()].sort((a, b) => cmp(a.metadata.name, b.metadata.name))) {
    const t = tally.get(req.metadata.name) ?? { Compliant: 0, NonCompliant: 0, Unknown: 0, Exempt: 0 };
    const count = (s: ComplianceStatus) => t[s];
    const applicable = t.Compliant + t.NonCompliant + t.Unknown + t.Exempt;
    const exempt = count('Exempt');
    const compliant = count('Compliant');
    const assessable = applicable - exempt;
    requirements.push({
      requirement: req.metadata.name,
      title: req.spec.title,
      version: req.spec.version,
      severity: req.spec.severity,
      frameworks: req.spec.frameworks,
      applicable,
      compliant,
      nonCompliant: count('NonCompliant'),
      unknown: count('Unknown'),
      exempt,
      ratio: assessable === 0 ? 1 : compliant / assessable,
    });
  }
  return {
    generatedAt: new Date(engine.now).toISOString(),
    totals: { pairs: findings.length, compliant: totals.Compliant, nonCompliant: totals.NonCompliant, unknown: totals.Unknown, exempt: totals.Exempt },
    requirements,
    findings,
  };
}
