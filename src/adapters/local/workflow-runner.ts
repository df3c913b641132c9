/**
 * Runs statemachines/reconcile.asl.json locally with aws-local-stepfunctions: the same
 * definition Step Functions runs on AWS, its Task states bound by name to the same handler
 * factories the Lambda functions in functions/ export, over the LocalRuntime's store, engine and
 * providers. Retry, Catch, Map and MaxConcurrency are the interpreter's, not ours.
 *
 * @example
 * const summary = await runReconcileWorkflow(runtime, { shards: 4 });
 * console.log(`${summary.evaluated} attested, ${summary.failedShards.length} shard(s) failed`);
 */
import './asl-polyfill.ts';
import { ExecutionAbortedError, StateMachine, type RunOptions, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { createAttestShardHandler } from '../../../functions/reconcile-attest-shard.ts';
import { type FailedShard, type ReconcileInput, type RunSummary, type ShardResult } from '../../../functions/reconcile-contract.ts';
import { createPlanHandler } from '../../../functions/reconcile-plan.ts';
import { createSummariseHandler, type RunSummarySink } from '../../../functions/reconcile-summarise.ts';
import { ArgusError } from '../../core/errors.ts';
import type { ProviderLookup } from '../../core/use-cases/reconcile.ts';
import { loadAsl, taskStateNames, type AslDefinition } from './asl-loader.ts';
import type { LocalRuntime } from './local-runtime.ts';

export type ExecutionStatus = 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';

/** The Summarise state's RunSummary (failedShards: still failing after the ASL's retries, their work stays due), with how the execution ended. */
export interface WorkflowSummary extends Omit<RunSummary, 'startedAt' | 'aborted'> {
  readonly executionStatus: ExecutionStatus;
  /** Why the execution failed (FAILED, TIMED_OUT). */
  readonly error?: string;
}

export interface WorkflowOptions {
  /** Aborts the execution; shards stop between batches and in-flight batches finish first. */
  readonly signal?: AbortSignal;
  /** @default 8 */
  readonly shards?: number;
  /** @default 250 */
  readonly batchSize?: number;
  /** Map iterations at once. @default 2 */
  readonly maxConcurrency?: number;
  /** Replaces the providers of the runtime (tests inject failing ones). */
  readonly providers?: ProviderLookup;
  /** Receives the summary the Summarise state publishes (the /metrics registry). */
  readonly publish?: RunSummarySink;
  /**
   * Pause before each retry, in ms, instead of the ASL's IntervalSeconds and backoff (tests).
   * The number of attempts still comes from the ASL.
   */
  readonly retryIntervalMs?: number;
}

export const RECONCILE_STATE_MACHINE = 'reconcile';
/** Task states of reconcile.asl.json, bound locally by name; on AWS `${<name>FunctionArn}`. */
export const RECONCILE_TASKS = ['AttestShard', 'Plan', 'Summarise'] as const;

/** The interpreter's local handler type: it takes and returns JSON values. */
type TaskHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;
type TaskHandler = TaskHandlers[string];
type JsonResult = Awaited<ReturnType<TaskHandler>>;

let machine: StateMachine | undefined;

/** The reconcile state machine, read and validated once per process. */
export function reconcileStateMachine(): StateMachine {
  if (machine) return machine;
  // asl-validator checks the file in test/integration/workflow.test.ts; at every start it would
  // cost a second or two of schema compiling, so the runtime only checks the Task states it binds.
  const definition = loadAsl(RECONCILE_STATE_MACHINE, { validate: false });
  const tasks = taskStateNames(definition);
  if (tasks.join() !== [...RECONCILE_TASKS].join()) {
    throw new ArgusError('STATE_MACHINE_DEFINITION', `reconcile.asl.json has Task states ${tasks.join(', ')}; the local runner binds ${RECONCILE_TASKS.join(', ')}`);
  }
  machine = new StateMachine(asInterpreterDefinition(definition), { validationOptions: { noValidate: true } });
  return machine;
}

/**
 * One reconcile as a workflow execution: Plan → Map over shards (AttestShard, retried, caught) →
 * Summarise. Resolves once every handler call has settled, even after an abort.
 */
export async function runReconcileWorkflow(runtime: LocalRuntime, options: WorkflowOptions = {}): Promise<WorkflowSummary> {
  // Loaded once per process, outside the run's duration.
  const stateMachine = reconcileStateMachine();
  const started = runtime.clock.now();
  const input: ReconcileInput = { shards: options.shards ?? 8, batchSize: options.batchSize ?? 250, maxConcurrency: options.maxConcurrency ?? 2 };
  const signal = options.signal;
  const inFlight = new Set<Promise<unknown>>();
  const shardResults = new Map<number, ShardResult>();
  let runId = '';
  let planned = 0;

  const plan = createPlanHandler({ engine: runtime.engine, clock: runtime.clock });
  // The same evidence ledger as a direct reconcile: no result is committed without its evidence.
  const attest = createAttestShardHandler({ store: runtime.store, engine: runtime.engine, providers: options.providers ?? runtime.providers, clock: runtime.clock, evidence: runtime.evidence, signal });
  const summarise = createSummariseHandler({ clock: runtime.clock, publish: options.publish });

  const handlers: TaskHandlers = {
    Plan: bind(inFlight, async (event) => {
      const r = await plan(event);
      runId = r.runId;
      planned = r.planned;
      return r;
    }),
    AttestShard: bind(inFlight, async (event) => {
      const r = await attest(event);
      shardResults.set(r.shard, r);
      return r;
    }),
    Summarise: bind(inFlight, summarise),
  };
  const retryIntervalOverrides =
    options.retryIntervalMs === undefined ? undefined : Object.fromEntries(RECONCILE_TASKS.map((name) => [name, options.retryIntervalMs as number]));

  if (signal?.aborted) return fromParts('ABORTED', runId, planned, [...shardResults.values()], [], runtime.clock.now() - started);
  const execution = stateMachine.run(toJson(input), { overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides }, noThrowOnAbort: true });
  const onAbort = () => execution.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  let output: unknown;
  let status: ExecutionStatus = 'SUCCEEDED';
  let error: string | undefined;
  try {
    output = await execution.result;
    if (output === null && signal?.aborted) status = 'ABORTED';
  } catch (e) {
    status = e instanceof ExecutionAbortedError ? 'ABORTED' : e instanceof Error && e.name === 'ExecutionTimeoutError' ? 'TIMED_OUT' : 'FAILED';
    error = describeFailure(e);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // An aborted execution settles at once; the batches in flight still commit, so wait for them.
    while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    runtime.engine.flush();
  }
  if (status === 'SUCCEEDED' && isRunSummary(output)) {
    const s = output;
    return { runId: s.runId, planned: s.planned, evaluated: s.evaluated, passed: s.passed, failed: s.failed, errored: s.errored, writes: s.writes, durationMs: runtime.clock.now() - started, executionStatus: s.aborted ? 'ABORTED' : 'SUCCEEDED', failedShards: s.failedShards };
  }
  return fromParts(status, runId, planned, [...shardResults.values()], [], runtime.clock.now() - started, error);
}

