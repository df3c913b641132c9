/**
 * Heartbeats in the Store (`AGENT#<provider>` / `STATUS`), conditioned on the version read. Agents
 * heartbeat through the API; the runner of an `aws-account` Provider calls `recordHeartbeat` with
 * `source: 'role-assumption'` after each successful AssumeRole, so that counts as a heartbeat.
 */
import { ConflictError } from '../errors.ts';
import { agentStatusKey } from '../keys.ts';
import type { Store } from '../ports/store.ts';
import { afterHeartbeat, type Heartbeat, type ProviderStatusRecord } from './status.ts';

export async function recordHeartbeat(store: Store, provider: string, hb: Heartbeat, heartbeatTimeoutMs: number, now: number): Promise<ProviderStatusRecord> {
  const k = agentStatusKey(provider);
  for (let tries = 0; ; tries++) {
    const current = await store.get<ProviderStatusRecord>(k.pk, k.sk);
    const next = afterHeartbeat(current?.data, provider, hb, heartbeatTimeoutMs, now);
    try {
      await store.transact([{ type: 'put', pk: k.pk, sk: k.sk, data: next, ifVersion: current ? current.version : 'absent' }]);
      return next;
    } catch (error) {
      if (!(error instanceof ConflictError) || tries >= 3) throw error;
    }
  }
}

export async function readStatusRecord(store: Store, provider: string): Promise<ProviderStatusRecord | undefined> {
  const k = agentStatusKey(provider);
  return (await store.get<ProviderStatusRecord>(k.pk, k.sk))?.data;
}
