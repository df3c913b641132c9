import { SingleBar, Presets } from 'cli-progress';
import type { LocalRuntime } from '../adapters/local/local-runtime.ts';
import type { ReconcileSummary } from '../core/use-cases/reconcile.ts';

/**
 * One reconcile with a progress bar when stdout is a terminal (plain output otherwise, so logs
 * and pipes stay clean). Ctrl-C stops between batches: what was committed stays.
 */
export async function reconcileWithProgress(runtime: LocalRuntime, batchSize: number): Promise<ReconcileSummary> {
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  const bar = process.stdout.isTTY ? new SingleBar({ format: 'attesting [{bar}] {value}/{total} pairs {percentage}% eta {eta}s' }, Presets.shades_classic) : undefined;
  let started = false;
  try {
    return await runtime.reconcile({
      batchSize,
      signal: controller.signal,
      onProgress: ({ done, total }) => {
        if (!bar) return;
        if (!started) {
          bar.start(total, 0);
          started = true;
        }
        bar.update(done);
      },
    });
  } finally {
    if (started) bar?.stop();
    process.removeListener('SIGINT', onSigint);
  }
}
