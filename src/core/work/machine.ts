/**
 * The work-item state machine of agent providers: pure, no I/O. An agent pulls (resource,
 * attestation) pairs as work items; every change of an item is `transition(item, event, now)`,
 * and the store writes the result conditioned on the version it read (src/core/work/work-store.ts).
 *
 * ```
 * Pending(Created) ─assign─► Scheduled(Assigned) ─claim─► ReadyToScan(Claimed) ─start─► InProgress(Running)
 *                                                                     InProgress ─complete─► Done(Passed|Failed) | Failed(Error)
 * any non-terminal ─abort / deadline─► Aborted(Cancellation|Timeout) ─finalize / deadline─► Failed(Cancellation|Timeout)
 * ```
 * Every non-terminal state has a deadline; the control plane's sweeper applies `expire` once it
 * passed, whether or not the agent is still there. docs/agents.md has the table.
 */
import { ArgusError } from '../errors.ts';
import type { RunContext } from '../compliance/engine.ts';

export const WORK_STATES = ['Pending', 'Scheduled', 'ReadyToScan', 'InProgress', 'Done', 'Failed', 'Aborted'] as const;
export type WorkState = (typeof WORK_STATES)[number];

/** The reasons each state allows; a transition that gives another reason is refused. */
export const STATE_REASONS = {
  Pending: ['Created'],
  Scheduled: ['Assigned'],
  ReadyToScan: ['Claimed'],
  InProgress: ['Running'],
  Done: ['Passed', 'Failed'],
  Failed: ['Error', 'Timeout', 'Cancellation'],
  Aborted: ['Cancellation', 'Timeout'],
} as const satisfies Record<WorkState, readonly string[]>;
export type WorkReason = (typeof STATE_REASONS)[WorkState][number];

export const TERMINAL_STATES: ReadonlySet<WorkState> = new Set(['Done', 'Failed']);
export const OPEN_STATES: readonly WorkState[] = WORK_STATES.filter((s) => !TERMINAL_STATES.has(s));

export function isTerminal(state: WorkState): boolean {
  return TERMINAL_STATES.has(state);
}

/**
 * How long each non-terminal state may last (ms; InProgress lasts as long as its lease), and how
 * long a finished item is kept.
 */
export interface WorkTimeouts {
  /** Pending until assigned. @default 60 s */
  readonly pendingMs: number;
  /** Scheduled until an agent claims it. @default 10 min */
  readonly scheduledMs: number;
  /** Claimed until the agent starts it. @default 60 s */
  readonly readyMs: number;
  /** One lease; renewed by the agent while it runs. @default 30 s */
  readonly leaseMs: number;
  /** Aborted until the control plane finalises it (time for the agent to see the cancellation). @default 30 s */
  readonly abortedMs: number;
  /**
   * How long a finished (Done/Failed) item is kept: its `ttl` is set to the finish time plus this
   * (src/core/work/retention.ts). `Infinity` keeps finished items forever. @default 7 days
   */
  readonly finishedRetentionMs?: number;
}

/** Finished items are kept a week: time to look at a run's outcome, bounded growth. */
export const DEFAULT_FINISHED_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

export const DEFAULT_WORK_TIMEOUTS: WorkTimeouts = {
  pendingMs: 60_000,
  scheduledMs: 600_000,
  readyMs: 60_000,
  leaseMs: 30_000,
  abortedMs: 30_000,
  finishedRetentionMs: DEFAULT_FINISHED_RETENTION_MS,
};

