import { describe, expect, it } from 'vitest';
import { workItemKey } from '../../src/core/keys.ts';
import { indexAttributes } from '../../src/core/table-design.ts';
import { newWorkItem, transition, type WorkItem } from '../../src/core/work/machine.ts';
import { withRetention } from '../../src/core/work/retention.ts';

const T0 = Date.UTC(2026, 0, 1);
const context = { attestationDigest: 'sha256:a', resourceDigest: 'sha256:r', requirementVersions: {} };

describe('indexAttributes', () => {
  const k = workItemKey('agent-a', 'w.1');
  const open: WorkItem = newWorkItem({ id: 'w.1', provider: 'agent-a', resource: 'host/a', attestation: 'perms', runId: 'run-1', attempt: 1, context, timeoutMs: 5_000 }, T0);

  it('gives a finished work item the table TTL attribute from its ttl (epoch seconds)', () => {
    const cancelled = withRetention(transition(transition(open, { type: 'abort', reason: 'Cancellation' }, T0 + 1), { type: 'finalize' }, T0 + 2), T0 + 2, 60_000);

    expect(cancelled.state).toBe('Failed');
    expect(indexAttributes(k.pk, k.sk, cancelled)).toEqual({ ttl: Math.ceil((T0 + 2 + 60_000) / 1000) });
  });

  it('gives an open work item no TTL attribute (and no index keys)', () => {
    expect(indexAttributes(k.pk, k.sk, withRetention(open, T0, 60_000))).toEqual({});
  });
});
