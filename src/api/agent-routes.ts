/**
 * Routes of agent providers (docs/agents.md). `agents`: called by agents, authenticated with the
 * provider's own key (`Authorization: Bearer <provider key>`), never with the admin token.
 * `agentAdmin`: keys, status, work and cancellation for administrators (the admin token).
 */
import type { Route } from './routes.ts';

export const AGENT_OPS = [
  'agentRegister',
  'agentHeartbeat',
  'agentReportResources',
  'agentClaim',
  'agentStart',
  'agentRenewLease',
  'agentPollWork',
  'agentReportResult',
  'providerIssueKey',
  'providerListKeys',
  'providerRevokeKey',
  'providerStatus',
  'providerWork',
  'providerForget',
  'cancelRun',
] as const;
export type AgentOp = (typeof AGENT_OPS)[number];

const AGENT_OP_SET: ReadonlySet<string> = new Set(AGENT_OPS);

export function isAgentOp(operation: { readonly op: string }): operation is { readonly op: AgentOp } {
  return AGENT_OP_SET.has(operation.op);
}

const A = '/agents/{provider}';

export const AGENT_ROUTES: readonly Route[] = [
  { method: 'POST', path: `${A}/register`, family: 'agents', operation: { op: 'agentRegister' }, summary: 'An agent announces itself and its runtime version (N-1 policy)' },
  { method: 'POST', path: `${A}/heartbeat`, family: 'agents', operation: { op: 'agentHeartbeat' }, summary: 'Heartbeat with the agent\'s own health (Healthy/Unhealthy)' },
  { method: 'PUT', path: `${A}/resources`, family: 'agents', operation: { op: 'agentReportResources' }, summary: 'The resources the agent observes (its whole inventory)' },
  { method: 'POST', path: `${A}/work/claim`, family: 'agents', operation: { op: 'agentClaim' }, summary: 'Claim a batch of Scheduled work items (→ ReadyToScan)' },
  { method: 'POST', path: `${A}/work/{id}/start`, family: 'agents', operation: { op: 'agentStart' }, summary: 'Start a claimed item (→ InProgress with a lease)' },
  { method: 'POST', path: `${A}/work/{id}/lease`, family: 'agents', operation: { op: 'agentRenewLease' }, summary: 'Keep the lease of an InProgress item alive' },
  { method: 'GET', path: `${A}/work/{id}`, family: 'agents', operation: { op: 'agentPollWork' }, summary: 'Read a work item (polling for cancellation)' },
  { method: 'POST', path: `${A}/work/{id}/result`, family: 'agents', operation: { op: 'agentReportResult' }, summary: 'Report the result of an InProgress item (refused once the lease is lost)' },
  { method: 'POST', path: '/providers/{name}/keys', family: 'agentAdmin', operation: { op: 'providerIssueKey' }, summary: 'Issue an API key for an agent Provider (shown once)' },
  { method: 'GET', path: '/providers/{name}/keys', family: 'agentAdmin', operation: { op: 'providerListKeys' }, summary: 'Key ids of a Provider, with creation and revocation times' },
  { method: 'DELETE', path: '/providers/{name}/keys/{keyId}', family: 'agentAdmin', operation: { op: 'providerRevokeKey' }, summary: 'Revoke a key at once' },
  { method: 'GET', path: '/providers/{name}/status', family: 'agentAdmin', operation: { op: 'providerStatus' }, summary: 'Healthy / Unhealthy / Unknown with reason, message and last transition time' },
  { method: 'GET', path: '/providers/{name}/work', family: 'agentAdmin', operation: { op: 'providerWork' }, summary: 'Work items of a Provider (?state=)' },
  { method: 'DELETE', path: '/providers/{name}/observations', family: 'agentAdmin', operation: { op: 'providerForget' }, summary: 'Remove a Provider from every resource\'s observer list (before deleting it)' },
  { method: 'POST', path: '/work/runs/{runId}/cancel', family: 'agentAdmin', operation: { op: 'cancelRun' }, summary: 'Cancel a run: its unfinished work items are Aborted(Cancellation)' },
];
