import { METRIC, METRIC_LABEL } from '../metric-names.ts';
import type { ComplianceObjective } from '../model.ts';
import { BURN_RATE_ALERTS, type BurnWindowName } from './windows.ts';

/** CloudWatch namespace of every Argus metric. */
export const CLOUDWATCH_NAMESPACE = 'Argus';

/** One CloudWatch metric alarm, as data a CDK construct maps 1:1 onto `cloudwatch.Alarm`. */
export interface MetricAlarmSpec {
  /** Stable id for the construct (unique per app). */
  readonly id: string;
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly statistic: 'Average' | 'Maximum' | 'Minimum';
  readonly periodSeconds: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly comparisonOperator: 'GreaterThanThreshold' | 'LessThanOrEqualToThreshold';
  readonly threshold: number;
  readonly treatMissingData: 'notBreaching' | 'breaching' | 'missing' | 'ignore';
  readonly description: string;
}

/** Long AND short window both burning: one composite alarm per pair (SRE workbook multi-window). */
export interface CompositeAlarmSpec {
  readonly id: string;
  readonly severity: 'page' | 'ticket';
  readonly objective: string;
  /** Ids of the metric alarms that must all be in ALARM (`AlarmRule.allOf`). */
  readonly allOf: readonly [long: string, short: string];
  readonly description: string;
}

export interface ObjectiveAlarms {
  readonly objective: string;
  readonly metricAlarms: readonly MetricAlarmSpec[];
  readonly compositeAlarms: readonly CompositeAlarmSpec[];
}

export interface AlarmOptions {
  /** How often the publisher puts the figures (one datapoint per period). @default 60 */
  readonly periodSeconds?: number;
}

/**
 * The alarms of one objective, built on the burn rates Argus publishes per window
 * (`argus_objective_burn_rate`, dimensions objective and window): each burn rate already
 * averages its window, so each metric alarm looks at one period's datapoint. Missing data is not
 * breaching (the no-data case has its own alarm on the SLI).
 */
export function objectiveAlarms(objective: ComplianceObjective, options: AlarmOptions = {}): ObjectiveAlarms {
  const name = objective.metadata.name;
  const period = options.periodSeconds ?? 60;
  const metricAlarms = new Map<string, MetricAlarmSpec>();
  const burnAlarm = (window: BurnWindowName, factor: number): string => {
    const id = `${name}-burn-${window}-${String(factor).replace('.', '_')}x`;
    if (!metricAlarms.has(id)) {
      metricAlarms.set(id, {
        id,
        namespace: CLOUDWATCH_NAMESPACE,
        metricName: METRIC.objectiveBurnRate,
        dimensions: { [METRIC_LABEL.objective]: name, [METRIC_LABEL.window]: window },
        statistic: 'Maximum',
        periodSeconds: period,
        evaluationPeriods: 1,
        datapointsToAlarm: 1,
        comparisonOperator: 'GreaterThanThreshold',
        threshold: factor,
        treatMissingData: 'notBreaching',
        description: `Objective ${name}: error budget burn rate over ${window} above ${factor}x`,
      });
    }
    return id;
  };
  const compositeAlarms: CompositeAlarmSpec[] = BURN_RATE_ALERTS.map((p) => ({
    id: `${name}-burn-${p.long}-${p.short}`,
    severity: p.severity,
    objective: name,
    allOf: [burnAlarm(p.long, p.factor), burnAlarm(p.short, p.factor)] as const,
    description: `Objective ${name}: burning its error budget at over ${p.factor}x over ${p.long} and ${p.short} (${p.severity})`,
  }));
  metricAlarms.set(`${name}-budget-exhausted`, {
    id: `${name}-budget-exhausted`,
    namespace: CLOUDWATCH_NAMESPACE,
    metricName: METRIC.objectiveErrorBudgetRemainingRatio,
    dimensions: { [METRIC_LABEL.objective]: name },
    statistic: 'Minimum',
    periodSeconds: period,
    evaluationPeriods: 15,
    datapointsToAlarm: 15,
    comparisonOperator: 'LessThanOrEqualToThreshold',
    threshold: 0,
    treatMissingData: 'notBreaching',
    description: `Objective ${name}: error budget spent (SLI over the window below ${objective.spec.target})`,
  });
  metricAlarms.set(`${name}-no-data`, {
    id: `${name}-no-data`,
    namespace: CLOUDWATCH_NAMESPACE,
    metricName: METRIC.objectiveComplianceRatio,
    dimensions: { [METRIC_LABEL.objective]: name },
    statistic: 'Minimum',
    periodSeconds: period,
    evaluationPeriods: 15,
    datapointsToAlarm: 15,
    comparisonOperator: 'LessThanOrEqualToThreshold',
    threshold: -1,
    treatMissingData: 'breaching',
    description: `Objective ${name}: no SLI published for 15 periods`,
  });
  return { objective: name, metricAlarms: [...metricAlarms.values()], compositeAlarms };
}
