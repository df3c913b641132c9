/**
 * `argus serve`: the local runtime as a service. The HTTP API (the same handlers as the Lambda
 * functions), /metrics, /openapi.json and /healthz on one port; reconciles through the local
 * workflow runner (statemachines/reconcile.asl.json) on a schedule and on POST /reconcile; the
 * feed pump feeding run metrics from the store's change feed. SIGTERM or SIGINT stops it cleanly:
 * no new requests, the reconcile in flight is aborted between batches (committed batches stay),
 * the state directory is released, exit code 0.
 */
import { isIP } from 'node:net';
import { createApiHandlers } from '../api/handlers.ts';
import { localApiContext, localEvidence } from '../adapters/local/api-context.ts';
import { createLogger, type LogFormat, type Logger } from '../adapters/local/api-logger.ts';
import { ReconcileLoop } from '../adapters/local/api-reconcile-loop.ts';
import { FeedPump } from '../adapters/local/feed-pump.ts';
import { ApiServer } from '../adapters/local/http-server.ts';
import { LocalRuntime } from '../adapters/local/local-runtime.ts';
import { ComplianceMetrics } from '../adapters/local/metrics.ts';
import { runReconcileWorkflow } from '../adapters/local/workflow-runner.ts';
import { ArgusError } from '../core/errors.ts';
import { parseSchedule } from '../core/schedule.ts';
import { createAgentHandler } from '../api/agent-handlers.ts';
import { AgentSweeper } from '../api/agent-sweeper.ts';
import { parseDuration } from '../core/duration.ts';
import { DEFAULT_WORK_TIMEOUTS } from '../core/work/machine.ts';

/** What one reconcile of the serve loop did. */
export interface RunOutcome {
  readonly evaluated: number;
  readonly passed: number;
  readonly failed: number;
  readonly errored: number;
  readonly durationMs: number;
  readonly status: string;
}

export interface ServeOptions {
  readonly home: string;
  readonly host: string;
  readonly port: number;
  /** Bearer token; required when binding beyond loopback. */
  readonly token?: string;
  /** Schedule expression, e.g. `rate(5 minutes)`; 'off' for on-request runs only. */
  readonly schedule: string;
  readonly logFormat: LogFormat;
  /** Reconcile once at start. */
  readonly initialReconcile: boolean;
  /** `workflow` (the ASL, as on AWS) or `direct` (one in-process reconcile). */
  readonly runner: 'workflow' | 'direct';
  /** Lease of an agent's work item (docs/agents.md); the other work deadlines follow from it. @default 30 s */
  readonly workLeaseMs?: number;
  /** Test hook: called with the bound URL once serving. */
  readonly onListening?: (url: string) => void;
  /** Runs before every reconcile, on the open runtime (`npm start` re-reads the quickstart files). */
  readonly beforeRun?: (runtime: LocalRuntime) => Promise<void>;
  /** Runs after every reconcile that completed (`npm start` prints what changed). */
  readonly afterRun?: (runtime: LocalRuntime, summary: RunOutcome) => void;
}

const VERSION = '0.1.0';

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}

/** Checks the options before anything opens. */
export function checkServeOptions(options: Pick<ServeOptions, 'host' | 'port' | 'token' | 'schedule'>): void {
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) throw new ArgusError('USAGE', `--port must be 0-65535, got ${options.port}`);
  if (!isLoopback(options.host) && !options.token) {
    throw new ArgusError('USAGE', `--host ${options.host} exposes the API beyond this machine; give --token (or ARGUS_API_TOKEN) so it is not open to anyone`);
  }
  if (options.schedule !== 'off') parseSchedule(options.schedule);
}

