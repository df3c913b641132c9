/**
 * LocalScheduler with a fake clock: fires at the schedule's times, never overlaps runs, skips the
 * fire times a long run covered, and stop() waits for the run in flight.
 */
import { describe, expect, it } from 'vitest';
import { LocalScheduler, type SchedulerClock, type ScheduledRun } from '../../src/adapters/local/scheduler.ts';
import { ScheduleError } from '../../src/core/schedule.ts';

/** Time moves only when the test advances it; sleepers wake when their time has come. */
class FakeClock implements SchedulerClock {
  private sleepers: Array<{ until: number; wake: () => void }> = [];
  constructor(private time: number) {}
  now(): number {
    return this.time;
  }
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const sleeper = { until: this.time + ms, wake: resolve };
      this.sleepers.push(sleeper);
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }
  get waiting(): number {
    return this.sleepers.length;
  }
  /** Moves time forward and lets woken sleepers (and what they start) run. */
  async advance(ms: number): Promise<void> {
    this.time += ms;
    const due = this.sleepers.filter((s) => s.until <= this.time);
    this.sleepers = this.sleepers.filter((s) => s.until > this.time);
    for (const s of due) s.wake();
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((r) => setImmediate(r));
}

const START = Date.UTC(2024, 4, 10, 10, 0, 30);

describe('LocalScheduler', () => {
  it('runs at each fire time of the expression', async () => {
    const clock = new FakeClock(START);
    const runs: ScheduledRun[] = [];
    const scheduler = new LocalScheduler({ schedule: 'rate(1 minute)', clock, run: async (_s, run) => void runs.push(run) });

    scheduler.start();
    await settle();
    await clock.advance(29_999);
    expect(runs).toHaveLength(0);
    await clock.advance(1);
    await clock.advance(60_000);
    await clock.advance(60_000);
    await scheduler.stop();

    expect(runs.map((r) => new Date(r.scheduledAt).toISOString())).toEqual(['2024-05-10T10:01:00.000Z', '2024-05-10T10:02:00.000Z', '2024-05-10T10:03:00.000Z']);
    expect(scheduler.runs).toBe(3);
  });

  it('never overlaps runs: fire times that pass during a long run are skipped and reported', async () => {
    const clock = new FakeClock(START);
    let active = 0;
    let maxActive = 0;
    const runs: ScheduledRun[] = [];
    let finish: (() => void) | undefined;
    const scheduler = new LocalScheduler({
      schedule: 'cron(0/15 * * * ? *)',
      clock,
      run: (_s, run) => {
        runs.push(run);
        active++;
        maxActive = Math.max(maxActive, active);
        return new Promise<void>((resolve) => {
          finish = () => {
            active--;
            resolve();
          };
        });
      },
    });

    scheduler.start();
    await settle();
    await clock.advance(14 * 60_000 + 30_000); // 10:15
    expect(runs).toHaveLength(1);
    await clock.advance(50 * 60_000); // 11:05: 10:30, 10:45 and 11:00 pass while the run goes on
    expect(runs).toHaveLength(1);
    finish?.();
    await settle();
    await clock.advance(10 * 60_000); // 11:15
    finish?.();
    await scheduler.stop();

    expect(maxActive).toBe(1);
    expect(runs.map((r) => [new Date(r.scheduledAt).toISOString().slice(11, 16), r.skipped])).toEqual([
      ['10:15', 0],
      ['11:15', 3],
    ]);
  });

  it('stop() aborts the run signal and waits for the run in flight to finish', async () => {
    const clock = new FakeClock(START);
    const events: string[] = [];
    const scheduler = new LocalScheduler({
      schedule: 'rate(1 minute)',
      clock,
      run: async (signal) => {
        events.push('started');
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        await new Promise((r) => setTimeout(r, 20)); // the batch in flight commits
        events.push('finished');
      },
    });
    scheduler.start();
    await settle();
    await clock.advance(30_000);
    expect(events).toEqual(['started']);

    await scheduler.stop();

    expect(events).toEqual(['started', 'finished']);
    expect(scheduler.running).toBe(false);
  });

  it('keeps going after a run throws and reports the error', async () => {
    const clock = new FakeClock(START);
    const errors: unknown[] = [];
    let n = 0;
    const scheduler = new LocalScheduler({
      schedule: 'rate(1 minute)',
      clock,
      run: async () => {
        if (++n === 1) throw new Error('store is busy');
        return n;
      },
      onError: (e) => errors.push(e),
    });
    const results: number[] = [];
    const withResults = new LocalScheduler({ schedule: scheduler.schedule, clock, run: async () => 7, onResult: (r) => results.push(r) });

    scheduler.start();
    withResults.start();
    await settle();
    await clock.advance(30_000);
    await clock.advance(60_000);
    await scheduler.stop();
    await withResults.stop();

    expect(errors.map((e) => (e as Error).message)).toEqual(['store is busy']);
    expect(n).toBe(2);
    expect(results).toEqual([7, 7]);
  });

  it('runs once at start when asked, then on the schedule', async () => {
    const clock = new FakeClock(START);
    const runs: ScheduledRun[] = [];
    const scheduler = new LocalScheduler({ schedule: 'rate(1 hour)', clock, runAtStart: true, run: async (_s, run) => void runs.push(run) });
    scheduler.start();
    await settle();
    expect(runs.map((r) => r.scheduledAt)).toEqual([START]);
    await clock.advance(3_600_000);
    await scheduler.stop();
    expect(runs.map((r) => new Date(r.scheduledAt).toISOString())).toEqual([new Date(START).toISOString(), '2024-05-10T11:00:00.000Z']);
  });

  it('rejects an invalid expression when it is made', () => {
    expect(() => new LocalScheduler({ schedule: 'rate(1 minutes)', run: async () => undefined })).toThrow(ScheduleError);
  });
});
