import { METRIC, METRIC_LABEL } from '../metric-names.ts';
import type { ComplianceObjective } from '../model.ts';
import { BURN_RATE_ALERTS, BURN_WINDOW_NAMES, type BurnWindowName } from './windows.ts';

/** Names of the recording rules `argus slo rules` writes (dashboards may use these and the METRIC names). */
export const RECORDED = {
  /** avg_over_time of the instant SLI; label window (5m … 3d). */
  sliAvg: 'objective:argus_objective_compliance_ratio:avg_over_time',
  /** (1 - SLI over window) / (1 - target); label window. */
  burnRate: 'objective:argus_objective_burn_rate:ratio',
  /** avg_over_time of the instant SLI over the objective's own window. */
  windowSli: 'objective:argus_objective_window_compliance_ratio:avg_over_time',
  /** 1 - (1 - window SLI) / (1 - target). */
  errorBudgetRemaining: 'objective:argus_objective_error_budget_remaining_ratio:avg_over_time',
} as const;

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface AlertingRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface RuleGroup {
  readonly name: string;
  readonly interval?: string;
  readonly rules: readonly (RecordingRule | AlertingRule)[];
}

export interface RuleFile {
  readonly groups: readonly RuleGroup[];
}

/** A duration as PromQL writes it, in the largest unit that divides it (30d, 90m, 1500ms). */
export function promDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${Math.round(ms)}ms`;
}

/** A PromQL string literal (double-quoted, escaped). */
export function promString(value: string): string {
  return JSON.stringify(value);
}

/**
 * The PromQL of an objective's error budget remaining over its window, computed from the pushed
 * instant SLI the same way Argus computes it from its sample history (see docs/slo.md).
 */
export function errorBudgetExpr(objective: ComplianceObjective): string {
  return `1 - (1 - avg_over_time(${METRIC.objectiveComplianceRatio}{${METRIC_LABEL.objective}=${promString(objective.metadata.name)}}[${promDuration(objective.spec.windowMs)}])) / (1 - ${objective.spec.target})`;
}

/** PromQL of the burn rate over a window, from the pushed instant SLI. */
export function burnRateExpr(objective: ComplianceObjective, window: BurnWindowName): string {
  return `(1 - avg_over_time(${METRIC.objectiveComplianceRatio}{${METRIC_LABEL.objective}=${promString(objective.metadata.name)}}[${window}])) / (1 - ${objective.spec.target})`;
}

/**
 * Prometheus recording and alerting rules for every objective: the SLI averaged over each
 * burn-rate window and over the objective's window, burn rates, the error budget left, and the
 * multi-window multi-burn-rate alerts of the Google SRE workbook (page: 1h/5m at 14.4x or 6h/30m
 * at 6x; ticket: 1d/2h at 3x or 3d/6h at 1x), plus budget exhausted and no data.
 */
export function sloRules(objectives: Iterable<ComplianceObjective>, options: { interval?: string } = {}): RuleFile {
  const groups: RuleGroup[] = [];
  const sorted = [...objectives].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
  for (const o of sorted) {
    const name = o.metadata.name;
    const sel = `{${METRIC_LABEL.objective}=${promString(name)}}`;
    const budget = `(1 - ${o.spec.target})`;
    // The objective label is on every series already; stating it makes each rule unique across groups (promtool lint).
    const own = { [METRIC_LABEL.objective]: name };
    const rules: (RecordingRule | AlertingRule)[] = [];
    for (const w of BURN_WINDOW_NAMES) {
      rules.push({ record: RECORDED.sliAvg, expr: `avg_over_time(${METRIC.objectiveComplianceRatio}${sel}[${w}])`, labels: { [METRIC_LABEL.objective]: name, [METRIC_LABEL.window]: w } });
    }
    for (const w of BURN_WINDOW_NAMES) {
      const wsel = `{${METRIC_LABEL.objective}=${promString(name)},${METRIC_LABEL.window}="${w}"}`;
      rules.push({ record: RECORDED.burnRate, expr: `(1 - ${RECORDED.sliAvg}${wsel}) / ${budget}`, labels: { [METRIC_LABEL.objective]: name, [METRIC_LABEL.window]: w } });
    }
    rules.push({ record: RECORDED.windowSli, expr: `avg_over_time(${METRIC.objectiveComplianceRatio}${sel}[${promDuration(o.spec.windowMs)}])`, labels: own });
    rules.push({ record: RECORDED.errorBudgetRemaining, expr: `1 - (1 - ${RECORDED.windowSli}${sel}) / ${budget}`, labels: own });

    for (const severity of ['page', 'ticket'] as const) {
      const pairs = BURN_RATE_ALERTS.filter((a) => a.severity === severity);
      const expr = pairs
        .map((p) => {
          const burn = (w: BurnWindowName) => `${RECORDED.burnRate}{${METRIC_LABEL.objective}=${promString(name)},${METRIC_LABEL.window}="${w}"} > ${p.factor}`;
          return `(${burn(p.long)} and ignoring(${METRIC_LABEL.window}) ${burn(p.short)})`;
        })
        .join(' or ignoring(window) ');
      rules.push({
        alert: severity === 'page' ? 'ArgusObjectiveErrorBudgetBurnFast' : 'ArgusObjectiveErrorBudgetBurnSlow',
        expr,
        labels: { severity, [METRIC_LABEL.objective]: name },
        annotations: {
          summary: `Compliance objective ${name} is burning its error budget ${severity === 'page' ? 'fast' : 'steadily'}`,
          description:
            `Burn rate over ${pairs.map((p) => `${p.long}/${p.short} above ${p.factor}x`).join(' or ')} ` +
            `(target ${o.spec.target} over ${promDuration(o.spec.windowMs)}). Run \`argus report\` for the failing pairs.`,
        },
      });
    }
    rules.push({
      alert: 'ArgusObjectiveErrorBudgetExhausted',
      expr: `${RECORDED.errorBudgetRemaining}${sel} <= 0`,
      for: '15m',
      labels: { severity: 'ticket', [METRIC_LABEL.objective]: name },
      annotations: { summary: `Compliance objective ${name} has spent its error budget`, description: `The SLI over ${promDuration(o.spec.windowMs)} is below the target ${o.spec.target}.` },
    });
    rules.push({
      alert: 'ArgusObjectiveNoData',
      expr: `absent_over_time(${METRIC.objectiveComplianceRatio}${sel}[15m])`,
      for: '5m',
      labels: { severity: 'ticket', [METRIC_LABEL.objective]: name },
      annotations: { summary: `No SLI samples for compliance objective ${name}`, description: 'Argus stopped pushing or publishing this objective; check the publisher and the remote-write drop counter.' },
    });
    groups.push({ name: `argus-slo-${name}`, ...(options.interval ? { interval: options.interval } : {}), rules });
  }
  return { groups };
}
