/**
 * The control plane's side of agent work in a long-running process (`argus serve`): a sweeper that
 * enforces work-item deadlines every few seconds even when no agent calls (the API path also sweeps
 * lazily on each claim), and the hook around each reconcile run that turns the run's agent-owned
 * due pairs into work items and aborts the unfinished ones when the run is cancelled.
 * The sweeper also deletes finished items past their retention (`ttl`): the embedded store has no
 * TTL. On AWS (no sweeper) DynamoDB's TTL deletes them.
 */
import { randomUUID } from 'node:crypto';
import type { ComplianceEngine } from '../core/compliance/engine.ts';
import type { Clock } from '../core/ports/clock.ts';
import type { Store } from '../core/ports/store.ts';
import { DEFAULT_WORK_TIMEOUTS, type WorkTimeouts } from '../core/work/machine.ts';
import { dispatchAgentWork, WorkStore } from '../core/work/work-store.ts';

export interface AgentSweeperOptions {
  readonly store: Store;
  readonly engine: ComplianceEngine;
  readonly clock: Clock;
  readonly timeouts?: WorkTimeouts;
  /** @default a third of the lease, between 250 ms and 5 s */
  readonly intervalMs?: number;
  /**
   * Pause between two full reads of a provider's items for expired ones; a read that stopped at
   * its page budget goes on at the next pass. @default 60 s
   */
  readonly purgeIntervalMs?: number;
  readonly onError?: (error: unknown) => void;
  /** Called after each pass that moved or removed items (logging, metrics). */
  readonly onSweep?: (report: SweepReport) => void;
}

/** What one sweeper pass did. */
export interface SweepReport {
  /** Open items moved on by their deadline (Aborted, Failed). */
  readonly moved: number;
  /** Finished items deleted after their retention. */
  readonly removed: number;
}

const DEFAULT_PURGE_INTERVAL_MS = 60_000;

export class AgentSweeper {
  private readonly work: WorkStore;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** Per provider: where the purge goes on, or when its next full read may start. */
  private readonly purges = new Map<string, { readonly cursor?: string; readonly nextAt?: number }>();

  constructor(private readonly options: AgentSweeperOptions) {
    this.work = new WorkStore(options.store, { timeouts: options.timeouts ?? DEFAULT_WORK_TIMEOUTS });
  }

  private agents(): string[] {
    return [...this.options.engine.index.providers.values()].filter((p) => p.spec.type === 'agent').map((p) => p.metadata.name);
  }

  /** One pass over every agent Provider: open items past their deadline, then expired finished items. */
  async sweepOnce(): Promise<SweepReport> {
    let moved = 0;
    let removed = 0;
    for (const provider of this.agents()) {
      moved += await this.work.sweep(provider, this.options.clock.now());
      removed += await this.purge(provider, this.options.clock.now());
    }
    const report = { moved, removed };
    if (moved > 0 || removed > 0) this.options.onSweep?.(report);
    return report;
  }

  /** One bounded step of the provider's purge: a page budget per pass, a full read per purge interval. */
  private async purge(provider: string, now: number): Promise<number> {
    const state = this.purges.get(provider) ?? {};
    if (state.cursor === undefined && state.nextAt !== undefined && now < state.nextAt) return 0;
    const { removed, cursor } = await this.work.purgeExpired(provider, now, state.cursor === undefined ? {} : { cursor: state.cursor });
    this.purges.set(provider, cursor === undefined ? { nextAt: now + (this.options.purgeIntervalMs ?? DEFAULT_PURGE_INTERVAL_MS) } : { cursor });
    return removed;
  }

  start(): void {
    const lease = this.work.timeouts.leaseMs;
    const every = this.options.intervalMs ?? Math.min(5_000, Math.max(250, Math.floor(lease / 3)));
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.sweepOnce()
        .then(() => undefined, (error: unknown) => this.options.onError?.(error))
        .finally(() => (this.running = undefined));
    }, every);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /**
   * Wraps one reconcile run: its agent-owned due pairs become work items of the run first; when
   * the run is cancelled (its signal aborts), the run's unfinished items are aborted too.
   */
  async aroundRun<T>(signal: AbortSignal | undefined, run: () => Promise<T>): Promise<T> {
    const runId = randomUUID();
    try {
      await dispatchAgentWork(this.work, this.options.engine, runId, this.options.clock.now());
    } catch (error) {
      this.options.onError?.(error);
    }
    try {
      return await run();
    } finally {
      if (signal?.aborted) await this.work.abortRun(this.agents(), runId, 'Cancellation', this.options.clock.now()).catch((error: unknown) => this.options.onError?.(error));
    }
  }
}