/** What the agent needs to run the pair, fixed when the item is created. */
export interface WorkItem {
  readonly id: string;
  /** The Provider (agent) whose queue holds the item. */
  readonly provider: string;
  readonly resource: string;
  readonly attestation: string;
  /** The reconcile run (or dispatch round) that created it. */
  readonly runId: string;
  /** 1 for the first attempt; a re-queued item is a new item with attempt + 1. */
  readonly attempt: number;
  readonly state: WorkState;
  readonly reason: WorkReason;
  readonly message: string;
  /** Set from Scheduled on: the provider the item is assigned to. */
  readonly providerId?: string;
  /** Set by claim: the token of the agent instance that holds it. */
  readonly claimId?: string;
  readonly leaseUntil?: number;
  /** Until when the current state may last; absent only in terminal states. */
  readonly deadline?: number;
  /** InProgress since (caps lease renewals: timeoutMs + one lease). */
  readonly startedAt?: number;
  /** The reason of the abort, kept so that the final Failed says why. */
  readonly abortReason?: 'Cancellation' | 'Timeout';
  /** Each transition adds one: the revision an agent names, beside the store version. */
  readonly revision: number;
  readonly createdAt: number;
  readonly lastTransitionTime: number;
  /** The run context recorded in the result (engine.runContexts at creation). */
  readonly context: RunContext;
  /** The attestation's timeout. */
  readonly timeoutMs: number;
  /**
   * Finished items only: epoch SECONDS after which the item is gone (DynamoDB TTL deletes it, the
   * sweeper does on the embedded store, and reads ignore it meanwhile). src/core/work/retention.ts.
   */
  readonly ttl?: number;
}

export type WorkEvent =
  | { readonly type: 'assign'; readonly providerId: string }
  | { readonly type: 'claim'; readonly claimId: string }
  | { readonly type: 'start'; readonly claimId: string }
  | { readonly type: 'renew'; readonly claimId: string }
  | { readonly type: 'complete'; readonly claimId: string; readonly outcome: 'Passed' | 'Failed' | 'Errored'; readonly message?: string }
  | { readonly type: 'abort'; readonly reason: 'Cancellation' | 'Timeout'; readonly message?: string }
  | { readonly type: 'finalize' }
  | { readonly type: 'expire' };

export type WorkEventType = WorkEvent['type'];

/** Which states each event may leave (anything else is an InvalidTransitionError). */
export const EVENT_SOURCES: Readonly<Record<WorkEventType, readonly WorkState[]>> = {
  assign: ['Pending'],
  claim: ['Scheduled'],
  start: ['ReadyToScan'],
  renew: ['InProgress'],
  complete: ['InProgress'],
  abort: ['Pending', 'Scheduled', 'ReadyToScan', 'InProgress'],
  finalize: ['Aborted'],
  expire: ['Pending', 'Scheduled', 'ReadyToScan', 'InProgress', 'Aborted'],
};

/** The event cannot apply to the item in its current state (or its lease is not the caller's). */
export class InvalidTransitionError extends ArgusError {
  constructor(
    readonly item: Pick<WorkItem, 'id' | 'state' | 'reason' | 'revision'>,
    readonly event: WorkEventType,
    why: string,
    code = 'INVALID_TRANSITION',
  ) {
    super(code, `work item ${item.id}: cannot ${event} in state ${item.state}(${item.reason}): ${why}`, { id: item.id, state: item.state, event, revision: item.revision });
    this.name = 'InvalidTransitionError';
  }
}

/** The caller's lease on an InProgress item is gone (expired, or the item moved on): its result is refused. */
export class LeaseLostError extends InvalidTransitionError {
  constructor(item: Pick<WorkItem, 'id' | 'state' | 'reason' | 'revision'>, event: WorkEventType, why: string) {
    super(item, event, why, 'LEASE_LOST');
    this.name = 'LeaseLostError';
  }
}

export interface NewWork {
  readonly id: string;
  readonly provider: string;
  readonly resource: string;
  readonly attestation: string;
  readonly runId: string;
  readonly attempt: number;
  readonly context: RunContext;
  readonly timeoutMs: number;
}

/** A new item: Pending(Created) with the pending deadline. */
export function newWorkItem(w: NewWork, now: number, timeouts: WorkTimeouts = DEFAULT_WORK_TIMEOUTS): WorkItem {
  return { ...w, state: 'Pending', reason: 'Created', message: '', revision: 1, createdAt: now, lastTransitionTime: now, deadline: now + timeouts.pendingMs };
}

function move(item: WorkItem, state: WorkState, reason: WorkReason, now: number, fields: Partial<WorkItem> = {}): WorkItem {
  if (!(STATE_REASONS[state] as readonly string[]).includes(reason)) throw new InvalidTransitionError(item, 'expire', `reason ${reason} is not allowed in ${state}`);
  const { deadline: _d, ...rest } = item;
  const next: WorkItem = { ...rest, state, reason, message: fields.message ?? '', revision: item.revision + 1, lastTransitionTime: now, ...fields };
  return next;
}

