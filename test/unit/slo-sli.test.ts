import { describe, expect, it } from 'vitest';
import { ComplianceEngine } from '../../src/core/compliance/engine.ts';
import { API_VERSION, type ComplianceObjective, type ComplianceObjectiveSpec } from '../../src/core/model.ts';
import { complianceSeries } from '../../src/core/slo/compliance-series.ts';
import { SloHistory } from '../../src/core/slo/history.ts';
import { objectiveStatus } from '../../src/core/slo/objective-status.ts';
import { countObjectivePairs, instantSli } from '../../src/core/slo/sli.ts';
import { burnRate, errorBudgetRemaining } from '../../src/core/slo/windows.ts';
import { attestation, implementation, requirement, resource, resultFor, waiver } from '../support/builders.ts';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 1);

function objective(name: string, spec: Partial<ComplianceObjectiveSpec> = {}): ComplianceObjective {
  return {
    apiVersion: API_VERSION,
    kind: 'ComplianceObjective',
    metadata: { name, labels: {} },
    spec: { requirements: [], frameworks: [], resources: {}, target: 0.9, windowMs: 30 * 86_400_000, unknownIsCompliant: false, ...spec },
  };
}

/** b1 passes, b2 fails, b3 has no result, b4 fails but r1 is waived there, b5 (dev) has no result. */
function scenario(): ComplianceEngine {
  const engine = new ComplianceEngine(T0);
  for (const d of [
    requirement('r1', { frameworks: ['nist-800-53:SC-28'], appliesTo: { types: ['Bucket'] } }),
    requirement('r2', { frameworks: ['soc2:CC6.1'], appliesTo: { types: ['Bucket'] } }),
    attestation('a1'),
    implementation('i1', { requirements: ['r1', 'r2'], attestations: ['a1'], targets: { types: ['Bucket'] } }),
    ...['b1', 'b2', 'b3', 'b4'].map((n) => resource(n, 'Bucket', { labels: { env: 'prod' } })),
    resource('b5', 'Bucket', { labels: { env: 'dev' } }),
    waiver('w1', { requirement: 'r1', resources: { ids: ['b4'] }, expiresAt: T0 + 86_400_000 }),
  ]) engine.upsertDefinition(d);
  engine.flush();
  engine.putResult(resultFor(engine, 'b1', 'a1', 'Passed'));
  engine.putResult(resultFor(engine, 'b2', 'a1', 'Failed'));
  engine.putResult(resultFor(engine, 'b4', 'a1', 'Failed'));
  engine.flush();
  return engine;
}

describe('objective SLI at an instant', () => {
  it('counts the own status of the pairs its framework and resource selector pick', () => {
    const engine = scenario();
    const counts = countObjectivePairs(engine, objective('o', { frameworks: ['nist-800-53'], resources: { matchLabels: { env: 'prod' } } }));
    expect(counts).toEqual({ compliant: 1, nonCompliant: 1, unknown: 1, exempt: 1 });
    // Exempt leaves the denominator; Unknown counts against unless the objective says otherwise.
    expect(instantSli(counts, false)).toBeCloseTo(1 / 3, 15);
    expect(instantSli(counts, true)).toBeCloseTo(2 / 3, 15);
  });

  it('takes every requirement and resource when its selectors are empty', () => {
    const counts = countObjectivePairs(scenario(), objective('all'));
    // r1: C N U E U, r2: C N U N U
    expect(counts).toEqual({ compliant: 2, nonCompliant: 3, unknown: 4, exempt: 1 });
    expect(instantSli(counts, false)).toBeCloseTo(2 / 9, 15);
  });

  it('selects requirements by name as well as by framework', () => {
    const counts = countObjectivePairs(scenario(), objective('r2', { requirements: ['r2'], frameworks: ['soc2'] }));
    expect(counts).toEqual({ compliant: 1, nonCompliant: 2, unknown: 2, exempt: 0 });
  });

  it('is 1 when nothing is assessable, as the report says', () => {
    expect(instantSli({ compliant: 0, nonCompliant: 0, unknown: 0, exempt: 3 }, false)).toBe(1);
  });
});

describe('error budget and burn rate', () => {
  it('burns at (1 - SLI) / (1 - target)', () => {
    expect(burnRate(0.995, 0.99)).toBeCloseTo(0.5, 12);
    expect(errorBudgetRemaining(0.995, 0.99)).toBeCloseTo(0.5, 12);
    expect(burnRate(0.98, 0.99)).toBeCloseTo(2, 12);
    expect(errorBudgetRemaining(0.98, 0.99)).toBeCloseTo(-1, 12);
    expect(burnRate(1, 0.9)).toBe(0);
    expect(errorBudgetRemaining(1, 0.9)).toBe(1);
  });

  it('has no budget with a target of 1: nothing burns until a pair fails, then it burns infinitely', () => {
    expect(burnRate(1, 1)).toBe(0);
    expect(errorBudgetRemaining(1, 1)).toBe(1);
    expect(burnRate(0.999, 1)).toBe(Number.POSITIVE_INFINITY);
    expect(errorBudgetRemaining(0.999, 1)).toBe(Number.NEGATIVE_INFINITY);
  });
});

