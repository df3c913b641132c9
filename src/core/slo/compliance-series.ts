import type { ComplianceEngine } from '../compliance/engine.ts';
import { METRIC, METRIC_LABEL, type MetricName } from '../metric-names.ts';
import type { ComplianceStatus } from '../model.ts';
import type { ObjectiveStatus } from './objective-status.ts';
import { countObjectivePairs, instantSli } from './sli.ts';
import { BURN_WINDOW_NAMES } from './windows.ts';

/** One gauge value of one series: what /metrics prints and remote-write / CloudWatch send. */
export interface ComplianceSeries {
  readonly name: MetricName;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface ComplianceSeriesOptions {
  /** Time the ages are measured at (epoch ms). */
  readonly now: number;
  /**
   * Objective statuses with their window figures (from `recordSloSamples` or
   * `readObjectiveStatuses`). Without them only the instant figures of each objective are given.
   */
  readonly objectives?: readonly ObjectiveStatus[];
}


/**
 * The compliance series computed from the engine's derived state (call `engine.flush()` first).
 * One function for every exporter, so /metrics, remote-write and CloudWatch show the same
 * figures. Counters and histograms of runs are the runtime's own and are not part of it.
 * Per pair the **own** status counts (a parent's rolled-up status would count its children twice).
 */
export function complianceSeries(engine: ComplianceEngine, options: ComplianceSeriesOptions): ComplianceSeries[] {
  const { index } = engine;
  const out: ComplianceSeries[] = [];
  const tally = new Map<string, Record<ComplianceStatus, number>>();

  for (const name of [...index.resources.keys()].sort()) {
    const evaluation = engine.evaluation(name);
    if (!evaluation) continue;
    for (const [req, own] of [...evaluation.requirements].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
      out.push({
        name: METRIC.resourceRequirementCompliant,
        labels: { [METRIC_LABEL.resource]: name, [METRIC_LABEL.requirement]: req },
        value: own.status === 'Compliant' || own.status === 'Exempt' ? 1 : 0,
      });
      let t = tally.get(req);
      if (!t) tally.set(req, (t = { Compliant: 0, NonCompliant: 0, Unknown: 0, Exempt: 0 }));
      t[own.status]++;
    }
  }

  const frameworks = new Map<string, { compliant: number; assessable: number }>();
  for (const req of [...index.requirements.keys()].sort()) {
    const t = tally.get(req) ?? { Compliant: 0, NonCompliant: 0, Unknown: 0, Exempt: 0 };
    const assessable = t.Compliant + t.NonCompliant + t.Unknown;
    out.push({ name: METRIC.requirementComplianceRatio, labels: { [METRIC_LABEL.requirement]: req }, value: assessable === 0 ? 1 : t.Compliant / assessable });
    const cited = new Set((index.requirements.get(req)?.spec.frameworks ?? []).map((ref) => ref.split(':')[0] as string));
    for (const fw of cited) {
      let f = frameworks.get(fw);
      if (!f) frameworks.set(fw, (f = { compliant: 0, assessable: 0 }));
      f.compliant += t.Compliant;
      f.assessable += assessable;
    }
  }
  for (const fw of [...frameworks.keys()].sort()) {
    const f = frameworks.get(fw) as { compliant: number; assessable: number };
    out.push({ name: METRIC.frameworkComplianceRatio, labels: { [METRIC_LABEL.framework]: fw }, value: f.assessable === 0 ? 1 : f.compliant / f.assessable });
  }

  const oldest = new Map<string, number>();
  for (const r of engine.allResults()) {
    if (!index.resources.has(r.resource)) continue;
    const o = oldest.get(r.attestation);
    if (o === undefined || r.executedAt < o) oldest.set(r.attestation, r.executedAt);
  }
  for (const att of [...oldest.keys()].sort()) {
    out.push({ name: METRIC.attestationResultAgeSeconds, labels: { [METRIC_LABEL.attestation]: att }, value: Math.max(0, (options.now - (oldest.get(att) as number)) / 1000) });
  }

  const statuses = options.objectives ?? [...index.objectives.values()].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1)).map((o) => {
    const pairs = countObjectivePairs(engine, o);
    return { objective: o.metadata.name, target: o.spec.target, windowMs: o.spec.windowMs, pairs, sli: instantSli(pairs, o.spec.unknownIsCompliant), burnRates: {} } as const;
  });
  for (const s of statuses) out.push(...objectiveSeries(s));
  return out;
}

/** The series of one objective's status. */
export function objectiveSeries(s: Pick<ObjectiveStatus, 'objective' | 'target' | 'windowMs' | 'pairs' | 'sli' | 'burnRates'> & Partial<Pick<ObjectiveStatus, 'windowSli' | 'errorBudgetRemaining'>>): ComplianceSeries[] {
  const o = { [METRIC_LABEL.objective]: s.objective };
  const out: ComplianceSeries[] = [
    { name: METRIC.objectiveComplianceRatio, labels: o, value: s.sli },
    { name: METRIC.objectiveTargetRatio, labels: o, value: s.target },
    { name: METRIC.objectiveWindowSeconds, labels: o, value: s.windowMs / 1000 },
  ];
  for (const [status, n] of [['compliant', s.pairs.compliant], ['exempt', s.pairs.exempt], ['noncompliant', s.pairs.nonCompliant], ['unknown', s.pairs.unknown]] as const) {
    out.push({ name: METRIC.objectivePairs, labels: { ...o, [METRIC_LABEL.status]: status }, value: n });
  }
  if (s.windowSli !== undefined) out.push({ name: METRIC.objectiveWindowComplianceRatio, labels: o, value: s.windowSli });
  if (s.errorBudgetRemaining !== undefined) out.push({ name: METRIC.objectiveErrorBudgetRemainingRatio, labels: o, value: s.errorBudgetRemaining });
  for (const w of BURN_WINDOW_NAMES) {
    const rate = s.burnRates[w];
    if (rate !== undefined) out.push({ name: METRIC.objectiveBurnRate, labels: { ...o, [METRIC_LABEL.window]: w }, value: rate });
  }
  return out;
}

