/**
 * The reconcile workflow: statemachines/reconcile.asl.json validated with asl-validator and run by
 * the real ASL interpreter (aws-local-stepfunctions) with its Task states bound to the handlers
 * in functions/. Retries and catches are the interpreter's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import aslValidator from 'asl-validator';
import { afterEach, describe, expect, it } from 'vitest';
import { loadAsl, substitute, substitutionNames, taskStateNames } from '../../src/adapters/local/asl-loader.ts';
import { LocalRuntime } from '../../src/adapters/local/local-runtime.ts';
import { runReconcileWorkflow } from '../../src/adapters/local/workflow-runner.ts';
import { ProviderError } from '../../src/core/errors.ts';
import type { AnyDefinition } from '../../src/core/model.ts';
import type { AttestationProvider } from '../../src/core/ports/attestation-provider.ts';
import type { ProviderLookup } from '../../src/core/use-cases/reconcile.ts';
import { attestation, implementation, requirement, resource } from '../support/builders.ts';

const homes: string[] = [];
const runtimes: LocalRuntime[] = [];

async function openRuntime(): Promise<LocalRuntime> {
  const home = mkdtempSync(join(tmpdir(), 'argus-workflow-'));
  homes.push(home);
  const runtime = await LocalRuntime.open({ home, fsync: false });
  runtimes.push(runtime);
  return runtime;
}

afterEach(async () => {
  for (const r of runtimes.splice(0)) await r.close();
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});

/** `count` buckets under one account; every bucket gets two CEL checks, bucket-7 also a "flaky" one. */
function organisation(count: number): AnyDefinition[] {
  const defs: AnyDefinition[] = [
    requirement('encrypted'),
    attestation('enc-on', { params: { expression: 'resource.encrypted == true' }, resourceTypes: ['AWS::S3::Bucket', 'Flaky::Bucket'] }),
    attestation('versioned', { params: { expression: 'resource.versioned == true' }, resourceTypes: ['AWS::S3::Bucket', 'Flaky::Bucket'] }),
    attestation('flaky-check', { provider: 'flaky', params: {}, resourceTypes: ['Flaky::Bucket'] }),
    implementation('enc-impl', { requirements: ['encrypted'], attestations: ['enc-on', 'versioned', 'flaky-check'], targets: { ids: ['acct'] } }),
    resource('acct', 'AWS::Account'),
  ];
  for (let i = 0; i < count; i++) {
    const type = i === 7 ? 'Flaky::Bucket' : 'AWS::S3::Bucket';
    defs.push(resource(`bucket-${i}`, type, { parent: 'acct', document: { encrypted: i % 3 !== 0, versioned: true } }));
  }
  return defs;
}

/** The runtime's providers plus "flaky", which throws from the lookup for its first `failures` calls. */
function withFlaky(runtime: LocalRuntime, failures: number): { lookup: ProviderLookup; calls: () => number } {
  let calls = 0;
  const flaky: AttestationProvider = { name: 'flaky', validateParams: () => [], attest: () => ({ outcome: 'Passed', message: 'ok' }) };
  return {
    calls: () => calls,
    lookup: {
      get(name) {
        if (name !== 'flaky') return runtime.providers.get(name);
        calls++;
        if (calls <= failures) throw new ProviderError('flaky provider is unreachable', { call: calls });
        return flaky;
      },
    },
  };
}

describe('reconcile.asl.json', () => {
  it('is a valid state machine, before and after the CDK substitutes its function ARNs', () => {
    const definition = loadAsl('reconcile');
    // asl-validator writes defaults into what it checks: give it a copy of the shared definition.
    expect(aslValidator(structuredClone(definition)).errorsText()).toBe('');
    const names = substitutionNames(definition);
    expect(names).toEqual(['AttestShardFunctionArn', 'PlanFunctionArn', 'SummariseFunctionArn']);
    const deployed = substitute(definition, Object.fromEntries(names.map((n) => [n, `arn:aws:lambda:eu-west-1:123456789012:function:argus-${n}`])));
    const result = aslValidator(deployed, { checkArn: true, checkPaths: true });
    expect(result.errorsText()).toBe('');
    expect(substitutionNames(deployed)).toEqual([]);
  });

  it('retries and catches on every Task and runs the shards as a Distributed Map without an ItemReader', () => {
    const definition = loadAsl('reconcile');
    const states = definition.States as Record<string, Record<string, unknown>>;
    const map = states.AttestShards as { ItemProcessor: { ProcessorConfig: { Mode: string }; States: Record<string, Record<string, unknown>> } } & Record<string, unknown>;
    expect(map.Type).toBe('Map');
    expect(map.ItemProcessor.ProcessorConfig.Mode).toBe('DISTRIBUTED');
    expect(map.ItemReader).toBeUndefined();
    const tasks = { ...states, ...map.ItemProcessor.States };
    expect(taskStateNames(definition)).toEqual(['AttestShard', 'Plan', 'Summarise']);
    for (const name of taskStateNames(definition)) {
      const task = tasks[name] as { Retry?: Array<{ ErrorEquals: string[]; BackoffRate?: number }>; Catch?: unknown[]; Resource: string };
      expect(task.Resource, name).toMatch(/^\$\{\w+FunctionArn\}$/);
      expect(task.Retry?.some((r) => r.ErrorEquals.includes('States.TaskFailed') && (r.BackoffRate ?? 0) > 1), name).toBe(true);
      expect(task.Catch?.length, name).toBeGreaterThan(0);
    }
  });
});