export async function runServe(options: ServeOptions): Promise<void> {
  checkServeOptions(options);
  const log: Logger = createLogger(options.logFormat);
  const runtime = await LocalRuntime.open({ home: options.home });
  let server: ApiServer | undefined;
  let pump: FeedPump | undefined;
  const leaseMs = options.workLeaseMs ?? DEFAULT_WORK_TIMEOUTS.leaseMs;
  const workTimeouts = { ...DEFAULT_WORK_TIMEOUTS, leaseMs, readyMs: Math.max(2 * leaseMs, 1_000), abortedMs: leaseMs };
  const sweeper = new AgentSweeper({
    store: runtime.store,
    engine: runtime.engine,
    clock: runtime.clock,
    timeouts: workTimeouts,
    onError: (error) => log.log('warn', 'agent work sweep failed', { error: String(error) }),
    onSweep: (report) => log.log('info', 'agent work swept', { moved: report.moved, removed: report.removed }),
  });
  let loop: ReconcileLoop<RunOutcome> | undefined;
  const stopped = new Promise<string>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.removeListener('SIGTERM', onSignal);
      process.removeListener('SIGINT', onSignal);
      // A second signal while shutting down ends the process at once.
      process.once('SIGTERM', () => process.exit(1));
      process.once('SIGINT', () => process.exit(1));
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  try {
    const metrics = new ComplianceMetrics({ engine: runtime.engine, clock: runtime.clock, providerNames: runtime.providers.names() });
    pump = await FeedPump.open({
      store: runtime.store,
      consumer: 'metrics',
      handler: async (records) => {
        metrics.observe(records);
        return { processed: records.length };
      },
      onFailure: (f) => log.log('warn', 'feed pump failure', { consumer: f.consumer, sequenceNumber: f.sequenceNumber, error: String(f.error) }),
    });
    pump.start();

    loop = new ReconcileLoop({
      clock: runtime.clock,
      ...(options.schedule === 'off' ? {} : { schedule: options.schedule }),
      // Agent-owned pairs become the run's work items (src/api/agent-sweeper.ts); the rest runs here.
      run: async (signal) => sweeper.aroundRun(signal, async () => {
        await options.beforeRun?.(runtime);
        if (options.runner === 'direct') {
          const s = await runtime.reconcile({ signal });
          return { evaluated: s.evaluated, passed: s.passed, failed: s.failed, errored: s.errored, durationMs: s.durationMs, status: s.aborted ? 'ABORTED' : 'SUCCEEDED' };
        }
        const s = await runReconcileWorkflow(runtime, { signal });
        return { evaluated: s.evaluated, passed: s.passed, failed: s.failed, errored: s.errored, durationMs: s.durationMs, status: s.executionStatus };
      }),
      onResult: (s, reason) => {
        log.log('info', 'reconciled', { reason, ...s });
        options.afterRun?.(runtime, s);
      },
      onError: (error, reason) => log.log('error', 'reconcile failed', { reason, error: error instanceof Error ? error.message : String(error) }),
    });
    const reconcileLoop = loop;
    const evidence = localEvidence(runtime);
    const handlers = createApiHandlers(
      () => localApiContext(runtime, { requestReconcile: () => reconcileLoop.trigger('api'), evidenceHref: evidence.href }),
      {
        version: VERSION,
        logger: (error, event) => log.log('error', 'request failed', { routeKey: event.routeKey, requestId: event.requestId, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
      },
    );
    server = await ApiServer.start({
      handlers,
      host: options.host,
      port: options.port,
      ...(options.token ? { token: options.token } : {}),
      agents: createAgentHandler(() => localApiContext(runtime), { timeouts: workTimeouts, logger: (error, event) => log.log('error', 'request failed', { routeKey: event.routeKey, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }) }),
      metrics: () => metrics.render(),
      evidence: evidence.read,
      health: () => ({ reconciling: reconcileLoop.running, reconciles: reconcileLoop.completedRuns, nextReconcileAt: iso(reconcileLoop.nextRunAt()) }),
      logger: log,
    });
    log.log('info', 'serving', { url: server.url, home: options.home, schedule: options.schedule, runner: options.runner, auth: options.token ? 'bearer' : 'none' });
    options.onListening?.(server.url);
    loop.start();
    sweeper.start();
    if (options.initialReconcile) loop.trigger('start');

    const signal = await stopped;
    log.log('info', 'stopping', { signal, reconciling: loop.running });
  } finally {
    // Order: no new requests, no new runs (the one in flight aborts between batches), then the
    // pump's last checkpoint, then the store and evidence ledger.
    const steps: Array<[string, () => Promise<void>]> = [
      ['http server', async () => server?.close(5_000)],
      ['reconcile', async () => loop?.stop()],
      ['agent sweeper', async () => sweeper.stop()],
      ['feed pump', async () => pump?.stop()],
      ['runtime', async () => runtime.close()],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (error) {
        log.log('error', `stopping ${name} failed`, { error: error instanceof Error ? error.message : String(error) });
        process.exitCode = 1;
      }
    }
    log.log('info', 'stopped');
  }
}

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}
