/**
 * A user journey through `argus serve`: start it as a child process on a free port, apply the
 * quickstart through the API, wait for a reconcile, bump a requirement's version with If-Match,
 * watch the affected results go Stale and come back, read the SLI on /metrics, stop with SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUCKET = 'quickstart/LogsBucket';
const TOKEN = 'e2e-token';

interface ResultsBody {
  results: Array<{ attestation: string; status: string; staleReason?: string; result?: { requirementVersions: Record<string, number> }; evidence?: { digest: string; href?: string } }>;
}

describe('argus serve', () => {
  let home: string;
  let child: ChildProcess;
  let url = '';
  const logs: string[] = [];
  let exited: Promise<number | null>;

  const api = async (method: string, path: string, body?: { json?: unknown; yaml?: string }, headers: Record<string, string> = {}) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        ...(body?.json !== undefined ? { 'content-type': 'application/json' } : body?.yaml !== undefined ? { 'content-type': 'application/yaml' } : {}),
        ...headers,
      },
      ...(body?.json !== undefined ? { body: JSON.stringify(body.json) } : body?.yaml !== undefined ? { body: body.yaml } : {}),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: (text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : undefined) as unknown };
  };

  const results = async (): Promise<ResultsBody['results']> => {
    const res = await api('GET', `/resources/${encodeURIComponent(BUCKET)}/results`);
    expect(res.status).toBe(200);
    return (res.json as ResultsBody).results;
  };

  const metricValue = async (series: string): Promise<number | undefined> => {
    const res = await api('GET', '/metrics');
    const line = res.text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.split(' ').at(-1));
  };

  /** Polls until `check` returns true (bounded, no timing assertions). */
  const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await check()) return;
      await sleep(250);
    }
    throw new Error(`timed out waiting for ${what}; server log:\n${logs.slice(-30).join('\n')}`);
  };

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'argus-serve-'));
    // rate(1 day) fires at midnight UTC only, so runs happen when the test asks (POST /reconcile).
    child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', '--home', home, 'serve', '--port', '0', '--log-format', 'json', '--schedule', 'rate(1 day)', '--token', TOKEN], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const onData = (chunk: Buffer) => logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    await until('the server to listen', async () => {
      for (const line of logs) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'serving' && entry.url) url = entry.url;
      }
      return url !== '';
    });
  });

  afterAll(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    await rm(home, { recursive: true, force: true });
  });

  it('serves health without a token and refuses the API without one', async () => {
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/requirements`)).status).toBe(401);
    const doc = await api('GET', '/openapi.json');
    expect((doc.json as { openapi: string }).openapi).toBe('3.1.0');
  });

  it('applies the quickstart, reconciles, invalidates on a version bump and attests again', async () => {
    const catalog = await readFile(join(ROOT, 'examples/quickstart/catalog.yaml'), 'utf8');
    const applied = await api('POST', '/apply', { yaml: catalog });
    expect(applied.status).toBe(200);
    expect((applied.json as { created: unknown[] }).created.length).toBeGreaterThan(10);
    const template = await readFile(join(ROOT, 'examples/quickstart/template.yaml'), 'utf8');
    const imported = await api('POST', '/import/cloudformation', { yaml: template });
    expect(imported.status).toBe(200);
    expect((imported.json as { created: Array<{ name: string }> }).created.map((r) => r.name)).toContain(BUCKET);

    expect((await api('POST', '/reconcile')).status).toBe(202);
    await until('the first reconcile', async () => {
      const r = await results();
      return r.length > 0 && r.every((x) => ['Passed', 'Failed', 'Errored'].includes(x.status));
    });
    const before = await results();
    const encrypted = before.find((r) => r.attestation === 's3-bucket-encrypted');
    expect(encrypted?.result?.requirementVersions['sc-28']).toBe(1);
    expect(encrypted?.evidence?.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    if (encrypted?.evidence?.href) expect((await api('GET', encrypted.evidence.href)).status).toBe(200);
    const ratioBefore = await metricValue('argus_requirement_compliance_ratio{requirement="sc-28"}');
    expect(ratioBefore).toBeGreaterThan(0);
    const runsBefore = await metricValue('argus_attestation_runs_total{provider="cel",result="passed"}');
    expect(runsBefore).toBeGreaterThan(0);

    // Bump sc-28 with If-Match; a stale ETag is refused.
    const current = await api('GET', '/requirements/sc-28');
    const etag = current.headers.get('etag') ?? '';
    const manifest = current.json as { spec: { version: number } };
    const bumped = { ...manifest, spec: { ...manifest.spec, version: 2 } };
    const put = await api('PUT', '/requirements/sc-28', { json: bumped }, { 'if-match': etag });
    expect(put.status).toBe(200);
    expect((await api('PUT', '/requirements/sc-28', { json: bumped }, { 'if-match': etag })).status).toBe(412);

    const stale = (await results()).find((r) => r.attestation === 's3-bucket-encrypted');
    expect(stale).toMatchObject({ status: 'Stale', staleReason: 'RequirementVersionChanged' });
    // Results of other requirements (cp-9's versioning check) stay as they were.
    expect((await results()).find((r) => r.attestation === 's3-bucket-versioning')?.status).not.toBe('Stale');
    expect(await metricValue('argus_requirement_compliance_ratio{requirement="sc-28"}')).toBe(0);

    expect((await api('POST', '/reconcile')).status).toBe(202);
    await until('the stale results to be attested again', async () => {
      const again = (await results()).find((r) => r.attestation === 's3-bucket-encrypted');
      return again?.status !== 'Stale' && again?.result?.requirementVersions['sc-28'] === 2;
    });
    expect(await metricValue('argus_requirement_compliance_ratio{requirement="sc-28"}')).toBe(ratioBefore);
    await until('the runs to be counted', async () => ((await metricValue('argus_attestation_runs_total{provider="cel",result="passed"}')) ?? 0) > (runsBefore ?? 0));
  });

  it('stops on SIGTERM, finishing cleanly with exit code 0', async () => {
    // A run in flight when the signal arrives is aborted between batches.
    await api('POST', '/reconcile');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(logs.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
  });
});
