/**
 * The local scheduler: runs a job at the times an AWS schedule expression gives (the same strings
 * EventBridge Scheduler takes; see src/core/schedule.ts). Runs never overlap: fire times that pass
 * while a run is in flight are skipped and reported, not queued. `stop()` aborts the run's signal
 * and waits for it to finish.
 *
 * @example
 * const scheduler = new LocalScheduler({ schedule: 'rate(1 minute)', run: (signal) => runReconcileWorkflow(runtime, { signal }) });
 * scheduler.start();
 * // ... later
 * await scheduler.stop();
 */
import { parseSchedule, type Schedule } from '../../core/schedule.ts';

/** Time for the scheduler; tests pass a fake that advances by hand. */
export interface SchedulerClock {
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts. Never rejects. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** setTimeout holds at most 2^31 - 1 ms: longer waits are slept in steps. */
const MAX_TIMER_MS = 2_147_483_647;

export const systemSchedulerClock: SchedulerClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.min(Math.max(0, ms), MAX_TIMER_MS));
      signal.addEventListener('abort', done, { once: true });
    }),
};

export interface ScheduledRun {
  /** The fire time this run is for. */
  readonly scheduledAt: number;
  readonly startedAt: number;
  /** Fire times skipped because the previous run was still going. */
  readonly skipped: number;
}

export interface LocalSchedulerOptions<T> {
  /** An AWS schedule expression (`rate(1 minute)`, `cron(0/15 * * * ? *)`) or a parsed one. */
  readonly schedule: string | Schedule;
  /** The job; its signal aborts when the scheduler stops. */
  readonly run: (signal: AbortSignal, run: ScheduledRun) => Promise<T>;
  /** @default systemSchedulerClock */
  readonly clock?: SchedulerClock;
  /** Also run once at start, before the first fire time. @default false */
  readonly runAtStart?: boolean;
  readonly onResult?: (result: T, run: ScheduledRun) => void;
  /** A run that threw; the schedule goes on. @default a process warning */
  readonly onError?: (error: unknown, run: ScheduledRun) => void;
}

export class LocalScheduler<T = unknown> {
  readonly schedule: Schedule;
  private readonly clock: SchedulerClock;
  private controller = new AbortController();
  private loop: Promise<void> | undefined;
  private completed = 0;

  constructor(private readonly options: LocalSchedulerOptions<T>) {
    // Parsed here, so a bad expression fails at construction with a ScheduleError.
    this.schedule = typeof options.schedule === 'string' ? parseSchedule(options.schedule) : options.schedule;
    this.clock = options.clock ?? systemSchedulerClock;
  }

  get running(): boolean {
    return this.loop !== undefined;
  }

  /** Runs finished (passed or failed) since construction. */
  get runs(): number {
    return this.completed;
  }

  /** The next fire time after now (Infinity when the schedule has none left). */
  nextRunAt(): number {
    return this.schedule.nextAfter(this.clock.now());
  }

  start(): void {
    if (this.loop) return;
    this.controller = new AbortController();
    this.loop = this.runLoop(this.controller.signal);
  }

  /** Aborts the run in flight (it stops at its next safe point) and waits for it. */
  async stop(): Promise<void> {
    this.controller.abort();
    await this.loop;
    this.loop = undefined;
  }

  private async runLoop(signal: AbortSignal): Promise<void> {
    let last = this.clock.now();
    let skipped = 0;
    if (this.options.runAtStart && !signal.aborted) await this.fire(signal, { scheduledAt: last, startedAt: last, skipped: 0 });
    while (!signal.aborted) {
      const next = this.schedule.nextAfter(last);
      if (!Number.isFinite(next)) {
        // Nothing left to run (a past at(), a cron whose years are over): idle until stopped.
        await this.clock.sleep(MAX_TIMER_MS, signal);
        continue;
      }
      while (!signal.aborted && this.clock.now() < next) await this.clock.sleep(next - this.clock.now(), signal);
      if (signal.aborted) return;
      await this.fire(signal, { scheduledAt: next, startedAt: this.clock.now(), skipped });
      // Fire times that passed during the run are skipped, not queued: runs never overlap or pile up.
      const after = this.clock.now();
      skipped = after > next ? this.firesBetween(next, after) : 0;
      last = Math.max(next, after);
    }
  }

  private async fire(signal: AbortSignal, run: ScheduledRun): Promise<void> {
    try {
      const result = await this.options.run(signal, run);
      this.options.onResult?.(result, run);
    } catch (error) {
      (this.options.onError ?? warn)(error, run);
    } finally {
      this.completed++;
    }
  }

  /** Fire times in (from, to], counted up to 10,000. */
  private firesBetween(from: number, to: number): number {
    let n = 0;
    for (let t = this.schedule.nextAfter(from); t <= to && n < 10_000; t = this.schedule.nextAfter(t)) n++;
    return n;
  }
}

function warn(error: unknown, run: ScheduledRun): void {
  process.emitWarning(`scheduled run for ${new Date(run.scheduledAt).toISOString()} failed: ${error instanceof Error ? error.message : String(error)}`, 'ArgusSchedulerWarning');
}
