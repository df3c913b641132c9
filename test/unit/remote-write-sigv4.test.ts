import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sigV4Auth } from '../../src/adapters/aws/remote-write-sigv4.ts';
import { REMOTE_WRITE_HEADERS } from '../../src/core/remote-write/client.ts';

const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const DATE = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
const URL_ = new URL('https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-0123/api/v1/remote_write');
const BODY = new Uint8Array([1, 2, 3, 4, 5]);

const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/** SigV4 by the book (AWS General Reference), independent of @smithy/signature-v4. */
function expectedSignature(headers: Record<string, string>, signedHeaders: string[]): string {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v.trim()]));
  const canonicalRequest = ['POST', URL_.pathname, '', ...signedHeaders.map((h) => `${h}:${lower[h]}`), '', signedHeaders.join(';'), sha256(BODY)].join('\n');
  const scope = '20260102/eu-west-1/aps/aws4_request';
  const stringToSign = ['AWS4-HMAC-SHA256', '20260102T030405Z', scope, sha256(canonicalRequest)].join('\n');
  let key = hmac(`AWS4${CREDENTIALS.secretAccessKey}`, '20260102');
  for (const part of ['eu-west-1', 'aps', 'aws4_request']) key = hmac(key, part);
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

describe('SigV4 auth for Amazon Managed Service for Prometheus', () => {
  it('signs the remote-write request deterministically with fixed credentials and date', async () => {
    // Prepare
    const auth = sigV4Auth({ region: 'eu-west-1', credentials: CREDENTIALS, signingDate: () => DATE });
    const request = { method: 'POST' as const, url: URL_, headers: { ...REMOTE_WRITE_HEADERS }, body: BODY };

    // Act
    const added = await auth.headers(request);
    const again = await auth.headers(request);

    // Assess
    expect(again).toEqual(added);
    expect(added['x-amz-date']).toBe('20260102T030405Z');
    expect(added['x-amz-content-sha256']).toBe(sha256(BODY));
    const match = /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20260102\/eu-west-1\/aps\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(added.authorization ?? '');
    expect(match).not.toBeNull();
    const signed = (match as RegExpExecArray)[1]!.split(';');
    expect(signed).toEqual(expect.arrayContaining(['content-encoding', 'content-type', 'host', 'x-amz-date', 'x-prometheus-remote-write-version']));
    const all = { ...request.headers, ...added, host: URL_.host };
    expect((match as RegExpExecArray)[2]).toBe(expectedSignature(all, signed));
  });

  it('includes the session token of temporary credentials', async () => {
    const auth = sigV4Auth({ region: 'eu-west-1', credentials: { ...CREDENTIALS, sessionToken: 'TOKEN' }, signingDate: () => DATE });
    const added = await auth.headers({ method: 'POST', url: URL_, headers: { ...REMOTE_WRITE_HEADERS }, body: BODY });
    expect(added['x-amz-security-token']).toBe('TOKEN');
    expect(added.authorization).toMatch(/SignedHeaders=[^,]*x-amz-security-token/);
  });
});
