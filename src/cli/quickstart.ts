import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalRuntime } from '../adapters/local/local-runtime.ts';
import { runReconcileWorkflow, type WorkflowSummary } from '../adapters/local/workflow-runner.ts';
import { parseSchedule } from '../core/schedule.ts';
import { runServe, type ServeOptions } from './serve.ts';
import { formatReportTable, formatSummaryTable } from './report-table.ts';

export interface QuickstartOptions {
  readonly home: string;
  /** When to reconcile: an AWS schedule expression, as EventBridge Scheduler takes it. @default 'rate(1 minute)' */
  readonly schedule?: string;
  readonly once: boolean;
  /** Folder with catalog.yaml, template.yaml and optionally argus-cdk.out; default examples/quickstart. */
  readonly dir?: string;
  /** Port of the local API after the first table (0 picks a free one). @default 8080 */
  readonly port?: number;
}

export const DEFAULT_QUICKSTART_SCHEDULE = 'rate(1 minute)';
const DEFAULT_DIR = fileURLToPath(new URL('../../examples/quickstart/', import.meta.url));
/** The cloud assembly of Argus's own stacks inside the quickstart folder (lib/quickstart-assembly.ts writes it). */
const QUICKSTART_ASSEMBLY = 'argus-cdk.out';

function describeRun(s: WorkflowSummary): string {
  const failedShards = s.failedShards.length > 0 ? `; ${s.failedShards.length} shard(s) failed and stay due: ${s.failedShards.map((f) => `${f.error}: ${f.cause}`).join('; ')}` : '';
  const status = s.executionStatus === 'SUCCEEDED' ? '' : ` [${s.executionStatus}${s.error ? `: ${s.error}` : ''}]`;
  return `attested ${s.evaluated} pair(s) in ${s.durationMs} ms: ${s.passed} passed, ${s.failed} failed, ${s.errored} errored${failedShards}${status}`;
}

/**
 * `npm start`: apply the quickstart catalog, import its CloudFormation template, attest, print
 * the compliance table, then run as `argus serve` does until Ctrl-C: the REST API and /metrics on
 * a local port, and the reconcile workflow (statemachines/reconcile.asl.json) on a schedule, the
 * same shape the AWS deployment runs from EventBridge Scheduler. Edits to the quickstart files are
 * picked up before each run.
 */
export async function runQuickstart(options: QuickstartOptions): Promise<void> {
  const scheduleExpression = options.schedule ?? DEFAULT_QUICKSTART_SCHEDULE;
  // Checked before anything is opened: a typo fails fast with a ScheduleError.
  parseSchedule(scheduleExpression);
  const dir = options.dir ?? DEFAULT_DIR;
  const catalog = join(dir, 'catalog.yaml');
  const template = join(dir, 'template.yaml');
  // Argus's own stacks, synthesised (npm run quickstart:synth): the project attests itself too.
  const ownStacks = join(dir, QUICKSTART_ASSEMBLY);
  const sources = existsSync(join(ownStacks, 'manifest.json')) ? [template, ownStacks] : [template];
  const sync = async (runtime: LocalRuntime): Promise<number> => {
    const applied = await runtime.applyFiles([catalog]);
    const imported = await runtime.importCloudFormation(sources);
    return applied.created.length + applied.configured.length + imported.created.length + imported.configured.length + imported.deleted.length;
  };

  const runtime = await LocalRuntime.open({ home: options.home });
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    console.log(`Argus quickstart: state in ${options.home}`);
    const changed = await sync(runtime);
    console.log(`applied ${catalog} and imported ${sources.join(' and ')} (${changed} definition(s) created or changed)`);
    const first = await runReconcileWorkflow(runtime, { signal: stop.signal });
    console.log(`${describeRun(first)}\n`);
    // Every row, then the summary, so the terminal ends on the totals.
    const report = runtime.report();
    console.log(formatReportTable(report, true));
    console.log('');
    console.log(formatSummaryTable(report));
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await runtime.close();
  }
  if (options.once || stop.signal.aborted) return;

  let pendingChanges = 0;
  const serveOptions: ServeOptions = {
    home: options.home,
    host: '127.0.0.1',
    port: options.port ?? 8080,
    schedule: scheduleExpression,
    logFormat: 'text',
    runner: 'workflow',
    initialReconcile: false,
    onListening: (url) =>
      console.log(
        `\nreconciling on ${scheduleExpression}; edit ${dir} to see changes; Ctrl-C to stop\n` +
          `API on ${url} (try: npx argus report --api ${url}, curl ${url}/compliance, curl ${url}/metrics)`,
      ),
    beforeRun: async (rt) => {
      pendingChanges = await sync(rt);
    },
    afterRun: (rt, summary) => {
      if (pendingChanges === 0 && summary.evaluated === 0) return;
      console.log(`[${new Date().toISOString()}] ${pendingChanges} definition change(s); attested ${summary.evaluated}: ${summary.passed} passed, ${summary.failed} failed, ${summary.errored} errored`);
      console.log(formatSummaryTable(rt.report()));
    },
  };
  try {
    await runServe(serveOptions);
  } catch (error) {
    // Port 8080 taken: serve on a free port rather than give up.
    if (!isAddressInUse(error) || serveOptions.port === 0) throw error;
    console.log(`port ${serveOptions.port} is in use; picking a free port`);
    await runServe({ ...serveOptions, port: 0 });
  }
}

function isAddressInUse(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE' || e.message.includes('EADDRINUSE')) return true;
  }
  return false;
}
