import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SecureVersion } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpProvider } from '../../src/providers/http-provider.ts';
import { attestation, resource } from '../support/builders.ts';

const run = promisify(execFile);
const opensslPath = await run('sh', ['-c', 'command -v openssl']).then((r) => r.stdout.trim()).catch(() => '');

/** A self-signed certificate for 127.0.0.1, valid for `days` days, made with the openssl CLI. */
async function selfSigned(dir: string, days: number): Promise<{ key: string; cert: string }> {
  const key = join(dir, `key-${days}.pem`);
  const cert = join(dir, `cert-${days}.pem`);
  await run(opensslPath, [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', String(days),
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return { key: await readFile(key, 'utf8'), cert: await readFile(cert, 'utf8') };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

const handler = (req: { url?: string }, res: { writeHead: (s: number, h: Record<string, string>) => void; end: (b: string) => void }) => {
  if (req.url === '/missing') {
    res.writeHead(404, {});
    res.end('no');
    return;
  }
  res.writeHead(200, { 'strict-transport-security': 'max-age=31536000', 'content-type': 'text/plain' });
  res.end('ok');
};

function check(params: Record<string, unknown>) {
  return attestation('probe', { provider: 'http', params, timeoutMs: 10_000 });
}
const target = resource('endpoint', 'Custom::Endpoint');

describe('HttpProvider params', () => {
  const provider = new HttpProvider();
  it('accepts a complete https check', () => {
    expect(provider.validateParams({ url: 'https://example.com/', expectStatus: [200], requiredHeaders: { 'strict-transport-security': 'max-age=\\d+' }, minTlsVersion: 'TLSv1.2', minCertificateDays: 14 })).toEqual([]);
  });
  it('reports every bad param with its path', () => {
    const problems = provider.validateParams({ url: 'ftp://x', expectStatus: [700], requiredHeaders: ['bad header'], minTlsVersion: 'SSLv3', minCertificateDays: -1, extra: 1 });
    expect(problems.map(([p]) => p).sort()).toEqual(['expectStatus[0]', 'extra', 'minCertificateDays', 'minTlsVersion', 'requiredHeaders[0]', 'url']);
  });
  it('needs a url or a urlField, not both', () => {
    expect(provider.validateParams({})).toEqual([['url', expect.stringContaining('required')]]);
    expect(provider.validateParams({ url: 'http://a/', urlField: 'Url' })).toEqual([['urlField', 'give url or urlField, not both']]);
  });
  it('refuses TLS checks on a plain http URL', () => {
    expect(provider.validateParams({ url: 'http://a/', minTlsVersion: 'TLSv1.2' })).toEqual([['url', expect.stringContaining('https://')]]);
  });
});

describe('HttpProvider against a local HTTP server', () => {
  let server: Server;
  let base: string;
  const provider = new HttpProvider();
  beforeAll(async () => {
    server = createHttpServer(handler);
    base = `http://127.0.0.1:${await listen(server)}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('passes on the expected status and a required header matching its pattern', async () => {
    const out = await provider.attest(check({ url: `${base}/`, requiredHeaders: { 'Strict-Transport-Security': 'max-age=\\d+' } }), target);
    expect(out.outcome).toBe('Passed');
    expect(out.output).toMatchObject({ status: 200, headers: { 'strict-transport-security': 'max-age=31536000' } });
  });

  it('fails on an unexpected status and a missing header, naming both', async () => {
    const out = await provider.attest(check({ url: `${base}/missing`, requiredHeaders: ['x-frame-options'] }), target);
    expect(out.outcome).toBe('Failed');
    expect(out.message).toBe('status 404, expected 2xx; header x-frame-options missing');
  });

  it('reads the URL from the resource document with urlField', async () => {
    const r = resource('svc', 'Custom::Endpoint', { document: { Url: `${base}/` } });
    expect((await provider.attest(check({ urlField: 'Url' }), r)).outcome).toBe('Passed');
  });

  it('is Errored when nothing listens', async () => {
    const closed = createHttpServer();
    const port = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    const out = await provider.attest(check({ url: `http://127.0.0.1:${port}/` }), target);
    expect(out.outcome).toBe('Errored');
  });
});

describe.skipIf(!opensslPath)('HttpProvider against local HTTPS servers (openssl-made certificates)', () => {
  let dir: string;
  let cert30: { key: string; cert: string };
  const servers: Server[] = [];
  const provider = new HttpProvider();

  async function https(cert: { key: string; cert: string }, tls: { minVersion?: SecureVersion; maxVersion?: SecureVersion } = {}): Promise<string> {
    const server = createHttpsServer({ ...cert, ...tls }, handler);
    servers.push(server);
    return `https://127.0.0.1:${await listen(server)}`;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'argus-tls-'));
    cert30 = await selfSigned(dir, 30);
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    await rm(dir, { recursive: true, force: true });
  });

  it('passes when TLS 1.3 is required and the server speaks only TLS 1.3, reporting the certificate', async () => {
    const url = await https(cert30, { minVersion: 'TLSv1.3' });
    const out = await provider.attest(check({ url: `${url}/`, caCertificate: cert30.cert, minTlsVersion: 'TLSv1.3', minCertificateDays: 7 }), target);
    expect(out.message).toMatch(/: 200$/);
    expect(out.outcome).toBe('Passed');
    expect(out.output).toMatchObject({ tls: { protocol: 'TLSv1.3', certificate: { subject: '127.0.0.1' } } });
  });

  it('fails when the server still accepts the version below the minimum', async () => {
    const url = await https(cert30, { minVersion: 'TLSv1.2' });
    const out = await provider.attest(check({ url: `${url}/`, caCertificate: cert30.cert, minTlsVersion: 'TLSv1.3' }), target);
    expect(out.outcome).toBe('Failed');
    expect(out.message).toBe('server accepts TLSv1.2, below TLSv1.3');
  });

  it('fails when the negotiated version is below the minimum', async () => {
    const url = await https(cert30, { maxVersion: 'TLSv1.2' });
    const out = await provider.attest(check({ url: `${url}/`, caCertificate: cert30.cert, minTlsVersion: 'TLSv1.3' }), target);
    expect(out.outcome).toBe('Failed');
    expect(out.message).toBe('negotiated TLSv1.2, below TLSv1.3');
  });

  it('fails when the certificate expires sooner than required', async () => {
    const url = await https(cert30);
    const out = await provider.attest(check({ url: `${url}/`, caCertificate: cert30.cert, minCertificateDays: 60 }), target);
    expect(out.outcome).toBe('Failed');
    expect(out.message).toMatch(/^certificate expires in (29|30) day\(s\), fewer than 60$/);
  });

  it('is Errored when the certificate is not trusted', async () => {
    const url = await https(cert30);
    const out = await provider.attest(check({ url: `${url}/` }), target);
    expect(out.outcome).toBe('Errored');
    expect(out.message).toMatch(/self[- ]signed/i);
  });
});
