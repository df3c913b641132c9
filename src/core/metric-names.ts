/**
 * Metric names and label names shared by every runtime (local /metrics, CloudWatch via CDK,
 * Prometheus remote-write). Prometheus conventions: snake_case, `_total` for counters, base units
 * (`_seconds`, `_ratio`). Labels stay bounded: names of definitions, never free text or ids of runs.
 */
export const METRIC = {
  /** Gauge, 0 or 1 per (resource, requirement) pair: 1 when Compliant or Exempt. Labels: resource, requirement. */
  resourceRequirementCompliant: 'argus_resource_requirement_compliant',
  /** Gauge, the SLI per requirement: compliant / (applicable - exempt), 1 when nothing is assessable. Label: requirement. */
  requirementComplianceRatio: 'argus_requirement_compliance_ratio',
  /** Counter of attestation runs. Labels: provider, result (passed | failed | errored). */
  attestationRunsTotal: 'argus_attestation_runs_total',
  /** Histogram of one attestation run's duration. Label: provider. */
  attestationDurationSeconds: 'argus_attestation_duration_seconds',
  /** Gauge, age of the oldest recorded result of each attestation. Label: attestation. */
  attestationResultAgeSeconds: 'argus_attestation_result_age_seconds',
  /** Gauge, the SLI of a ComplianceObjective over its selected pairs. Label: objective. */
  objectiveComplianceRatio: 'argus_objective_compliance_ratio',
  /** Gauge, the objective's target ratio. Label: objective. */
  objectiveTargetRatio: 'argus_objective_target_ratio',
  /** Gauge, share of the error budget left (1 untouched, 0 spent, negative overspent). Label: objective. */
  objectiveErrorBudgetRemainingRatio: 'argus_objective_error_budget_remaining_ratio',
  /** Gauge, how fast the budget burns now: (1 - SLI) / (1 - target); 1 spends it exactly over the window. Label: objective. */
  objectiveBurnRate: 'argus_objective_burn_rate',
  /** Gauge, the SLI averaged over the objective's window from its sample history (docs/slo.md). Label: objective. */
  objectiveWindowComplianceRatio: 'argus_objective_window_compliance_ratio',
  /** Gauge, the objective's window length. Label: objective. */
  objectiveWindowSeconds: 'argus_objective_window_seconds',
  /** Gauge, selected pairs by own status. Labels: objective, status (compliant | noncompliant | unknown | exempt). */
  objectivePairs: 'argus_objective_pairs',
  /** Gauge, compliant / assessable pairs of the requirements citing a framework. Label: framework. */
  frameworkComplianceRatio: 'argus_framework_compliance_ratio',
  /** Counter of samples the remote-write bridge gave up on. Label: reason (buffer_full | too_old | rejected). */
  remoteWriteDroppedSamplesTotal: 'argus_remote_write_dropped_samples_total',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];

export const METRIC_LABEL = {
  resource: 'resource',
  requirement: 'requirement',
  provider: 'provider',
  result: 'result',
  attestation: 'attestation',
  objective: 'objective',
  /** Burn-rate window of `argus_objective_burn_rate` (5m, 30m, 1h, 2h, 6h, 1d, 3d). */
  window: 'window',
  status: 'status',
  framework: 'framework',
  reason: 'reason',
} as const;

/** Values of the `result` label of `argus_attestation_runs_total`. */
export const RUN_RESULTS = ['passed', 'failed', 'errored'] as const;
export type RunResult = (typeof RUN_RESULTS)[number];

/** Histogram buckets of `argus_attestation_duration_seconds`: CEL runs take microseconds, HTTP checks seconds. */
export const DURATION_BUCKETS_SECONDS: readonly number[] = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
