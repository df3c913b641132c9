import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { METRIC } from '../../src/core/metric-names.ts';
import { API_VERSION, type ComplianceObjective, type ComplianceObjectiveSpec } from '../../src/core/model.ts';
import { objectiveAlarms } from '../../src/core/slo/alarms.ts';
import { promDuration, RECORDED, sloRules, type AlertingRule, type RecordingRule } from '../../src/core/slo/rules.ts';
import { BURN_RATE_ALERTS } from '../../src/core/slo/windows.ts';
import { findBinary, promtoolCheckRules } from '../support/prometheus.ts';

function objective(name: string, spec: Partial<ComplianceObjectiveSpec> = {}): ComplianceObjective {
  return {
    apiVersion: API_VERSION,
    kind: 'ComplianceObjective',
    metadata: { name, labels: {} },
    spec: { requirements: [], frameworks: [], resources: {}, target: 0.99, windowMs: 30 * 86_400_000, unknownIsCompliant: false, ...spec },
  };
}

const promtoolMissing = findBinary('promtool') === undefined;
if (promtoolMissing && process.env.CI === 'true') throw new Error('promtool not found on PATH: install it with `apt-get install -y prometheus` (.ci/run does)');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'argus-rules-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('argus slo rules', () => {
  const objectives = [objective('prod-nist', { frameworks: ['nist-800-53'], target: 0.995 }), objective('all', { target: 1, windowMs: 7 * 86_400_000 })];

  it('writes one group per objective with the burn-rate windows, the window SLI and the budget', () => {
    const file = sloRules(objectives);
    expect(file.groups.map((g) => g.name)).toEqual(['argus-slo-all', 'argus-slo-prod-nist']);
    const group = file.groups[1]!;
    const records = group.rules.filter((r): r is RecordingRule => 'record' in r);
    expect(records.filter((r) => r.record === RECORDED.burnRate).map((r) => r.labels?.window)).toEqual(['5m', '30m', '1h', '2h', '6h', '1d', '3d']);
    expect(records.find((r) => r.record === RECORDED.windowSli)?.expr).toBe('avg_over_time(argus_objective_compliance_ratio{objective="prod-nist"}[30d])');
    expect(records.find((r) => r.record === RECORDED.errorBudgetRemaining)?.expr).toBe(
      `1 - (1 - ${RECORDED.windowSli}{objective="prod-nist"}) / (1 - 0.995)`,
    );
  });

  it('alerts on multiple windows and burn rates as the SRE workbook does: page on 1h/5m and 6h/30m, ticket on 1d/2h and 3d/6h', () => {
    const alerts = sloRules(objectives).groups[1]!.rules.filter((r): r is AlertingRule => 'alert' in r);
    const page = alerts.find((a) => a.labels.severity === 'page')!;
    expect(page.expr).toContain(`${RECORDED.burnRate}{objective="prod-nist",window="1h"} > 14.4 and ignoring(window) ${RECORDED.burnRate}{objective="prod-nist",window="5m"} > 14.4`);
    expect(page.expr).toContain('window="6h"} > 6 and ignoring(window)');
    const ticket = alerts.find((a) => a.alert === 'ArgusObjectiveErrorBudgetBurnSlow')!;
    expect(ticket.expr).toContain('window="1d"} > 3');
    expect(ticket.expr).toContain('window="3d"} > 1');
    expect(alerts.map((a) => a.alert)).toEqual(expect.arrayContaining(['ArgusObjectiveErrorBudgetExhausted', 'ArgusObjectiveNoData']));
  });

  it.skipIf(promtoolMissing)('passes promtool check rules', async () => {
    const file = join(dir, 'argus-slo.rules.yaml');
    await writeFile(file, stringify(sloRules(objectives, { interval: '1m' }), { lineWidth: 0 }));
    const check = promtoolCheckRules(file);
    expect(check.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(check.code).toBe(0);
  });

  it('writes PromQL durations in one unit', () => {
    expect(promDuration(30 * 86_400_000)).toBe('30d');
    expect(promDuration(90 * 60_000)).toBe('90m');
    expect(promDuration(1500)).toBe('1500ms');
  });
});

describe('CloudWatch alarm specs', () => {
  it('gives per objective one metric alarm per burn window and factor, and a composite alarm per window pair', () => {
    const alarms = objectiveAlarms(objective('prod'));
    expect(alarms.compositeAlarms.map((c) => [c.severity, c.allOf])).toEqual(
      BURN_RATE_ALERTS.map((p) => [p.severity, [`prod-burn-${p.long}-${String(p.factor).replace('.', '_')}x`, `prod-burn-${p.short}-${String(p.factor).replace('.', '_')}x`]]),
    );
    const oneHour = alarms.metricAlarms.find((a) => a.id === 'prod-burn-1h-14_4x')!;
    expect(oneHour).toMatchObject({ metricName: METRIC.objectiveBurnRate, dimensions: { objective: 'prod', window: '1h' }, threshold: 14.4, comparisonOperator: 'GreaterThanThreshold', evaluationPeriods: 1, periodSeconds: 60 });
    const ids = alarms.metricAlarms.map((a) => a.id);
    for (const c of alarms.compositeAlarms) for (const id of c.allOf) expect(ids).toContain(id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('Grafana dashboard', () => {
  const allowed = new Set<string>([...Object.values(METRIC), ...Object.values(RECORDED)]);
  // Histograms are exported with these suffixes.
  for (const s of ['_bucket', '_sum', '_count']) allowed.add(`${METRIC.attestationDurationSeconds}${s}`);

  async function targets(): Promise<{ panel: string; expr: string }[]> {
    const dashboard = JSON.parse(await readFile(new URL('../../dashboards/argus-compliance.json', import.meta.url), 'utf8')) as {
      title: string;
      uid: string;
      panels: { type: string; title: string; targets?: { expr: string; refId: string }[] }[];
    };
    expect(dashboard.title).toBe('Argus compliance');
    expect(dashboard.uid).toBeTruthy();
    const panels = dashboard.panels.filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThanOrEqual(10);
    for (const p of panels) expect(p.targets?.length, p.title).toBeGreaterThan(0);
    return panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
  }

  /** Grafana variables replaced by values so the expression is plain PromQL. */
  const plain = (expr: string): string => expr.replaceAll('$__rate_interval', '5m').replaceAll('$objective', '.*');

  it('is valid JSON whose panels only query metrics Argus exports or rules it writes', async () => {
    for (const { panel, expr } of await targets()) {
      const names = plain(expr)
        .replace(/"(?:[^"\\]|\\.)*"/g, '""')
        .replace(/\{[^}]*\}/g, '')
        .match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
      const metrics = names.filter((n) => n.startsWith('argus_') || n.includes(':'));
      expect(metrics.length, `${panel}: ${expr}`).toBeGreaterThan(0);
      for (const m of metrics) expect(allowed.has(m), `${panel}: ${m}`).toBe(true);
    }
  });

  it.skipIf(promtoolMissing)('has PromQL that promtool parses', async () => {
    const rules = (await targets()).map((t, i) => ({ record: `dashboard:check_${i}`, expr: plain(t.expr) }));
    const file = join(dir, 'dashboard-check.rules.yaml');
    await writeFile(file, stringify({ groups: [{ name: 'dashboard', rules }] }, { lineWidth: 0 }));
    const check = promtoolCheckRules(file);
    expect(check.output).toContain('SUCCESS');
    expect(check.code).toBe(0);
  });
});
