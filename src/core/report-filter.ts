import { ArgusError } from './errors.ts';
import { didYouMean } from './manifest/suggest.ts';
import type { ComplianceStatus } from './model.ts';
import type { ComplianceReport } from './report.ts';

/** Which requirements a report keeps: any listed requirement, or any mapped to a listed framework. */
export interface ReportFilter {
  /** Requirement names. */
  readonly requirements?: readonly string[];
  /** `soc2` keeps every requirement mapped to a `soc2:` control; `soc2:CC6.1` keeps those mapped to that control. */
  readonly frameworks?: readonly string[];
}

/**
 * The report restricted to the requirements the filter names, with its totals recounted. A name
 * or framework that matches nothing is an error (a typo would otherwise pass a CI gate on an empty
 * report), with the nearest one in use suggested.
 */
export function filterReport(report: ComplianceReport, filter: ReportFilter): ComplianceReport {
  const names = filter.requirements ?? [];
  const frameworks = filter.frameworks ?? [];
  if (names.length === 0 && frameworks.length === 0) return report;
  const known = report.requirements.map((r) => r.requirement);
  for (const name of names) {
    if (!known.includes(name)) throw new ArgusError('INVALID_ARGUMENT', `report filter: no requirement "${name}"${didYouMean(name, known)}`, { requirement: name });
  }
  const inUse = new Set(report.requirements.flatMap((r) => r.frameworks.flatMap((f) => [f, frameworkOf(f)])));
  for (const framework of frameworks) {
    if (!inUse.has(framework)) {
      throw new ArgusError('INVALID_ARGUMENT', `report filter: no requirement maps to framework "${framework}"${didYouMean(framework, inUse)}`, { framework });
    }
  }
  const kept = report.requirements.filter((r) => names.includes(r.requirement) || r.frameworks.some((f) => frameworks.includes(f) || frameworks.includes(frameworkOf(f))));
  const keptNames = new Set(kept.map((r) => r.requirement));
  const findings = report.findings.filter((f) => keptNames.has(f.requirement));
  const totals: Record<ComplianceStatus, number> = { Compliant: 0, NonCompliant: 0, Unknown: 0, Exempt: 0 };
  for (const f of findings) totals[f.status]++;
  return {
    generatedAt: report.generatedAt,
    totals: { pairs: findings.length, compliant: totals.Compliant, nonCompliant: totals.NonCompliant, unknown: totals.Unknown, exempt: totals.Exempt },
    requirements: kept,
    findings,
  };
}

/** `soc2` of `soc2:CC6.1`; a reference without a control is its own framework. */
function frameworkOf(reference: string): string {
  const colon = reference.indexOf(':');
  return colon < 0 ? reference : reference.slice(0, colon);
}

/** What a CI gate counts: pairs not compliant (and, for `unknown`, not known to be); 0 without a gate. */
export function failingPairs(report: ComplianceReport, failOn: 'noncompliant' | 'unknown' | undefined): number {
  if (failOn === 'noncompliant') return report.totals.nonCompliant;
  if (failOn === 'unknown') return report.totals.nonCompliant + report.totals.unknown;
  return 0;
}
