import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalRuntime } from '../adapters/local/local-runtime.ts';
import { parseDuration } from '../core/duration.ts';
import { reconcileWithProgress } from './progress.ts';
import { formatReportTable, formatSummaryTable } from './report-table.ts';

export interface QuickstartOptions {
  readonly home: string;
  /** Reconcile interval, e.g. `30s`. */
  readonly every: string;
  readonly once: boolean;
  /** Folder with catalog.yaml and template.yaml; default examples/quickstart. */
  readonly dir?: string;
}

const DEFAULT_DIR = fileURLToPath(new URL('../../examples/quickstart/', import.meta.url));

/**
 * `npm start`: apply the quickstart catalog, import its CloudFormation template, attest, print
 * the compliance table, then keep reconciling until Ctrl-C (edits to the files are picked up).
 */
export async function runQuickstart(options: QuickstartOptions): Promise<void> {
  const intervalMs = parseDuration(options.every);
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
      const changed = applied.created.length + applied.configured.length + imported.created.length + imported.configured.length + imported.deleted.length;
      return changed;
    };
    const changed = await sync();
    console.log(`applied ${catalog} and imported ${template} (${changed} definition(s) created or changed)`);
    const first = await reconcileWithProgress(runtime, 250);
    console.log(`attested ${first.evaluated} pair(s) in ${first.durationMs} ms: ${first.passed} passed, ${first.failed} failed, ${first.errored} errored\n`);
    const report = runtime.report();
    console.log(formatSummaryTable(report));
    console.log('');
    console.log(formatReportTable(report, true));
    if (options.once) return;
    console.log(`\nreconciling every ${options.every}; edit ${dir} to see changes; Ctrl-C to stop`);
    while (!stop.signal.aborted) {
      try {
        await sleep(intervalMs, undefined, { signal: stop.signal });
      } catch {
        break;
      }
      try {
        const changes = await sync();
        const summary = await runtime.reconcile({ signal: stop.signal });
        if (changes > 0 || summary.evaluated > 0) {
          const r = runtime.report();
          console.log(`\n[${new Date().toISOString()}] ${changes} definition change(s); attested ${summary.evaluated}: ${summary.passed} passed, ${summary.failed} failed, ${summary.errored} errored`);
          console.log(formatSummaryTable(r));
        }
      } catch (error) {
        // A bad edit is reported and the loop goes on with what is stored.
        console.error(`[${new Date().toISOString()}] ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    console.log('stopped');
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await runtime.close();
  }
}
