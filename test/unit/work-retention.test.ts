import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FINISHED_RETENTION_MS, DEFAULT_WORK_TIMEOUTS, isTerminal, isValidItem, newWorkItem, OPEN_STATES, transition, type WorkEvent, type WorkItem } from '../../src/core/work/machine.ts';
import { finishedTtl, isExpired, withRetention } from '../../src/core/work/retention.ts';

const T0 = Date.UTC(2026, 0, 1);
const context = { attestationDigest: 'sha256:a', resourceDigest: 'sha256:r', requirementVersions: {} };

function fresh(): WorkItem {
  return newWorkItem({ id: 'w1.1', provider: 'agent-a', resource: 'host/a', attestation: 'perms', runId: 'run-1', attempt: 1, context, timeoutMs: 10_000 }, T0);
}

function done(at: number): WorkItem {
  const running = [
    [{ type: 'assign', providerId: 'agent-a' }, T0],
    [{ type: 'claim', claimId: 'c' }, T0],
    [{ type: 'start', claimId: 'c' }, T0],
  ] as const satisfies ReadonlyArray<readonly [WorkEvent, number]>;
  const item = running.reduce<WorkItem>((it, [e, t]) => transition(it, e, t), fresh());
  return transition(item, { type: 'complete', claimId: 'c', outcome: 'Passed' }, at);
}

describe('finished work item retention', () => {
  it('keeps a finished item for seven days by default', () => {
    expect(DEFAULT_WORK_TIMEOUTS.finishedRetentionMs).toBe(DEFAULT_FINISHED_RETENTION_MS);
    expect(DEFAULT_FINISHED_RETENTION_MS).toBe(7 * 24 * 3_600_000);
    expect(finishedTtl(done(T0 + 1_000), T0 + 1_000, DEFAULT_FINISHED_RETENTION_MS)).toBe((T0 + 1_000 + DEFAULT_FINISHED_RETENTION_MS) / 1000);
  });

  it('rounds the ttl up to the next whole second, so the item is never gone early', () => {
    expect(finishedTtl(done(T0 + 1_001), T0 + 1_001, 60_000)).toBe((T0 + 62_000) / 1000);
  });

  it('gives an open item no ttl, and removes a stray one', () => {
    const open = fresh();
    expect(finishedTtl(open, T0, 60_000)).toBeUndefined();
    expect(withRetention(open, T0, 60_000)).toBe(open);
    expect(withRetention({ ...open, ttl: 1 }, T0, 60_000)).toEqual(open);
  });

  it('keeps finished items forever with an infinite retention', () => {
    expect(withRetention(done(T0), T0, Number.POSITIVE_INFINITY).ttl).toBeUndefined();
  });

  it('expires an item once the clock reaches its ttl, not before', () => {
    const item = withRetention(done(T0), T0, 60_000);
    expect(isExpired(item, T0 + 59_999)).toBe(false);
    expect(isExpired(item, T0 + 60_000)).toBe(true);
    expect(isExpired(fresh(), Number.MAX_SAFE_INTEGER)).toBe(false);
  });

  describe('properties', () => {
    const event: fc.Arbitrary<WorkEvent> = fc.oneof(
      fc.constant<WorkEvent>({ type: 'assign', providerId: 'agent-a' }),
      fc.constant<WorkEvent>({ type: 'claim', claimId: 'c' }),
      fc.constant<WorkEvent>({ type: 'start', claimId: 'c' }),
      fc.constant<WorkEvent>({ type: 'renew', claimId: 'c' }),
      fc.constantFrom('Passed' as const, 'Failed' as const, 'Errored' as const).map<WorkEvent>((outcome) => ({ type: 'complete', claimId: 'c', outcome })),
      fc.constantFrom('Cancellation' as const, 'Timeout' as const).map<WorkEvent>((reason) => ({ type: 'abort', reason })),
      fc.constant<WorkEvent>({ type: 'finalize' }),
      fc.constant<WorkEvent>({ type: 'expire' }),
    );
    const steps = fc.array(fc.tuple(event, fc.integer({ min: 0, max: 120_000 })), { maxLength: 30 });
    const retention = fc.integer({ min: 1, max: 400 * 24 * 3_600_000 });

    it('sets a ttl iff the transition made the item terminal, at least the finish time plus the retention, never on open states', () => {
      fc.assert(
        fc.property(steps, retention, (seq, retentionMs) => {
          // As WorkStore.apply does: every transition's result goes through withRetention.
          let item = fresh();
          let now = T0;
          for (const [e, dt] of seq) {
            now += dt;
            try {
              item = withRetention(transition(item, e, now), now, retentionMs);
            } catch {
              continue;
            }
            expect(isValidItem(item)).toBe(true);
            expect(item.ttl !== undefined).toBe(isTerminal(item.state));
            if (item.ttl === undefined) {
              expect(OPEN_STATES).toContain(item.state);
              continue;
            }
            expect(Number.isSafeInteger(item.ttl) && item.ttl > 0).toBe(true);
            expect(item.ttl * 1000).toBeGreaterThanOrEqual(item.lastTransitionTime + retentionMs);
            expect(item.ttl * 1000).toBeLessThan(item.lastTransitionTime + retentionMs + 1000);
            expect(isExpired(item, now)).toBe(false);
          }
        }),
        { numRuns: 500 },
      );
    });

    it('never gives an open state a ttl, whatever the clock and retention', () => {
      fc.assert(
        fc.property(fc.constantFrom(...OPEN_STATES), fc.integer({ min: 0, max: 2 ** 45 }), retention, (state, now, retentionMs) => {
          expect(finishedTtl({ state, lastTransitionTime: T0 }, now, retentionMs)).toBeUndefined();
        }),
      );
    });
  });
});
