/**
 * Runs reconciles for `argus serve`: on a schedule expression (the same strings EventBridge
 * Scheduler takes) and on request (POST /reconcile). Requests while a run is in flight coalesce
 * into one follow-up run; `stop()` aborts the run in flight (committed batches stay) and waits.
 */
import { parseSchedule, type Schedule } from '../../core/schedule.ts';
import type { Clock } from '../../core/ports/clock.ts';

export interface ReconcileRun<T> {
  (signal: AbortSignal): Promise<T>;
}

export interface ReconcileLoopOptions<T> {
  readonly run: ReconcileRun<T>;
  /** e.g. `rate(5 minutes)`; none: only on request. */
  readonly schedule?: string;
  readonly clock: Clock;
  readonly onResult?: (result: T, reason: string) => void;
  readonly onError?: (error: unknown, reason: string) => void;
}

export class ReconcileLoop<T> {
  private readonly schedule: Schedule | undefined;
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
  private pending: string | undefined;
  private stopped = false;
  private runs = 0;

  constructor(private readonly options: ReconcileLoopOptions<T>) {
    this.schedule = options.schedule === undefined ? undefined : parseSchedule(options.schedule);
  }

  get running(): boolean {
    return this.current !== undefined;
  }

  get completedRuns(): number {
    return this.runs;
  }

  /** The next scheduled run (epoch ms), or undefined. */
  nextRunAt(): number | undefined {
    if (!this.schedule) return undefined;
    const next = this.schedule.nextAfter(this.options.clock.now());
    return Number.isFinite(next) ? next : undefined;
  }

  start(): void {
    this.arm();
  }

  /** Asks for a run now; coalesced with one already waiting. */
  trigger(reason: string): { readonly accepted: boolean; readonly running: boolean } {
    if (this.stopped) return { accepted: false, running: false };
    const running = this.current !== undefined;
    if (running) this.pending ??= reason;
    else this.launch(reason);
    return { accepted: true, running };
  }

  /** Stops the schedule, aborts the run in flight and waits for it to settle. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.pending = undefined;
    this.abort.abort();
    await this.current;
  }

  private arm(): void {
    if (this.stopped || !this.schedule) return;
    const next = this.nextRunAt();
    if (next === undefined) return;
    // Timers cap at about 24.8 days; re-arm past that.
    const delay = Math.min(Math.max(0, next - this.options.clock.now()), 2_000_000_000);
    this.timer = setTimeout(() => {
      if (this.options.clock.now() >= next) this.trigger(`schedule ${this.schedule?.expression ?? ''}`);
      this.arm();
    }, delay);
  }

  private launch(reason: string): void {
    this.current = (async () => {
      try {
        const result = await this.options.run(this.abort.signal);
        this.runs++;
        this.options.onResult?.(result, reason);
      } catch (error) {
        this.options.onError?.(error, reason);
      } finally {
        this.current = undefined;
        const next = this.pending;
        this.pending = undefined;
        if (next !== undefined && !this.stopped) this.launch(next);
      }
    })();
  }
}
