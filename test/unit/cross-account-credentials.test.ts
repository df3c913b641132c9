import { AssumeRoleCommand, RegionDisabledException, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { CrossAccountAccessError, CrossAccountCredentials, crossAccountProvider, type AccountCheck } from '../../src/adapters/aws/cross-account-credentials.ts';
import { API_VERSION, type Provider, type Resource } from '../../src/core/model.ts';
import { attestation, resource } from '../support/builders.ts';

const ROLE = 'arn:aws:iam::111122223333:role/argus/argus-provider';
const T0 = Date.UTC(2026, 0, 1);

const sts = mockClient(STSClient);

function stsCredentials(expiresAt: number) {
  return { Credentials: { AccessKeyId: 'ASIAEXAMPLE', SecretAccessKey: 'secret', SessionToken: 'token', Expiration: new Date(expiresAt) }, AssumedRoleUser: { Arn: `${ROLE}/argus-runner`, AssumedRoleId: 'AROAEXAMPLE:argus-runner' } };
}

/** How STS answers a role that does not trust the caller or a wrong ExternalId (HTTP 403, no modelled exception). */
function accessDenied(): Error {
  return Object.assign(new Error(`User: arn:aws:sts::999999999999:assumed-role/runner/x is not authorized to perform: sts:AssumeRole on resource: ${ROLE}`), {
    name: 'AccessDenied',
    $fault: 'client',
    $metadata: { httpStatusCode: 403, requestId: 'req-1' },
  });
}

function throttled(): Error {
  return Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $fault: 'client', $metadata: { httpStatusCode: 400 } });
}

function clockAt(start: number) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function providerDef(name: string, spec: Partial<Provider['spec']>): Provider {
  return { apiVersion: API_VERSION, kind: 'Provider', metadata: { name, labels: {} }, spec: { type: 'aws-account', ...spec } };
}

function resourceOf(provider: string): Resource {
  const r = resource('prod/Bucket', 'AWS::S3::Bucket');
  return { ...r, spec: { ...r.spec, provider } };
}

beforeEach(() => {
  sts.reset();
});

describe('CrossAccountCredentials', () => {
  it('assumes the role with the ExternalId, a session name and a one-hour session', async () => {
    sts.on(AssumeRoleCommand).resolves(stsCredentials(T0 + 3_600_000));
    const accounts = new CrossAccountCredentials({ sts: new STSClient({ region: 'eu-west-1' }), externalId: 'ext-123', clock: clockAt(T0) });

    const creds = await accounts.credentials(ROLE);

    expect(creds).toEqual({ accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret', sessionToken: 'token', expiration: new Date(T0 + 3_600_000) });
    expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input)).toEqual([{ RoleArn: ROLE, RoleSessionName: 'argus-runner', DurationSeconds: 3600, ExternalId: 'ext-123' }]);
  });

  it('serves the cached credentials until five minutes before they expire, then assumes again', async () => {
    sts.on(AssumeRoleCommand).resolvesOnce(stsCredentials(T0 + 3_600_000)).resolvesOnce(stsCredentials(T0 + 7_200_000));
    const clock = clockAt(T0);
    const accounts = new CrossAccountCredentials({ sts: new STSClient({ region: 'eu-west-1' }), externalId: 'ext', clock });

    await accounts.credentials(ROLE);
    clock.advance(3_600_000 - 300_001);
    const stillCached = await accounts.credentials(ROLE);
    clock.advance(2);
    const renewed = await accounts.credentials(ROLE);

    expect(stillCached.expiration).toEqual(new Date(T0 + 3_600_000));
    expect(renewed.expiration).toEqual(new Date(T0 + 7_200_000));
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(2);
  });

  it('shares one AssumeRole call between concurrent requests for the same role', async () => {
    sts.on(AssumeRoleCommand).resolves(stsCredentials(T0 + 3_600_000));
    const accounts = new CrossAccountCredentials({ sts: new STSClient({ region: 'eu-west-1' }), clock: clockAt(T0) });

    await Promise.all([accounts.credentials(ROLE), accounts.credentials(ROLE), accounts.provider(ROLE)()]);

    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(1);
  });

  it('turns AccessDenied into a CrossAccountAccessError that says what to check, and does not cache the failure', async () => {
    sts.on(AssumeRoleCommand).rejectsOnce(accessDenied()).resolvesOnce(stsCredentials(T0 + 3_600_000));
    const accounts = new CrossAccountCredentials({ sts: new STSClient({ region: 'eu-west-1' }), externalId: 'wrong', clock: clockAt(T0) });

    const error = await accounts.credentials(ROLE).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(CrossAccountAccessError);
    expect((error as CrossAccountAccessError).reason).toBe('AccessDenied');
    expect((error as CrossAccountAccessError).code).toBe('CROSS_ACCOUNT_ACCESS');
    expect((error as Error).message).toMatch(/^cannot assume arn:aws:iam::111122223333:role\/argus\/argus-provider: AccessDenied: .*ExternalId/);
    await expect(accounts.credentials(ROLE)).resolves.toMatchObject({ accessKeyId: 'ASIAEXAMPLE' });
  });

  it('classifies throttling, a disabled region and an answer without credentials', async () => {
    const accounts = new CrossAccountCredentials({ sts: new STSClient({ region: 'eu-west-1' }), clock: clockAt(T0) });
    sts
      .on(AssumeRoleCommand)
      .rejectsOnce(throttled())
      .rejectsOnce(new RegionDisabledException({ message: 'STS is not activated in this region', $metadata: { httpStatusCode: 403 } }))
      .resolvesOnce({});
    await expect(accounts.credentials(ROLE)).rejects.toMatchObject({ reason: 'Throttled' });
    await expect(accounts.credentials(ROLE)).rejects.toMatchObject({ reason: 'RegionDisabled' });
    await expect(accounts.credentials(ROLE)).rejects.toMatchObject({ reason: 'NoCredentials' });
  });
});

