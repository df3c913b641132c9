/**
 * Provider status from heartbeats: Healthy (a heartbeat within the timeout, no problem reported),
 * Unhealthy (a heartbeat within the timeout, the agent reports a problem), Unknown (no heartbeat
 * within the timeout, or never). Pure: the stored record plus the time give the status.
 */
export type ProviderHealth = 'Healthy' | 'Unhealthy' | 'Unknown';

/** What the control plane keeps per Provider (`AGENT#<provider>` / `STATUS`). */
export interface ProviderStatusRecord {
  readonly provider: string;
  readonly lastHeartbeatAt?: number;
  /** Where the last heartbeat came from: an agent, or a successful role assumption (aws-account). */
  readonly source?: 'agent' | 'role-assumption';
  readonly agentId?: string;
  readonly agentVersion?: string;
  readonly hostname?: string;
  /** The agent's own report with its last heartbeat. */
  readonly reported?: { readonly healthy: boolean; readonly reason: string; readonly message: string };
  /** The status as of the last write, and when it last changed. */
  readonly status: ProviderHealth;
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: number;
}

export interface ProviderStatusView {
  readonly status: ProviderHealth;
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: number;
  readonly lastHeartbeatAt?: number;
}

export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 5 * 60_000;

/** The status at `now` of a record last written earlier (Unknown once the heartbeat timeout passed). */
export function statusAt(record: ProviderStatusRecord | undefined, heartbeatTimeoutMs: number, now: number, registeredAt = 0): ProviderStatusView {
  if (!record || record.lastHeartbeatAt === undefined) {
    return { status: 'Unknown', reason: 'NoHeartbeat', message: 'no heartbeat received yet', lastTransitionTime: record?.lastTransitionTime ?? registeredAt };
  }
  const silentSince = record.lastHeartbeatAt + heartbeatTimeoutMs;
  if (now >= silentSince) {
    return {
      status: 'Unknown',
      reason: 'HeartbeatTimeout',
      message: `no heartbeat for ${Math.round((now - record.lastHeartbeatAt) / 1000)} s (timeout ${Math.round(heartbeatTimeoutMs / 1000)} s)`,
      lastTransitionTime: record.status === 'Unknown' ? record.lastTransitionTime : silentSince,
      lastHeartbeatAt: record.lastHeartbeatAt,
    };
  }
  return { status: record.status, reason: record.reason, message: record.message, lastTransitionTime: record.lastTransitionTime, lastHeartbeatAt: record.lastHeartbeatAt };
}

export interface Heartbeat {
  readonly source: 'agent' | 'role-assumption';
  readonly healthy: boolean;
  readonly reason?: string;
  readonly message?: string;
  readonly agentId?: string;
  readonly agentVersion?: string;
  readonly hostname?: string;
}

/** The record after a heartbeat at `now`; lastTransitionTime moves only when the status changes. */
export function afterHeartbeat(previous: ProviderStatusRecord | undefined, provider: string, hb: Heartbeat, heartbeatTimeoutMs: number, now: number): ProviderStatusRecord {
  const before = statusAt(previous, heartbeatTimeoutMs, now);
  const status: ProviderHealth = hb.healthy ? 'Healthy' : 'Unhealthy';
  const reason = hb.healthy ? (hb.source === 'role-assumption' ? 'RoleAssumed' : 'HeartbeatReceived') : (hb.reason ?? 'AgentReportedProblem');
  const message = hb.message ?? (hb.healthy ? '' : 'the agent reported a problem');
  return {
    provider,
    lastHeartbeatAt: now,
    source: hb.source,
    ...(hb.agentId === undefined ? {} : { agentId: hb.agentId }),
    ...(hb.agentVersion === undefined ? {} : { agentVersion: hb.agentVersion }),
    ...(hb.hostname === undefined ? {} : { hostname: hb.hostname }),
    reported: { healthy: hb.healthy, reason, message },
    status,
    reason,
    message,
    lastTransitionTime: before.status === status && before.reason === reason ? before.lastTransitionTime : now,
  };
}
