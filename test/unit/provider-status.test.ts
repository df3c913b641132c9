import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/adapters/local/embedded-store.ts';
import { agentKeyKey } from '../../src/core/keys.ts';
import { issueApiKey, revokeApiKey, UnauthorizedAgentError, verifyApiKey, type ApiKeyRecord } from '../../src/core/providers-registry/credentials.ts';
import { afterHeartbeat, statusAt } from '../../src/core/providers-registry/status.ts';
import { acceptedVersions, checkAgentVersion, UnsupportedAgentVersionError } from '../../src/core/providers-registry/version-policy.ts';

const T0 = Date.UTC(2026, 0, 1);
const TIMEOUT = 60_000;

describe('provider status', () => {
  it('is Unknown(NoHeartbeat) before the first heartbeat', () => {
    expect(statusAt(undefined, TIMEOUT, T0, T0 - 5)).toEqual({ status: 'Unknown', reason: 'NoHeartbeat', message: 'no heartbeat received yet', lastTransitionTime: T0 - 5 });
  });

  it('is Healthy after a heartbeat and Unhealthy when the agent reports a problem, with the transition time of the change', () => {
    const healthy = afterHeartbeat(undefined, 'a', { source: 'agent', healthy: true }, TIMEOUT, T0);
    const again = afterHeartbeat(healthy, 'a', { source: 'agent', healthy: true }, TIMEOUT, T0 + 10_000);
    const sick = afterHeartbeat(again, 'a', { source: 'agent', healthy: false, reason: 'DiskFull', message: '/var is full' }, TIMEOUT, T0 + 20_000);
    expect(statusAt(again, TIMEOUT, T0 + 11_000)).toMatchObject({ status: 'Healthy', reason: 'HeartbeatReceived', lastTransitionTime: T0 });
    expect(statusAt(sick, TIMEOUT, T0 + 21_000)).toMatchObject({ status: 'Unhealthy', reason: 'DiskFull', message: '/var is full', lastTransitionTime: T0 + 20_000 });
  });

  it('turns Unknown(HeartbeatTimeout) once no heartbeat came within the timeout, transitioning at the timeout', () => {
    const healthy = afterHeartbeat(undefined, 'a', { source: 'agent', healthy: true }, TIMEOUT, T0);
    expect(statusAt(healthy, TIMEOUT, T0 + TIMEOUT - 1).status).toBe('Healthy');
    expect(statusAt(healthy, TIMEOUT, T0 + TIMEOUT + 5_000)).toMatchObject({ status: 'Unknown', reason: 'HeartbeatTimeout', lastTransitionTime: T0 + TIMEOUT });
    const back = afterHeartbeat(healthy, 'a', { source: 'agent', healthy: true }, TIMEOUT, T0 + 2 * TIMEOUT);
    expect(back).toMatchObject({ status: 'Healthy', lastTransitionTime: T0 + 2 * TIMEOUT });
  });

  it('counts a successful role assumption as a heartbeat', () => {
    expect(afterHeartbeat(undefined, 'acct', { source: 'role-assumption', healthy: true }, TIMEOUT, T0)).toMatchObject({ status: 'Healthy', reason: 'RoleAssumed', source: 'role-assumption' });
  });
});

describe('version policy N-1', () => {
  it('accepts the current and the previous minor version and names them when refusing', () => {
    expect(() => checkAgentVersion('1.4.0', '1.4.2')).not.toThrow();
    expect(() => checkAgentVersion('1.3.9', '1.4.2')).not.toThrow();
    expect(acceptedVersions('1.4.2')).toEqual(['1.4.x', '1.3.x']);
    for (const old of ['1.2.0', '0.4.0', '2.4.0', '1.5.0', 'garbage']) {
      expect(() => checkAgentVersion(old, '1.4.2'), old).toThrow(UnsupportedAgentVersionError);
    }
    expect(() => checkAgentVersion('1.2.0', '1.4.2')).toThrow('accepted: 1.4.x, 1.3.x');
  });
});

describe('provider API keys', () => {
  it('stores only a salted hash, verifies the key, and refuses a wrong, foreign or revoked one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'argus-keys-'));
    const store = await EmbeddedStore.open({ dir, fsync: false });
    try {
      const { keyId, key } = await issueApiKey(store, 'agent-a', T0);
      const stored = await store.get<ApiKeyRecord>(agentKeyKey('agent-a', keyId).pk, agentKeyKey('agent-a', keyId).sk);
      // The secret is base64url, so it may hold '_' itself: cut by the known prefix, not by split('_').
      expect(JSON.stringify(stored)).not.toContain(key.slice(`argus_${keyId}_`.length));
      expect(await verifyApiKey(store, 'agent-a', `Bearer ${key}`)).toBe(keyId);
      await expect(verifyApiKey(store, 'agent-b', `Bearer ${key}`)).rejects.toBeInstanceOf(UnauthorizedAgentError);
      await expect(verifyApiKey(store, 'agent-a', `Bearer ${key.slice(0, -1)}x`)).rejects.toBeInstanceOf(UnauthorizedAgentError);
      await expect(verifyApiKey(store, 'agent-a', undefined)).rejects.toBeInstanceOf(UnauthorizedAgentError);
      const rotated = await issueApiKey(store, 'agent-a', T0 + 1);
      expect(await revokeApiKey(store, 'agent-a', keyId, T0 + 2)).toBe(true);
      await expect(verifyApiKey(store, 'agent-a', `Bearer ${key}`)).rejects.toBeInstanceOf(UnauthorizedAgentError);
      expect(await verifyApiKey(store, 'agent-a', `Bearer ${rotated.key}`)).toBe(rotated.keyId);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
