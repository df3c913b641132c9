import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalRuntime } from '../../src/adapters/local/local-runtime.ts';
import { RemoteWritePublisher } from '../../src/adapters/local/remote-write-publisher.ts';
import { METRIC } from '../../src/core/metric-names.ts';
import { RemoteWriteClient } from '../../src/core/remote-write/client.ts';
import { readSloHistory } from '../../src/core/slo/objective-status.ts';
import { burnRateExpr, errorBudgetExpr, sloRules } from '../../src/core/slo/rules.ts';
import { PrometheusServer, prometheusUnavailable, promtoolCheckRules } from '../support/prometheus.ts';
import { stringify } from 'yaml';

const QUICKSTART = fileURLToPath(new URL('../../examples/quickstart/', import.meta.url));
const MINUTE = 60_000;
const OBJECTIVE = 'quickstart-nist';

const unavailable = prometheusUnavailable();

const objectiveManifest = (name: string): string => `apiVersion: argus.dev/v1alpha1
kind: ComplianceObjective
metadata:
  name: ${name}
spec:
  frameworks: [nist-800-53]
  target: 0.9
  window: 30d
`;

/** A clock the test moves; starts on a whole minute in the recent past (Prometheus refuses old samples). */
function testClock(minutesAgo: number): { now(): number; set(t: number): void } {
  let t = Math.floor(Date.now() / MINUTE) * MINUTE - minutesAgo * MINUTE;
  return { now: () => t, set: (v: number) => { t = v; } };
}

async function openQuickstart(dir: string, clock: { now(): number }, objective: string): Promise<LocalRuntime> {
  const runtime = await LocalRuntime.open({ home: join(dir, 'home'), clock, fsync: false });
  const objectiveFile = join(dir, 'objective.yaml');
  await writeFile(objectiveFile, objectiveManifest(objective));
  await runtime.applyFiles([join(QUICKSTART, 'catalog.yaml'), objectiveFile]);
  await runtime.importCloudFormation([join(QUICKSTART, 'template.yaml')]);
  await runtime.reconcile();
  return runtime;
}

function valueOf(result: { value: [number, string] }[]): number {
  expect(result).toHaveLength(1);
  return Number((result[0] as { value: [number, string] }).value[1]);
}

