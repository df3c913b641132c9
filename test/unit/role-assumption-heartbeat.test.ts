import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CrossAccountCredentials } from '../../src/adapters/aws/cross-account-credentials.ts';
import { roleAssumptionHeartbeats } from '../../src/adapters/aws/role-assumption-heartbeat.ts';
import { EmbeddedStore } from '../../src/adapters/local/embedded-store.ts';
import { agentStatusKey } from '../../src/core/keys.ts';
import { API_VERSION, type Provider } from '../../src/core/model.ts';
import type { ProviderStatusRecord } from '../../src/core/providers-registry/status.ts';

const ROLE = 'arn:aws:iam::111122223333:role/argus/argus-provider';
const T0 = Date.UTC(2026, 0, 1);
const sts = mockClient(STSClient);
const stsCredentials = (expiresAt: number) => ({
  Credentials: { AccessKeyId: 'ASIAEXAMPLE', SecretAccessKey: 'secret', SessionToken: 'token', Expiration: new Date(expiresAt) },
  AssumedRoleUser: { Arn: `${ROLE}/argus-runner`, AssumedRoleId: 'AROAEXAMPLE:argus-runner' },
});
const accessDenied = () =>
  Object.assign(new Error(`not authorized to perform: sts:AssumeRole on resource: ${ROLE}`), { name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 } });
const prod: Provider = { apiVersion: API_VERSION, kind: 'Provider', metadata: { name: 'prod', labels: {} }, spec: { type: 'aws-account', accountId: '111122223333', roleArn: ROLE, externalId: 'ext-1' } };

let dir: string;
let store: EmbeddedStore;
let now = T0;
const clock = { now: () => now };

beforeEach(async () => {
  sts.reset();
  now = T0;
  dir = mkdtempSync(join(tmpdir(), 'argus-role-hb-'));
  store = await EmbeddedStore.open({ dir, fsync: false });
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function statusOf(provider: string): Promise<ProviderStatusRecord | undefined> {
  const k = agentStatusKey(provider);
  return (await store.get<ProviderStatusRecord>(k.pk, k.sk))?.data;
}

function credentials(): CrossAccountCredentials {
  return new CrossAccountCredentials({ sts: new STSClient({ region: 'us-east-1' }), clock, onAssume: roleAssumptionHeartbeats({ store, clock, providers: () => [prod] }) });
}

describe('role assumption as heartbeat', () => {
  it('records a healthy heartbeat of the aws-account Provider when its role is assumed', async () => {
    sts.on(AssumeRoleCommand).resolves(stsCredentials(T0 + 3_600_000));

    await credentials().credentials(ROLE, 'ext-1');

    expect(await statusOf('prod')).toMatchObject({ status: 'Healthy', source: 'role-assumption', lastHeartbeatAt: T0 });
  });

  it('records nothing more while cached credentials are reused', async () => {
    sts.on(AssumeRoleCommand).resolves(stsCredentials(T0 + 3_600_000));
    const accounts = credentials();
    await accounts.credentials(ROLE, 'ext-1');
    now = T0 + 60_000;

    await accounts.credentials(ROLE, 'ext-1');

    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(1);
    expect((await statusOf('prod'))?.lastHeartbeatAt).toBe(T0);
  });

  it('marks the Provider Unhealthy with the reason when the role is refused', async () => {
    sts.on(AssumeRoleCommand).rejects(accessDenied());

    await expect(credentials().credentials(ROLE, 'ext-1')).rejects.toThrow(/AccessDenied|not authorized/);

    expect(await statusOf('prod')).toMatchObject({ status: 'Unhealthy', reason: 'AccessDenied' });
  });
});
