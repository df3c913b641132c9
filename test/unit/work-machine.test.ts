import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_WORK_TIMEOUTS,
  EVENT_SOURCES,
  InvalidTransitionError,
  isTerminal,
  isValidItem,
  LeaseLostError,
  newWorkItem,
  STATE_REASONS,
  transition,
  WORK_STATES,
  type WorkEvent,
  type WorkItem,
} from '../../src/core/work/machine.ts';

const T0 = Date.UTC(2026, 0, 1);
const context = { attestationDigest: 'sha256:a', resourceDigest: 'sha256:r', requirementVersions: { req: 1 } };

function fresh(timeoutMs = 10_000): WorkItem {
  return newWorkItem({ id: 'w1.1', provider: 'agent-a', resource: 'host/a', attestation: 'perms', runId: 'run-1', attempt: 1, context, timeoutMs }, T0);
}

function run(item: WorkItem, events: ReadonlyArray<readonly [WorkEvent, number]>): WorkItem {
  return events.reduce((it, [e, at]) => transition(it, e, at), item);
}

describe('work item state machine', () => {
  it('walks the happy path Pending → Scheduled → ReadyToScan → InProgress → Done with a reason at each step', () => {
    const steps: WorkItem[] = [];
    let item = fresh();
    for (const [event, at] of [
      [{ type: 'assign', providerId: 'agent-a' }, T0 + 1],
      [{ type: 'claim', claimId: 'c1' }, T0 + 2],
      [{ type: 'start', claimId: 'c1' }, T0 + 3],
      [{ type: 'complete', claimId: 'c1', outcome: 'Passed' }, T0 + 4],
    ] as const) {
      item = transition(item, event, at);
      steps.push(item);
    }
    expect(steps.map((s) => `${s.state}(${s.reason})`)).toEqual(['Scheduled(Assigned)', 'ReadyToScan(Claimed)', 'InProgress(Running)', 'Done(Passed)']);
    expect(steps[0]?.providerId).toBe('agent-a');
    expect(steps[2]?.leaseUntil).toBe(T0 + 3 + DEFAULT_WORK_TIMEOUTS.leaseMs);
    expect(item.deadline).toBeUndefined();
    expect(item.revision).toBe(5);
  });

  it('turns an Errored run into Failed(Error) and a failing check into Done(Failed)', () => {
    const running = run(fresh(), [
      [{ type: 'assign', providerId: 'a' }, T0],
      [{ type: 'claim', claimId: 'c' }, T0],
      [{ type: 'start', claimId: 'c' }, T0],
    ]);
    expect(transition(running, { type: 'complete', claimId: 'c', outcome: 'Errored' }, T0 + 1)).toMatchObject({ state: 'Failed', reason: 'Error' });
    expect(transition(running, { type: 'complete', claimId: 'c', outcome: 'Failed' }, T0 + 1)).toMatchObject({ state: 'Done', reason: 'Failed' });
  });

  it('refuses a result after the lease expired or from another claim with LeaseLostError', () => {
    const running = run(fresh(), [
      [{ type: 'assign', providerId: 'a' }, T0],
      [{ type: 'claim', claimId: 'c' }, T0],
      [{ type: 'start', claimId: 'c' }, T0],
    ]);
    expect(() => transition(running, { type: 'complete', claimId: 'c', outcome: 'Passed' }, T0 + DEFAULT_WORK_TIMEOUTS.leaseMs)).toThrow(LeaseLostError);
    expect(() => transition(running, { type: 'complete', claimId: 'other', outcome: 'Passed' }, T0 + 1)).toThrow(LeaseLostError);
    const aborted = transition(running, { type: 'abort', reason: 'Cancellation' }, T0 + 1);
    expect(() => transition(aborted, { type: 'complete', claimId: 'c', outcome: 'Passed' }, T0 + 2)).toThrow(LeaseLostError);
  });

  it('expires a state only once its deadline passed: Aborted(Timeout), then Failed(Timeout)', () => {
    const scheduled = transition(fresh(), { type: 'assign', providerId: 'a' }, T0);
    expect(() => transition(scheduled, { type: 'expire' }, T0 + 1)).toThrow(InvalidTransitionError);
    const aborted = transition(scheduled, { type: 'expire' }, scheduled.deadline ?? 0);
    expect(aborted).toMatchObject({ state: 'Aborted', reason: 'Timeout' });
    expect(transition(aborted, { type: 'expire' }, aborted.deadline ?? 0)).toMatchObject({ state: 'Failed', reason: 'Timeout' });
    expect(transition(transition(scheduled, { type: 'abort', reason: 'Cancellation' }, T0), { type: 'finalize' }, T0)).toMatchObject({ state: 'Failed', reason: 'Cancellation' });
  });

  it('never renews a lease beyond the attestation timeout plus one lease', () => {
    let item = run(fresh(1_000), [
      [{ type: 'assign', providerId: 'a' }, T0],
      [{ type: 'claim', claimId: 'c' }, T0],
      [{ type: 'start', claimId: 'c' }, T0],
    ]);
    for (let t = T0 + 1_000; t < T0 + 30_000 && (item.leaseUntil ?? 0) > t; t += 1_000) item = transition(item, { type: 'renew', claimId: 'c' }, t);
    expect(item.leaseUntil).toBeLessThanOrEqual(T0 + 1_000 + DEFAULT_WORK_TIMEOUTS.leaseMs);
  });

  it('lists only allowed reasons per state', () => {
    expect(Object.keys(STATE_REASONS).sort()).toEqual([...WORK_STATES].sort());
    expect(STATE_REASONS.Aborted).toEqual(['Cancellation', 'Timeout']);
    expect(STATE_REASONS.Done).toEqual(['Passed', 'Failed']);
  });

  describe('properties', () => {
    const claims = ['c1', 'c2'] as const;
    const event: fc.Arbitrary<WorkEvent> = fc.oneof(
      fc.constant<WorkEvent>({ type: 'assign', providerId: 'agent-a' }),
      fc.constantFrom(...claims).map<WorkEvent>((claimId) => ({ type: 'claim', claimId })),
      fc.constantFrom(...claims).map<WorkEvent>((claimId) => ({ type: 'start', claimId })),
      fc.constantFrom(...claims).map<WorkEvent>((claimId) => ({ type: 'renew', claimId })),
      fc.record({ claimId: fc.constantFrom(...claims), outcome: fc.constantFrom('Passed' as const, 'Failed' as const, 'Errored' as const) }).map<WorkEvent>((e) => ({ type: 'complete', ...e })),
      fc.constantFrom('Cancellation' as const, 'Timeout' as const).map<WorkEvent>((reason) => ({ type: 'abort', reason })),
      fc.constant<WorkEvent>({ type: 'finalize' }),
      fc.constant<WorkEvent>({ type: 'expire' }),
    );
    const steps = fc.array(fc.tuple(event, fc.integer({ min: 0, max: 120_000 })), { maxLength: 40 });

    it('random event sequences never reach an invalid item, and refusals are typed', () => {
      fc.assert(
        fc.property(steps, (seq) => {
          let item = fresh();
          let now = T0;
          for (const [e, dt] of seq) {
            now += dt;
            try {
              const next = transition(item, e, now);
              expect(isValidItem(next)).toBe(true);
              expect(next.revision).toBe(item.revision + 1);
              expect(EVENT_SOURCES[e.type]).toContain(item.state);
              item = next;
            } catch (error) {
              expect(error).toBeInstanceOf(InvalidTransitionError);
            }
          }
        }),
        { numRuns: 500 },
      );
    });

    it('terminal states are final: every event is refused', () => {
      fc.assert(
        fc.property(steps, event, (seq, last) => {
          let item = fresh();
          let now = T0;
          for (const [e, dt] of seq) {
            now += dt;
            try {
              item = transition(item, e, now);
            } catch {
              // refused: the item stays as it was
            }
          }
          if (!isTerminal(item.state)) return;
          expect(() => transition(item, last, now + 1)).toThrow(InvalidTransitionError);
        }),
        { numRuns: 500 },
      );
    });

    it('every non-terminal state has a deadline, and expire moves it on once that passed', () => {
      fc.assert(
        fc.property(steps, (seq) => {
          let item = fresh();
          let now = T0;
          for (const [e, dt] of seq) {
            now += dt;
            try {
              item = transition(item, e, now);
            } catch {
              // refused
            }
            if (isTerminal(item.state)) expect(item.deadline).toBeUndefined();
            else {
              expect(item.deadline).toBeTypeOf('number');
              const expired = transition(item, { type: 'expire' }, item.deadline ?? 0);
              expect(expired.state === 'Aborted' || expired.state === 'Failed').toBe(true);
            }
          }
        }),
        { numRuns: 300 },
      );
    });
  });
});