describe.skipIf(unavailable !== undefined)('remote-write to a real Prometheus', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'argus-prom-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('pushes the SLI and error budget, and PromQL over the pushed samples gives the figures Argus computes', async () => {
    // Prepare
    const prom = await PrometheusServer.create(join(dir, 'p1'));
    await prom.start();
    const clock = testClock(20);
    const runtime = await openQuickstart(join(dir, 'a'), clock, OBJECTIVE);
    try {
      const client = new RemoteWriteClient({ url: prom.remoteWriteUrl, clock, maxAttempts: 3, minBackoffMs: 50 });
      const publisher = new RemoteWritePublisher({ store: runtime.store, engine: runtime.engine, clock, client });
      const start = clock.now();

      // Act: six samples a minute apart; after the third a waiver exempts a failing pair, so the SLI moves.
      let last;
      for (let i = 0; i < 6; i++) {
        clock.set(start + i * MINUTE);
        if (i === 3) {
          const failing = runtime.report().findings.find((f) => f.status === 'NonCompliant' && ['sc-28', 'sc-8', 'au-11', 'cp-9', 'ac-6'].includes(f.requirement));
          expect(failing).toBeDefined();
          await runtime.apply([
            {
              apiVersion: 'argus.dev/v1alpha1',
              kind: 'Waiver',
              metadata: { name: 'test-waiver', labels: {} },
              spec: { requirement: failing!.requirement, resources: { ids: [failing!.resource] }, reason: 'test', approver: 'tester', expiresAt: start + 86_400_000 },
            },
          ]);
        }
        last = await publisher.tick();
        expect(last.flush.error).toBeUndefined();
        expect(last.flush.pending).toBe(0);
      }
      const at = clock.now();
      const status = last!.snapshot.objectives.find((o) => o.objective === OBJECTIVE)!;
      const objective = runtime.engine.index.objectives.get(OBJECTIVE)!;
      const { history } = await readSloHistory(runtime.store, objective);

      // Assess: the instant SLI, the window SLI, the 1h burn rate and the error budget, both ways.
      const sel = `{objective="${OBJECTIVE}"}`;
      expect(valueOf(await prom.query(`${METRIC.objectiveComplianceRatio}${sel}`, at))).toBeCloseTo(status.sli, 12);
      expect(valueOf(await prom.query(`count_over_time(${METRIC.objectiveComplianceRatio}${sel}[1h])`, at))).toBe(6);
      const promWindowSli = valueOf(await prom.query(`avg_over_time(${METRIC.objectiveComplianceRatio}${sel}[30d])`, at));
      expect(promWindowSli).toBeCloseTo(status.windowSli!, 12);
      expect(history.mean(at, 3_600_000)).toBeCloseTo(promWindowSli, 12);
      expect(valueOf(await prom.query(burnRateExpr(objective, '1h'), at))).toBeCloseTo(status.burnRates['1h']!, 9);
      expect(valueOf(await prom.query(errorBudgetExpr(objective), at))).toBeCloseTo(status.errorBudgetRemaining!, 9);
      expect(valueOf(await prom.query(`${METRIC.objectiveErrorBudgetRemainingRatio}${sel}`, at))).toBeCloseTo(status.errorBudgetRemaining!, 12);
      // The waiver moved the SLI, so the window figures are a real average, not one sample.
      const first = valueOf(await prom.query(`${METRIC.objectiveComplianceRatio}${sel}`, start));
      expect(first).not.toBeCloseTo(status.sli, 6);
      // The per-pair and per-requirement series arrive with their labels.
      const pairs = await prom.query(`count(${METRIC.resourceRequirementCompliant})`, at);
      expect(valueOf(pairs)).toBe(runtime.report().totals.pairs);

      // The rules `argus slo rules` writes for this objective pass promtool.
      const rulesFile = join(dir, 'rules.yaml');
      await writeFile(rulesFile, stringify(sloRules([objective])));
      const check = promtoolCheckRules(rulesFile);
      expect(check.output).toContain('SUCCESS');
      expect(check.code).toBe(0);
    } finally {
      await runtime.close();
      await prom.stop();
    }
  });

  it('keeps samples while Prometheus is down and sends them once it is back', async () => {
    // Prepare: a Prometheus that is not running yet.
    const prom = await PrometheusServer.create(join(dir, 'p2'));
    const clock = testClock(10);
    const runtime = await openQuickstart(join(dir, 'b'), clock, OBJECTIVE);
    try {
      const client = new RemoteWriteClient({ url: prom.remoteWriteUrl, clock, maxAttempts: 2, minBackoffMs: 20, maxBufferedSamples: 100_000 });
      const publisher = new RemoteWritePublisher({ store: runtime.store, engine: runtime.engine, clock, client });
      const start = clock.now();

      // Act: three pushes while it is down, then one after it started.
      for (let i = 0; i < 3; i++) {
        clock.set(start + i * MINUTE);
        const tick = await publisher.tick();
        expect(tick.flush.error?.retryable).toBe(true);
        expect(tick.flush.pending).toBeGreaterThan(0);
      }
      expect(client.dropped).toEqual({ buffer_full: 0, too_old: 0, rejected: 0 });
      await prom.start();
      clock.set(start + 3 * MINUTE);
      const tick = await publisher.tick();

      // Assess: every sample arrived, in order, and the drop counter says nothing was lost.
      expect(tick.flush.error).toBeUndefined();
      expect(tick.flush.pending).toBe(0);
      expect(client.buffered).toBe(0);
      const at = clock.now();
      expect(valueOf(await prom.query(`count_over_time(${METRIC.objectiveComplianceRatio}{objective="${OBJECTIVE}"}[1h])`, at))).toBe(4);
      const dropped = await prom.query(`${METRIC.remoteWriteDroppedSamplesTotal}`, at);
      expect(dropped.map((d) => d.metric.reason).sort()).toEqual(['buffer_full', 'rejected', 'too_old']);
      expect(dropped.every((d) => d.value[1] === '0')).toBe(true);
    } finally {
      await runtime.close();
      await prom.stop();
    }
  });
});
