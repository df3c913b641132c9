import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalRuntime } from '../adapters/local/local-runtime.ts';
import { LocalScheduler } from '../adapters/local/scheduler.ts';
import { runReconcileWorkflow, type WorkflowSummary } from '../adapters/local/workflow-runner.ts';
import { parseDuration } from '../core/duration.ts';
import { parseSchedule, type Schedule } from '../core/schedule.ts';
import { formatReportTable, formatSummaryTable } from './report-table.ts';

export interface QuickstartOptions {
  readonly home: string;
  /** When to reconcile: an AWS schedule expression, as EventBridge Scheduler takes it. @default 'rate(1 minute)' */
  readonly schedule?: string;
  /** Reconcile interval, e.g. `30s` (the older option; wins over `schedule` when given). */
  readonly every?: string;
  readonly once: boolean;
  /** Folder with catalog.yaml and template.yaml; default examples/quickstart. */
  readonly dir?: string;
}

export const DEFAULT_QUICKSTART_SCHEDULE = 'rate(1 minute)';
const DEFAULT_DIR = fileURLToPath(new URL('../../examples/quickstart/', import.meta.url));

/** `--every 30s` as a schedule: finer than rate()'s minutes, aligned to the epoch like rate(). */
function everySchedule(every: string): Schedule {
  const ms = parseDuration(every);
  if (ms <= 0) throw new Error(`invalid duration ${JSON.stringify(every)}: must be more than 0`);
  return { expression: `every ${every}`, kind: 'rate', nextAfter: (t) => (Math.floor(t / ms) + 1) * ms, matches: (t) => t % ms === 0 };
}

function describeRun(s: WorkflowSummary): string {
  const failedShards = s.failedShards.length > 0 ? `; ${s.failedShards.length} shard(s) failed and stay due: ${s.failedShards.map((f) => `${f.error}: ${f.cause}`).join('; ')}` : '';
  const status = s.executionStatus === 'SUCCEEDED' ? '' : ` [${s.executionStatus}${s.error ? `: ${s.error}` : ''}]`;
  return `attested ${s.evaluated} pair(s) in ${s.durationMs} ms: ${s.passed} passed, ${s.failed} failed, ${s.errored} errored${failedShards}${status}`;
}

/**
 * `npm start`: apply the quickstart catalog, import its CloudFormation template, attest, print
 * the compliance table, then keep reconciling on a schedule until Ctrl-C (edits to the files are
 * picked up). Each reconcile is the reconcile workflow (statemachines/reconcile.asl.json), the
 * same shape the AWS deployment runs from EventBridge Scheduler.
 */
export async function runQuickstart(options: QuickstartOptions): Promise<void> {
  // Checked before anything is opened: a typo fails fast with a ScheduleError.
  const schedule = options.every !== undefined ? everySchedule(options.every) : parseSchedule(options.schedule ?? DEFAULT_QUICKSTART_SCHEDULE);
  const dir = options.dir ?? DEFAULT_DIR;
  const catalog = join(dir, 'catalog.yaml');
  const template = join(dir, 'template.yaml');
  const runtime = await LocalRuntime.open({ home: options.home });
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    console.log(`Argus quickstart: state in ${options.home}`);
    const sync = async () => {
      const applied = await runtime.applyFiles([catalog]);
      const imported = await runtime.importCloudFormation([template]);
      return applied.created.length + applied.configured.length + imported.created.length + imported.configured.length + imported.deleted.length;
    };
    const changed = await sync();
    console.log(`applied ${catalog} and imported ${template} (${changed} definition(s) created or changed)`);
    const first = await runReconcileWorkflow(runtime, { signal: stop.signal });
    console.log(`${describeRun(first)}\n`);
    const report = runtime.report();
    console.log(formatSummaryTable(report));
    console.log('');
    console.log(formatReportTable(report, true));
    if (options.once || stop.signal.aborted) return;

    console.log(`\nreconciling on ${schedule.expression}; edit ${dir} to see changes; Ctrl-C to stop`);
    const scheduler = new LocalScheduler({
      schedule,
      run: async (signal) => {
        const changes = await sync();
        return { changes, summary: await runReconcileWorkflow(runtime, { signal }) };
      },
      onResult: ({ changes, summary }, run) => {
        if (changes === 0 && summary.evaluated === 0 && summary.failedShards.length === 0) return;
        const skipped = run.skipped > 0 ? ` (${run.skipped} fire time(s) skipped while the previous run went on)` : '';
        console.log(`\n[${new Date().toISOString()}] ${changes} definition change(s); ${describeRun(summary)}${skipped}`);
        console.log(formatSummaryTable(runtime.report()));
      },
      // A bad edit is reported and the schedule goes on with what is stored.
      onError: (error) => console.error(`[${new Date().toISOString()}] ${error instanceof Error ? error.message : String(error)}`),
    });
    scheduler.start();
    await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
    await scheduler.stop();
    console.log('stopped');
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await runtime.close();
  }
}
