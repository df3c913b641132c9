import { recordHeartbeat } from '../../core/providers-registry/heartbeats.ts';
import type { Provider } from '../../core/model.ts';
import type { Clock } from '../../core/ports/clock.ts';
import type { Store } from '../../core/ports/store.ts';
import type { AssumeEvent } from './cross-account-credentials.ts';

/**
 * Role assumptions are renewed about hourly (credentials are cached until shortly before they
 * expire), so an aws-account Provider's heartbeat timeout defaults to two hours, not an agent's 5 min.
 */
export const ROLE_HEARTBEAT_TIMEOUT_MS = 2 * 60 * 60_000;

export interface RoleAssumptionHeartbeatDeps {
  readonly store: Store;
  readonly clock: Clock;
  /** The Provider definitions now (aws-account ones are matched by spec.roleArn). */
  readonly providers: () => Iterable<Provider>;
}

/**
 * The `onAssume` hook of CrossAccountCredentials that turns AssumeRole calls into Provider
 * heartbeats: a successful assumption is a healthy heartbeat of every aws-account Provider with
 * that role; a refused one an unhealthy heartbeat with the reason (AccessDenied, ...).
 */
export function roleAssumptionHeartbeats(deps: RoleAssumptionHeartbeatDeps): (event: AssumeEvent) => Promise<void> {
  return async (event) => {
    for (const provider of deps.providers()) {
      if (provider.spec.type !== 'aws-account' || provider.spec.roleArn !== event.roleArn) continue;
      const heartbeat = event.ok
        ? { source: 'role-assumption' as const, healthy: true }
        : { source: 'role-assumption' as const, healthy: false, reason: event.reason, message: event.message };
      await recordHeartbeat(deps.store, provider.metadata.name, heartbeat, provider.spec.heartbeatTimeoutMs ?? ROLE_HEARTBEAT_TIMEOUT_MS, deps.clock.now());
    }
  };
}