describe('runReconcileWorkflow', () => {
  it('attests all due work across shards and finds nothing due on the next run', async () => {
    const runtime = await openRuntime();
    await runtime.apply(organisation(40));
    const { lookup } = withFlaky(runtime, 0);
    const published: unknown[] = [];

    const first = await runReconcileWorkflow(runtime, { shards: 4, batchSize: 5, providers: lookup, publish: (s) => void published.push(s) });
    const second = await runReconcileWorkflow(runtime, { shards: 4, providers: lookup });

    expect(first).toMatchObject({ executionStatus: 'SUCCEEDED', planned: 81, evaluated: 81, failed: 14, errored: 0, failedShards: [] });
    expect(first.passed).toBe(67);
    expect(published).toHaveLength(1);
    expect(second).toMatchObject({ executionStatus: 'SUCCEEDED', planned: 0, evaluated: 0 });
    expect([...runtime.engine.dueWork()]).toEqual([]);
  });

  it('gives the same results as a plain reconcile of the same organisation', async () => {
    const viaWorkflow = await openRuntime();
    const plain = await openRuntime();
    for (const r of [viaWorkflow, plain]) await r.apply(organisation(25).filter((d) => d.metadata.name !== 'bucket-7'));

    const w = await runReconcileWorkflow(viaWorkflow, { shards: 3 });
    const p = await plain.reconcile();

    expect({ planned: w.planned, evaluated: w.evaluated, passed: w.passed, failed: w.failed, errored: w.errored }).toEqual({
      planned: p.planned,
      evaluated: p.evaluated,
      passed: p.passed,
      failed: p.failed,
      errored: p.errored,
    });
    expect(viaWorkflow.engine.snapshot().requirements).toEqual(plain.engine.snapshot().requirements);
  });

  it('retries a failing shard per the ASL Retry and succeeds without attesting its committed batches twice', async () => {
    const runtime = await openRuntime();
    await runtime.apply(organisation(30));
    const flaky = withFlaky(runtime, 2);
    let celRuns = 0;
    const counting: ProviderLookup = {
      get(name) {
        const p = flaky.lookup.get(name);
        if (!p || name === 'flaky') return p;
        return { ...p, attest: (a, r) => (celRuns++, p.attest(a, r)) };
      },
    };

    const summary = await runReconcileWorkflow(runtime, { shards: 2, batchSize: 1, providers: counting, retryIntervalMs: 1 });

    expect(summary).toMatchObject({ executionStatus: 'SUCCEEDED', planned: 61, evaluated: 61, failedShards: [] });
    expect(flaky.calls()).toBe(3);
    // Committed batches ran once: each retry re-planned the shard and found only what was still due.
    // bucket-7's batch failed on the two failed attempts before any of its runs (a batch's runs are
    // prepared, their providers looked up, before the first one runs), so its CEL pairs ran once.
    expect(celRuns).toBe(60);
    expect([...runtime.engine.dueWork()]).toEqual([]);
  });

  it('reports a shard that still fails after its retries, keeps the other shards and leaves its work due', async () => {
    const runtime = await openRuntime();
    await runtime.apply(organisation(30));
    const flaky = withFlaky(runtime, Number.POSITIVE_INFINITY);

    const summary = await runReconcileWorkflow(runtime, { shards: 3, batchSize: 100, providers: flaky.lookup, retryIntervalMs: 1 });

    expect(summary.executionStatus).toBe('SUCCEEDED');
    expect(summary.failedShards).toHaveLength(1);
    expect(summary.failedShards[0]).toMatchObject({ error: 'ProviderError', cause: expect.stringContaining('flaky provider is unreachable') });
    // 1 try + 2 retries (States.TaskFailed, MaxAttempts 2).
    expect(flaky.calls()).toBe(3);
    const failedShardPlanned = summary.failedShards[0]?.planned ?? 0;
    expect(summary.evaluated).toBe(summary.planned - failedShardPlanned);
    const stillDue = [...runtime.engine.dueWork()];
    expect(stillDue.length).toBe(failedShardPlanned);
    expect(stillDue).toContainEqual({ resource: 'bucket-7', attestation: 'flaky-check' });
  });

  it('stops between batches when aborted: the batch in flight commits and the rest stays due', async () => {
    const runtime = await openRuntime();
    await runtime.apply(organisation(30).filter((d) => d.metadata.name !== 'bucket-7'));
    const controller = new AbortController();
    const aborting: ProviderLookup = {
      get(name) {
        const p = runtime.providers.get(name);
        return p && { ...p, attest: (a, r) => (controller.abort(), p.attest(a, r)) };
      },
    };

    const summary = await runReconcileWorkflow(runtime, { shards: 1, batchSize: 4, providers: aborting, signal: controller.signal });

    expect(summary.executionStatus).toBe('ABORTED');
    expect(summary.evaluated).toBe(8);
    expect([...runtime.engine.dueWork()].length).toBe(summary.planned - 8);
  });
});