describe('SLO sample history', () => {
  /** Sixty minutes compliant, then five minutes at zero: one sample a minute. */
  function hourThenOutage(windowMs = 30 * 86_400_000): SloHistory {
    const h = SloHistory.empty(windowMs);
    for (let m = 0; m < 60; m++) h.record(T0 + m * MINUTE, 1);
    for (let m = 60; m < 65; m++) h.record(T0 + m * MINUTE, 0);
    return h;
  }

  it('averages the samples in [now - window, now], both ends included as in PromQL avg_over_time', () => {
    const h = hourThenOutage();
    const now = T0 + 64 * MINUTE;
    expect(h.mean(now, 5 * MINUTE)).toBeCloseTo(1 / 6, 15); // minute 59 (1) and 60..64 (0)
    expect(h.mean(now, 60 * MINUTE)).toBeCloseTo(56 / 61, 15); // minutes 4..64
    expect(h.mean(now, 30 * 86_400_000)).toBeCloseTo(60 / 65, 15);
    expect(h.mean(T0 - MINUTE, 5 * MINUTE)).toBeUndefined();
  });

  it('derives the budget and burn rates of an objective from the history (hand-computed)', () => {
    const h = hourThenOutage();
    const o = objective('o', { target: 0.9 });
    const status = objectiveStatus(o, { compliant: 0, nonCompliant: 1, unknown: 0, exempt: 0 }, h, T0 + 64 * MINUTE);
    expect(status.sli).toBe(0);
    expect(status.windowSli).toBeCloseTo(60 / 65, 12);
    // 1 - (1 - 60/65) / 0.1 = 1 - (5/65)/0.1
    expect(status.errorBudgetRemaining).toBeCloseTo(1 - 5 / 65 / 0.1, 9);
    expect(status.burnRates['5m']).toBeCloseTo((1 - 1 / 6) / 0.1, 9);
    expect(status.burnRates['1h']).toBeCloseTo((5 / 61) / 0.1, 9);
  });

  it('ignores samples that are not newer than the last one', () => {
    const h = SloHistory.empty(86_400_000);
    expect(h.record(T0, 1)).toBe(true);
    expect(h.record(T0, 0)).toBe(false);
    expect(h.record(T0 - 1, 0)).toBe(false);
    expect(h.mean(T0, MINUTE)).toBe(1);
  });

  it('stays bounded over a 30-day window of one sample a minute and survives a store round trip', () => {
    const h = SloHistory.empty(30 * 86_400_000);
    const n = 30 * 24 * 60;
    for (let m = 0; m < n; m++) h.record(T0 + m * MINUTE, m % 10 === 0 ? 0 : 1);
    expect(h.size).toBeLessThan(1600);
    const json = JSON.stringify(h.toData());
    expect(json.length).toBeLessThan(60_000);
    const now = T0 + (n - 1) * MINUTE;
    const back = SloHistory.fromData(JSON.parse(json), 30 * 86_400_000);
    for (const w of [5 * MINUTE, 3_600_000, 86_400_000, 3 * 86_400_000, 30 * 86_400_000]) {
      expect(back.mean(now, w)).toBeCloseTo(h.mean(now, w) as number, 12);
      if (w >= 3_600_000) expect(back.mean(now, w)).toBeCloseTo(0.9, 1);
    }
  });
});

describe('complianceSeries', () => {
  it('gives per-pair, per-requirement, per-framework and per-objective series from one engine', () => {
    const engine = scenario();
    engine.upsertDefinition(objective('prod', { frameworks: ['nist-800-53'], resources: { matchLabels: { env: 'prod' } } }));
    engine.flush();
    const series = complianceSeries(engine, { now: T0 + 90_000 });
    const find = (name: string, labels: Record<string, string>) => series.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(find('argus_resource_requirement_compliant', { resource: 'b1', requirement: 'r1' })).toBe(1);
    expect(find('argus_resource_requirement_compliant', { resource: 'b4', requirement: 'r1' })).toBe(1); // Exempt
    expect(find('argus_resource_requirement_compliant', { resource: 'b3', requirement: 'r1' })).toBe(0); // Unknown
    expect(find('argus_requirement_compliance_ratio', { requirement: 'r1' })).toBeCloseTo(1 / 4, 15); // C / (C+N+U+U)
    expect(find('argus_framework_compliance_ratio', { framework: 'soc2' })).toBeCloseTo(1 / 5, 15);
    expect(find('argus_objective_compliance_ratio', { objective: 'prod' })).toBeCloseTo(1 / 3, 15);
    expect(find('argus_objective_pairs', { objective: 'prod', status: 'exempt' })).toBe(1);
    expect(find('argus_attestation_result_age_seconds', { attestation: 'a1' })).toBe(90);
    expect(series.filter((s) => s.name === 'argus_resource_requirement_compliant')).toHaveLength(10);
  });
});
