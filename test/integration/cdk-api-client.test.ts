/**
 * The CLI's client for the API the CDK app deploys (src/cli/remote-client.ts): SigV4-signed
 * (execute-api) for a deployed URL, unsigned for the local runtime on loopback; and, against a
 * real local API server, the same apply / get / report a user runs with `--api`.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopback, readManifestDocuments, regionOfApiUrl, RemoteApiError, RemoteClient } from '../../src/cli/remote-client.ts';
import { startTestApi, type TestApi } from './api-support.ts';

const CREDS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'session' };
const DATE = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
const API = 'https://abc123.execute-api.eu-west-1.amazonaws.com';

function recordingFetch(answer: { status: number; body: unknown }) {
  const calls: Array<{ url: string; method: string; headers: Record<string, string>; body?: string }> = [];
  const fn: typeof fetch = async (input, init) => {
    calls.push({ url: String(input), method: String(init?.method), headers: { ...(init?.headers as Record<string, string>) }, ...(typeof init?.body === 'string' ? { body: init.body } : {}) });
    return new Response(JSON.stringify(answer.body), { status: answer.status, headers: { 'content-type': 'application/json' } });
  };
  return { fn, calls };
}

describe('RemoteClient', () => {
  it('tells loopback URLs and API Gateway regions apart', () => {
    expect(['http://127.0.0.1:8080', 'http://localhost:1', 'http://[::1]:9'].map((u) => isLoopback(new URL(u)))).toEqual([true, true, true]);
    expect(isLoopback(new URL(API))).toBe(false);
    expect(regionOfApiUrl(new URL(API))).toBe('eu-west-1');
  });

  it('signs requests to a deployed API with SigV4 for execute-api in the URL\'s region', async () => {
    const { fn, calls } = recordingFetch({ status: 200, body: { items: [] } });
    const client = new RemoteClient(API, { credentials: CREDS, fetch: fn, signingDate: () => DATE });

    await client.list('Requirement');

    const [call] = calls;
    expect(call?.url).toBe(`${API}/requirements?limit=1000`);
    expect(call?.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20260102\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=accept;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/);
    // The same request signed independently gives the same signature.
    const expected = await new SignatureV4({ service: 'execute-api', region: 'eu-west-1', credentials: CREDS, sha256: Sha256 }).sign(
      { method: 'GET', protocol: 'https:', hostname: 'abc123.execute-api.eu-west-1.amazonaws.com', path: '/requirements', query: { limit: '1000' }, headers: { accept: 'application/json', host: 'abc123.execute-api.eu-west-1.amazonaws.com' } },
      { signingDate: DATE },
    );
    expect(call?.headers.authorization).toBe(expected.headers.authorization);
    expect(call?.headers['x-amz-security-token']).toBe('session');
  });

  it('sends no signature to the local runtime, and the bearer token when given', async () => {
    const { fn, calls } = recordingFetch({ status: 200, body: { items: [] } });
    await new RemoteClient('http://127.0.0.1:8080', { fetch: fn, token: 't0ken' }).list('Waiver');
    expect(calls[0]?.headers.authorization).toBe('Bearer t0ken');
    expect(calls[0]?.headers['x-amz-date']).toBeUndefined();
  });

  it('turns an error status into a RemoteApiError with the API\'s message', async () => {
    const { fn } = recordingFetch({ status: 403, body: { message: 'Forbidden' } });
    const error = await new RemoteClient(API, { credentials: CREDS, fetch: fn }).list('Requirement').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteApiError);
    expect((error as RemoteApiError).status).toBe(403);
    expect((error as Error).message).toBe('GET /requirements: 403 Forbidden');
  });
});

describe('RemoteClient against the local API', () => {
  let api: TestApi;

  beforeAll(async () => {
    api = await startTestApi({ token: 'local-token' });
  });
  afterAll(async () => {
    await api.close();
  });

  it('applies the quickstart catalog, lists it back and reports, as `--api` does', async () => {
    const client = new RemoteClient(api.url, { token: 'local-token' });
    const manifests = await readManifestDocuments([new URL('../../examples/quickstart/catalog.yaml', import.meta.url).pathname]);

    const preview = await client.apply(manifests, { dryRun: true });
    const outcome = await client.apply(manifests);
    const requirements = (await client.list('Requirement')) as Array<{ metadata: { name: string } }>;
    const report = await client.report();

    // The dry run predicted the apply, and wrote nothing (the apply then created everything).
    expect(preview.created.length).toBe(manifests.length);
    expect('preview' in preview && preview.preview.due).toEqual({ now: 0, after: 0 });
    expect(outcome.created.length).toBe(manifests.length);
    expect('preview' in outcome).toBe(false);
    expect(requirements.map((r) => r.metadata.name).sort()).toEqual(
      (manifests as Array<{ kind: string; metadata: { name: string } }>).filter((m) => m.kind === 'Requirement').map((m) => m.metadata.name).sort(),
    );
    expect(report.requirements.map((r) => r.requirement).sort()).toEqual(requirements.map((r) => r.metadata.name).sort());
    expect(report.totals.pairs).toBe(report.findings.length);
  });

  it('is refused by the local API without its token', async () => {
    await expect(new RemoteClient(api.url, { token: 'wrong' }).list('Requirement')).rejects.toMatchObject({ status: 401 });
  });
});
