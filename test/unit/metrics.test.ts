import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ComplianceMetrics } from '../../src/adapters/local/metrics.ts';
import { ComplianceEngine } from '../../src/core/compliance/engine.ts';
import { resultsKey } from '../../src/core/keys.ts';
import { METRIC } from '../../src/core/metric-names.ts';
import { API_VERSION, type AttestationResult, type ComplianceObjective } from '../../src/core/model.ts';
import type { ChangeRecord } from '../../src/core/ports/store.ts';
import { resultsItemOf, type AnyResultsItem, type KeyedResultsItem } from '../../src/core/results-item.ts';
import { attestation, implementation, requirement, resource, resultFor } from '../support/builders.ts';

const NOW = Date.UTC(2026, 0, 1);

function objective(name: string, target: number): ComplianceObjective {
  return {
    apiVersion: API_VERSION,
    kind: 'ComplianceObjective',
    metadata: { name, labels: {} },
    spec: { requirements: [], frameworks: ['nist-800-53'], resources: {}, target, windowMs: 30 * 86_400_000, unknownIsCompliant: false },
  };
}

/** A stack with two buckets: one passes the check, one fails it. */
function setup(): { engine: ComplianceEngine; results: AttestationResult[] } {
  const engine = ComplianceEngine.load(
    [
      requirement('sc-28', { frameworks: ['nist-800-53:SC-28'], appliesTo: { types: ['AWS::S3::Bucket'] } }),
      attestation('encrypted', { resourceTypes: ['AWS::S3::Bucket'] }),
      implementation('enc', { requirements: ['sc-28'], attestations: ['encrypted'], targets: { ids: ['stack'] } }),
      resource('stack', 'AWS::CloudFormation::Stack'),
      resource('stack/Good', 'AWS::S3::Bucket', { parent: 'stack' }),
      resource('stack/Bad', 'AWS::S3::Bucket', { parent: 'stack' }),
      objective('encryption-slo', 0.9),
    ],
    [],
    NOW,
  );
  const results = [
    { ...resultFor(engine, 'stack/Good', 'encrypted', 'Passed', NOW - 60_000), durationMs: 3 },
    { ...resultFor(engine, 'stack/Bad', 'encrypted', 'Failed', NOW - 120_000), durationMs: 7 },
  ];
  for (const r of results) engine.putResult(r);
  engine.flush();
  return { engine, results };
}

function resultsRecord(seq: number, item: AnyResultsItem, old?: AnyResultsItem): ChangeRecord {
  const key = resultsKey(item.resource);
  return {
    eventID: String(seq),
    eventName: old ? 'MODIFY' : 'INSERT',
    dynamodb: {
      Keys: key,
      NewImage: { ...key, version: old ? 2 : 1, data: item },
      ...(old ? { OldImage: { ...key, version: 1, data: old } } : {}),
      SequenceNumber: String(seq),
      ApproximateCreationDateTime: NOW / 1000,
    },
  };
}

function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('ComplianceMetrics', () => {
  it('exposes per-pair compliance and the SLI per requirement', async () => {
    const { engine } = setup();
    const metrics = new ComplianceMetrics({ engine, clock: { now: () => NOW } });
    const { body, contentType } = await metrics.render();
    expect(contentType).toMatch(/^text\/plain/);
    expect(sample(body, METRIC.resourceRequirementCompliant, 'resource="stack/Good",requirement="sc-28"')).toBe(1);
    expect(sample(body, METRIC.resourceRequirementCompliant, 'resource="stack/Bad",requirement="sc-28"')).toBe(0);
    expect(sample(body, METRIC.requirementComplianceRatio, 'requirement="sc-28"')).toBe(0.5);
  });

  it('reports the age of the oldest result of each attestation', async () => {
    const { engine } = setup();
    const metrics = new ComplianceMetrics({ engine, clock: { now: () => NOW } });
    const { body } = await metrics.render();
    expect(sample(body, METRIC.attestationResultAgeSeconds, 'attestation="encrypted"')).toBe(120);
  });

  it('derives error budget and burn rate of an objective from its SLI', async () => {
    const { engine } = setup();
    const { body } = await new ComplianceMetrics({ engine, clock: { now: () => NOW } }).render();
    expect(sample(body, METRIC.objectiveComplianceRatio, 'objective="encryption-slo"')).toBe(0.5);
    // (1 - 0.5) / (1 - 0.9) = 5 times the sustainable rate; the budget is overspent by 4 budgets.
    expect(sample(body, METRIC.objectiveBurnRate, 'objective="encryption-slo"')).toBeCloseTo(5);
    expect(sample(body, METRIC.objectiveErrorBudgetRemainingRatio, 'objective="encryption-slo"')).toBeCloseTo(-4);
  });

  it('counts each new run from the change feed once, by provider and result', async () => {
    const { engine, results } = setup();
    const metrics = new ComplianceMetrics({ engine, clock: { now: () => NOW }, providerNames: ['cel', 'http'] });
    const [good, bad] = results as [AttestationResult, AttestationResult];
    const first = resultsItemOf('stack/Good', [good]);
    metrics.observe([resultsRecord(1, first), resultsRecord(2, resultsItemOf('stack/Bad', [bad]))]);
    // The same result written again (another attestation of the resource ran) is no new run.
    metrics.observe([resultsRecord(3, first, first)]);
    const { body } = await metrics.render();
    expect(sample(body, METRIC.attestationRunsTotal, 'provider="cel",result="passed"')).toBe(1);
    expect(sample(body, METRIC.attestationRunsTotal, 'provider="cel",result="failed"')).toBe(1);
    expect(sample(body, METRIC.attestationRunsTotal, 'provider="http",result="errored"')).toBe(0);
    expect(sample(body, `${METRIC.attestationDurationSeconds}_count`, 'provider="cel"')).toBe(2);
  });

  it('does not count a results item of earlier versions rewritten in the current form as a new run', async () => {
    const { engine, results } = setup();
    const metrics = new ComplianceMetrics({ engine, clock: { now: () => NOW }, providerNames: ['cel'] });
    const [good] = results as [AttestationResult];
    const keyed: KeyedResultsItem = { resource: 'stack/Good', results: { encrypted: good } };
    metrics.observe([resultsRecord(1, keyed), resultsRecord(2, resultsItemOf('stack/Good', [good]), keyed)]);
    const { body } = await metrics.render();
    expect(sample(body, METRIC.attestationRunsTotal, 'provider="cel",result="passed"')).toBe(1);
    expect(sample(body, `${METRIC.attestationDurationSeconds}_count`, 'provider="cel"')).toBe(1);
  });

  it('passes promtool check metrics', async (ctx) => {
    const promtool = await promisify(execFile)('sh', ['-c', 'command -v promtool'])
      .then((r) => r.stdout.trim())
      .catch(() => '');
    if (!promtool) {
      ctx.skip('promtool not on PATH (Debian package "prometheus"; .ci/run installs it)');
      return;
    }
    const { engine, results } = setup();
    const metrics = new ComplianceMetrics({ engine, clock: { now: () => NOW }, providerNames: ['cel'] });
    metrics.observe(results.map((r, i) => resultsRecord(i + 1, resultsItemOf(r.resource, [r]))));
    const { body } = await metrics.render();
    const dir = await mkdtemp(join(tmpdir(), 'argus-metrics-'));
    try {
      const file = join(dir, 'metrics.txt');
      await writeFile(file, body);
      const { stdout, stderr } = await promisify(execFile)('sh', ['-c', `"${promtool}" check metrics < "${file}"`]);
      expect(`${stdout}${stderr}`.trim()).toBe('');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