describe('crossAccountProvider', () => {
  const check: AccountCheck = {
    name: 'aws-config',
    validateParams: () => [],
    attest: async (_a, _r, access) => {
      const creds = await access.credentials();
      return { outcome: creds.accessKeyId === 'ASIAEXAMPLE' ? 'Passed' : 'Failed', message: `read with ${access.provider.metadata.name}` };
    },
  };
  const providers = new Map([
    ['prod', providerDef('prod', { accountId: '111122223333', roleArn: ROLE, externalId: 'ext-prod' })],
    ['laptop', providerDef('laptop', { type: 'local' })],
    ['norole', providerDef('norole', { accountId: '111122223333' })],
  ]);
  const make = () =>
    crossAccountProvider({
      check,
      credentials: new CrossAccountCredentials({ sts: new STSClient({ region: 'eu-west-1' }), clock: clockAt(T0) }),
      providerOf: (r) => (r.spec.provider ? providers.get(r.spec.provider) : undefined),
    });

  it('runs the check with the member account credentials, passing the Provider its ExternalId', async () => {
    sts.on(AssumeRoleCommand).resolves(stsCredentials(T0 + 3_600_000));

    const outcome = await make().attest(attestation('bucket-encrypted'), resourceOf('prod'));

    expect(outcome).toEqual({ outcome: 'Passed', message: 'read with prod' });
    expect(sts.commandCalls(AssumeRoleCommand)[0]?.args[0].input).toMatchObject({ RoleArn: ROLE, ExternalId: 'ext-prod' });
  });

  it('marks the result Errored, never Failed, with the reason, when the role cannot be assumed', async () => {
    sts.on(AssumeRoleCommand).rejects(accessDenied());

    const outcome = await make().attest(attestation('bucket-encrypted'), resourceOf('prod'));

    expect(outcome.outcome).toBe('Errored');
    expect(outcome.message).toContain(`cannot assume ${ROLE}: AccessDenied`);
    expect(outcome.output).toEqual({ roleArn: ROLE, reason: 'AccessDenied' });
  });

  it('marks the result Errored when the resource has no aws-account Provider with a role', async () => {
    const p = make();
    expect(await p.attest(attestation('a'), resource('x', 'AWS::S3::Bucket'))).toMatchObject({ outcome: 'Errored', message: expect.stringContaining('names no Provider') });
    expect(await p.attest(attestation('a'), resourceOf('laptop'))).toMatchObject({ outcome: 'Errored', message: expect.stringContaining('not aws-account') });
    expect(await p.attest(attestation('a'), resourceOf('norole'))).toMatchObject({ outcome: 'Errored', message: expect.stringContaining('no spec.roleArn') });
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(0);
  });
});
