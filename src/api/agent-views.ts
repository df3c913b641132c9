import type { WorkItem } from '../core/work/machine.ts';

/** A work item as the API shows it (times as ISO strings). */
export function encodeWorkView(item: WorkItem): Record<string, unknown> {
  const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
  return {
    id: item.id,
    provider: item.provider,
    resource: item.resource,
    attestation: item.attestation,
    runId: item.runId,
    attempt: item.attempt,
    state: item.state,
    reason: item.reason,
    message: item.message,
    revision: item.revision,
    ...(item.providerId === undefined ? {} : { providerId: item.providerId }),
    ...(item.claimId === undefined ? {} : { claimId: item.claimId }),
    ...(item.leaseUntil === undefined ? {} : { leaseUntil: iso(item.leaseUntil) }),
    ...(item.deadline === undefined ? {} : { deadline: iso(item.deadline) }),
    lastTransitionTime: iso(item.lastTransitionTime),
    createdAt: iso(item.createdAt),
    timeoutMs: item.timeoutMs,
  };
}