function requireClaim(item: WorkItem, event: WorkEvent & { claimId: string }, now: number): void {
  if (item.claimId !== event.claimId) throw new LeaseLostError(item, event.type, 'held by another claim');
  if (item.state === 'InProgress' && (item.leaseUntil ?? 0) <= now) throw new LeaseLostError(item, event.type, `lease expired at ${new Date(item.leaseUntil ?? 0).toISOString()}`);
}

/**
 * The next item after `event` at `now`, or an InvalidTransitionError (LeaseLostError when the
 * caller's claim or lease no longer holds). Never mutates `item`.
 */
export function transition(item: WorkItem, event: WorkEvent, now: number, timeouts: WorkTimeouts = DEFAULT_WORK_TIMEOUTS): WorkItem {
  if (!EVENT_SOURCES[event.type].includes(item.state)) {
    if (event.type !== 'assign' && event.type !== 'claim' && event.type !== 'abort' && event.type !== 'finalize' && event.type !== 'expire' && item.claimId === event.claimId) {
      throw new LeaseLostError(item, event.type, `the item is ${item.state} now`);
    }
    throw new InvalidTransitionError(item, event.type, `allowed from ${EVENT_SOURCES[event.type].join(', ')}`);
  }
  switch (event.type) {
    case 'assign':
      return move(item, 'Scheduled', 'Assigned', now, { providerId: event.providerId, deadline: now + timeouts.scheduledMs });
    case 'claim':
      return move(item, 'ReadyToScan', 'Claimed', now, { claimId: event.claimId, deadline: now + timeouts.readyMs });
    case 'start': {
      requireClaim(item, event, now);
      const leaseUntil = now + timeouts.leaseMs;
      return move(item, 'InProgress', 'Running', now, { startedAt: now, leaseUntil, deadline: leaseUntil });
    }
    case 'renew': {
      requireClaim(item, event, now);
      // A run may hold its lease for the attestation's timeout plus one lease, no longer.
      const cap = (item.startedAt ?? now) + item.timeoutMs + timeouts.leaseMs;
      const leaseUntil = Math.max(item.leaseUntil ?? now, Math.min(now + timeouts.leaseMs, cap));
      return { ...item, leaseUntil, deadline: leaseUntil, revision: item.revision + 1 };
    }
    case 'complete': {
      requireClaim(item, event, now);
      const message = event.message ?? '';
      if (event.outcome === 'Errored') return move(item, 'Failed', 'Error', now, { message });
      return move(item, 'Done', event.outcome, now, { message });
    }
    case 'abort':
      return move(item, 'Aborted', event.reason, now, { abortReason: event.reason, message: event.message ?? '', deadline: now + timeouts.abortedMs });
    case 'finalize':
      return move(item, 'Failed', item.abortReason ?? 'Cancellation', now, { message: item.message });
    case 'expire': {
      if (item.deadline === undefined || item.deadline > now) throw new InvalidTransitionError(item, 'expire', `deadline ${item.deadline === undefined ? 'none' : new Date(item.deadline).toISOString()} not reached`);
      if (item.state === 'Aborted') return move(item, 'Failed', item.abortReason ?? 'Timeout', now, { message: item.message });
      return move(item, 'Aborted', 'Timeout', now, { abortReason: 'Timeout', message: `${item.state} deadline passed`, deadline: now + timeouts.abortedMs });
    }
  }
}

/** True when the item's shape is one the machine can produce (used by the property tests and on read). */
export function isValidItem(item: WorkItem): boolean {
  if (!(WORK_STATES as readonly string[]).includes(item.state)) return false;
  if (!(STATE_REASONS[item.state] as readonly string[]).includes(item.reason)) return false;
  if (isTerminal(item.state) !== (item.deadline === undefined)) return false;
  if (item.ttl !== undefined && !isTerminal(item.state)) return false;
  if (item.state !== 'Pending' && item.providerId === undefined && item.state !== 'Aborted' && item.state !== 'Failed') return false;
  if (item.state === 'InProgress' && (item.leaseUntil === undefined || item.claimId === undefined)) return false;
  return true;
}