function fromParts(status: ExecutionStatus, runId: string, planned: number, shards: readonly ShardResult[], failedShards: FailedShard[], durationMs: number, error?: string): WorkflowSummary {
  const sum = (k: 'evaluated' | 'passed' | 'failed' | 'errored' | 'writes') => shards.reduce((n, s) => n + s[k], 0);
  return { runId, planned, evaluated: sum('evaluated'), passed: sum('passed'), failed: sum('failed'), errored: sum('errored'), writes: sum('writes'), durationMs, executionStatus: status, failedShards, ...(error === undefined ? {} : { error }) };
}

/** Wraps a handler for the interpreter and tracks its call until it settles. */
function bind(inFlight: Set<Promise<unknown>>, fn: (event: unknown) => Promise<object>): TaskHandler {
  return (input) => {
    const call = fn(input);
    inFlight.add(call);
    const done = () => inFlight.delete(call);
    call.then(done, done);
    return call.then(toJson);
  };
}

/**
 * The handlers' results are plain JSON data (numbers, strings, arrays, objects), but TypeScript
 * interfaces carry no index signature, so they do not match the interpreter's JSONValue type.
 */
function toJson(value: object): JsonResult {
  return value as JsonResult;
}

/**
 * The document is the ASL file the tests validate with asl-validator (what the interpreter's own
 * constructor would check); its TypeScript type is the interpreter's definition type.
 */
function asInterpreterDefinition(definition: AslDefinition): StateMachineDefinition {
  return definition as unknown as StateMachineDefinition;
}

function isRunSummary(v: unknown): v is RunSummary {
  return !!v && typeof v === 'object' && typeof (v as RunSummary).runId === 'string' && Array.isArray((v as RunSummary).failedShards);
}

function describeFailure(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause;
  if (cause instanceof Error) return `${cause.name}: ${cause.message}`;
  return `${e.name}: ${e.message}`;
}
