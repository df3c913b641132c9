/**
 * Agent providers end to end: `argus serve` and `argus agent host` as real child processes talking
 * HTTP on loopback. A normal run; an agent killed in the middle of a batch (its items come back
 * after their deadlines and another agent finishes them, each pair Done exactly once); a wrong or
 * revoked key (401, nothing written); an agent two minor versions behind (refused, with the
 * accepted versions named).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ADMIN = 'agent-e2e-admin-token';

interface Json {
  [k: string]: unknown;
}
interface WorkItemView {
  id: string;
  resource: string;
  attestation: string;
  state: string;
  reason: string;
  attempt: number;
  claimId?: string;
}
interface ResultView {
  attestation: string;
  status: string;
  result?: { outcome: string; executedAt: string | number; message: string };
}

interface Proc {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<number | null>;
  stderr(): string;
}

function start(args: readonly string[], env: Record<string, string> = {}, onLine?: (line: string, proc: ChildProcess) => void): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let err = '';
  let pending = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) !== -1) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      lines.push(line);
      onLine?.(line, child);
    }
  });
  child.stderr?.setEncoding('utf8');
  // The server logs to stderr; agents log JSON lines to stdout.
  child.stderr?.on('data', (chunk: string) => {
    err += chunk;
    lines.push(...chunk.split('\n').filter(Boolean));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, lines, exited, stderr: () => err };
}

function msgOf(line: string): Json {
  try {
    return JSON.parse(line) as Json;
  } catch {
    return {};
  }
}

describe('agent providers over HTTP', { timeout: 120_000 }, () => {
  let home: string;
  let files: string;
  let server: Proc;
  let url = '';
  const agents: Proc[] = [];

  const api = async (method: string, path: string, body?: unknown, token = ADMIN, headers: Record<string, string> = {}) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: (text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : {}) as Json };
  };

  const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 45_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await check()) return;
      await sleep(250);
    }
    throw new Error(`timed out waiting for ${what}\nserver:\n${server.lines.slice(-20).join('\n')}\nagents:\n${agents.map((a) => a.lines.slice(-10).join('\n') + a.stderr()).join('\n---\n')}`);
  };

  /** An agent Provider, a key for it, and an implementation (with its requirement) over its host. */
  const setUp = async (provider: string, host: string, attestations: Json[]): Promise<string> => {
    const applied = await api('POST', '/apply', [
      { apiVersion: 'argus.dev/v1alpha1', kind: 'Provider', metadata: { name: provider }, spec: { type: 'agent', heartbeatTimeout: '1m' } },
      { apiVersion: 'argus.dev/v1alpha1', kind: 'Requirement', metadata: { name: `${provider}-hardening` }, spec: { title: `${provider} hardening`, appliesTo: { ids: [`host/${host}`] } } },
      { apiVersion: 'argus.dev/v1alpha1', kind: 'Implementation', metadata: { name: `${provider}-checks` }, spec: { requirements: [`${provider}-hardening`], targets: { ids: [`host/${host}`] }, attestations } },
    ]);
    expect(applied.status, JSON.stringify(applied.json)).toBe(200);
    const issued = await api('POST', `/providers/${provider}/keys`);
    expect(issued.status).toBe(201);
    return issued.json.key as string;
  };

  const agent = (provider: string, key: string, host: string, paths: readonly string[], env: Record<string, string> = {}, onLine?: (line: string, proc: ChildProcess) => void): Proc => {
    const p = start(['agent', 'host', '--control-plane', url, '--provider', provider, '--key', key, '--name', host, '--files', paths.join(','), '--poll', '300', '--claim', '10'], env, onLine);
    agents.push(p);
    return p;
  };

  const work = async (provider: string): Promise<WorkItemView[]> => (await api('GET', `/providers/${provider}/work`)).json.items as WorkItemView[];
  const results = async (resource: string): Promise<ResultView[]> => {
    const res = await api('GET', `/resources/${encodeURIComponent(resource)}/results`);
    return res.status === 200 ? (res.json.results as ResultView[]) : [];
  };
  const attested = (r: readonly ResultView[]) => r.length > 0 && r.every((x) => ['Passed', 'Failed', 'Errored'].includes(x.status));

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'argus-agent-e2e-'));
    files = await mkdtemp(join(tmpdir(), 'argus-agent-files-'));
    server = start(['--home', home, 'serve', '--port', '0', '--log-format', 'json', '--schedule', 'rate(1 day)', '--token', ADMIN, '--runner', 'direct', '--work-lease', '3s']);
    const deadline = Date.now() + 60_000;
    while (url === '' && Date.now() < deadline) {
      for (const line of server.lines) {
        const m = msgOf(line);
        if (m.msg === 'serving' && typeof m.url === 'string') url = m.url;
      }
      await sleep(100);
    }
    if (url === '') throw new Error(`serve did not start:\n${server.lines.join('\n')}\n${server.stderr()}`);
  });

  afterAll(async () => {
    for (const a of agents) if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGKILL');
    await Promise.all(agents.map((a) => a.exited));
    server.child.kill('SIGTERM');
    await server.exited;
    await rm(home, { recursive: true, force: true });
    await rm(files, { recursive: true, force: true });
  });

  it('attests its host with file and command checks and reports the results once each', async () => {
    const host = 'normal';
    const ok = join(files, 'normal-ok');
    const open = join(files, 'normal-world-writable');
    await writeFile(ok, 'root:x:0:0\n');
    await writeFile(open, 'anyone may write\n');
    await chmod(ok, 0o644);
    await chmod(open, 0o666);
    const key = await setUp('host-normal', host, [
      { name: 'not-world-writable', provider: 'file', resourceTypes: ['Host::File'], params: { forbiddenModeBits: '0002', require: ['.'] } },
      { name: 'kernel-is-linux', provider: 'command', resourceTypes: ['Host'], params: { argv: ['uname', '-s'], stdoutMatches: '^Linux' } },
      { name: 'listening-ports', provider: 'file', resourceTypes: ['Host'], params: { path: '/proc/net/tcp', listeningPorts: { allowed: [1] } } },
    ]);
    const a = agent('host-normal', key, host, [ok, open]);

    await until('every check of the host to be attested', async () => attested(await results(`host/${host}`)) && attested(await results(`host/${host}/file:${ok}`)) && attested(await results(`host/${host}/file:${open}`)));
    expect((await results(`host/${host}/file:${ok}`))[0]).toMatchObject({ attestation: 'host-normal-checks.not-world-writable', status: 'Passed' });
    const bad = (await results(`host/${host}/file:${open}`))[0];
    expect(bad).toMatchObject({ status: 'Failed' });
    expect(bad?.result?.message).toContain('forbidden bits 02');
    expect((await results(`host/${host}`)).find((r) => r.attestation === 'host-normal-checks.kernel-is-linux')?.status).toBe('Passed');

    const items = await work('host-normal');
    const done = items.filter((i) => i.state === 'Done');
    expect(done).toHaveLength(4);
    expect(new Set(done.map((i) => `${i.resource} ${i.attestation}`)).size).toBe(4);

    const status = await api('GET', '/providers/host-normal/status');
    expect(status.json).toMatchObject({ status: 'Healthy', reason: 'HeartbeatReceived', agentVersion: '1.4.0' });
    const resource = await api('GET', `/resources/${encodeURIComponent(`host/${host}/file:${ok}`)}`);
    expect(resource.json).toMatchObject({ metadata: { labels: { 'observed-by.argus.dev/host-normal': 'true' } }, spec: { type: 'Host::File', parent: `host/${host}`, provider: 'host-normal' } });
    const compliance = await api('GET', `/compliance/resources/${encodeURIComponent(`host/${host}`)}`);
    expect(compliance.status).toBe(200);

    a.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
  });

  it('re-queues the work of an agent killed in the middle of a batch and counts each result once', async () => {
    const host = 'killed';
    const paths = [1, 2, 3].map((i) => join(files, `killed-${i}`));
    for (const p of paths) await writeFile(p, 'x\n');
    const key = await setUp('host-kill', host, [
      { name: 'slow', provider: 'command', resourceTypes: ['Host::File'], params: { argv: ['sleep', '1'] }, timeout: '20s' },
      { name: 'perms', provider: 'file', resourceTypes: ['Host::File'], params: { forbiddenModeBits: '0002' } },
    ]);
    let reported = 0;
    let killedAfter: string | undefined;
    const first = agent('host-kill', key, host, paths, {}, (line, proc) => {
      const m = msgOf(line);
      if (m.msg === 'reported') reported++;
      // Killed as a slow run starts: a file check could finish and report before the kill lands.
      if (m.msg === 'started' && String(m.attestation).endsWith('.slow') && reported >= 1 && killedAfter === undefined) {
        killedAfter = String(m.id);
        proc.kill('SIGKILL');
      }
    });
    await first.exited;
    expect(killedAfter).toBeDefined();
    const atKill = await work('host-kill');
    const doneAtKill = atKill.filter((i) => i.state === 'Done');
    expect(doneAtKill.length).toBeGreaterThanOrEqual(1);
    const lost = atKill.find((i) => i.id === killedAfter);
    // InProgress at the kill; on a loaded machine the sweeper may already have moved it on.
    expect(['InProgress', 'Aborted', 'Failed']).toContain(lost?.state);
    const firstExecuted = new Map<string, unknown>();
    for (const d of doneAtKill) firstExecuted.set(`${d.resource} ${d.attestation}`, (await results(d.resource)).find((r) => r.attestation === d.attestation)?.result?.executedAt);

    // The control plane moves the lost item on by itself once its lease passes.
    await until('the lost item to be aborted and re-queued', async () => (await work('host-kill')).some((i) => i.id === killedAfter && (i.state === 'Aborted' || i.state === 'Failed')));
    // A result reported on the lost lease is refused and changes nothing.
    const late = await api('POST', `/agents/host-kill/work/${lost?.id ?? ''}/result`, { claimId: lost?.claimId, outcome: 'Passed', message: 'too late' }, key, { 'x-argus-agent-version': '1.4.0' });
    expect(late.status).toBe(409);

    agent('host-kill', key, host, paths);
    await until('every pair to be attested', async () => {
      const all = await Promise.all(paths.map((p) => results(`host/${host}/file:${p}`)));
      return all.every((r) => r.length === 2 && attested(r));
    });
    await until('no open items', async () => (await work('host-kill')).every((i) => ['Done', 'Failed'].includes(i.state)));
    const items = await work('host-kill');
    const done = items.filter((i) => i.state === 'Done');
    expect(done).toHaveLength(6);
    expect(new Set(done.map((i) => `${i.resource} ${i.attestation}`)).size).toBe(6);
    expect(items.find((i) => i.id === killedAfter)).toMatchObject({ state: 'Failed', reason: 'Timeout' });
    expect(items.some((i) => i.attempt === 2 && i.state === 'Done')).toBe(true);
    // What the first agent had reported was not run again.
    for (const d of doneAtKill) {
      const now = (await results(d.resource)).find((r) => r.attestation === d.attestation)?.result?.executedAt;
      expect(now).toBe(firstExecuted.get(`${d.resource} ${d.attestation}`));
    }
  });

  it('refuses a wrong or revoked key with 401 and writes nothing', async () => {
    const host = 'unauthorised';
    const path = join(files, 'unauthorised');
    await writeFile(path, 'x\n');
    const key = await setUp('host-auth', host, [{ name: 'perms', provider: 'file', resourceTypes: ['Host::File'], params: { forbiddenModeBits: '0002' } }]);
    const keyId = key.split('_')[1] ?? '';
    expect((await api('DELETE', `/providers/host-auth/keys/${keyId}`)).status).toBe(204);

    const revoked = agent('host-auth', key, host, [path]);
    expect(await revoked.exited).toBe(2);
    expect(revoked.stderr()).toContain('401');
    const wrong = agent('host-auth', `${key.slice(0, -4)}AAAA`, host, [path]);
    expect(await wrong.exited).toBe(2);
    // The admin token is not a provider key.
    expect((await api('POST', '/agents/host-auth/register', { agentId: 'x' }, ADMIN, { 'x-argus-agent-version': '1.4.0' })).status).toBe(401);

    expect((await api('GET', `/resources/${encodeURIComponent(`host/${host}`)}`)).status).toBe(404);
    expect(await work('host-auth')).toEqual([]);
    expect((await api('GET', '/providers/host-auth/status')).json).toMatchObject({ status: 'Unknown', reason: 'NoHeartbeat' });
  });

  it('refuses an agent two minor versions behind and names the accepted versions', async () => {
    const host = 'old';
    const path = join(files, 'old');
    await writeFile(path, 'x\n');
    const key = await setUp('host-old', host, [{ name: 'perms', provider: 'file', resourceTypes: ['Host::File'], params: { forbiddenModeBits: '0002' } }]);

    const old = agent('host-old', key, host, [path], { ARGUS_AGENT_REPORTED_VERSION: '1.2.0' });
    expect(await old.exited).toBe(2);
    expect(old.stderr()).toContain('accepted: 1.4.x, 1.3.x');
    expect((await api('GET', `/resources/${encodeURIComponent(`host/${host}`)}`)).status).toBe(404);
    expect((await api('GET', '/providers/host-old/status')).json).toMatchObject({ status: 'Unknown' });

    // One minor version behind is still accepted.
    const previous = await api('POST', '/agents/host-old/register', { agentId: 'n-1' }, key, { 'x-argus-agent-version': '1.3.7' });
    expect(previous.status).toBe(200);
    // A heartbeat that reports a problem makes the provider Unhealthy, with the agent's reason.
    const sick = await api('POST', '/agents/host-old/heartbeat', { agentId: 'n-1', healthy: false, reason: 'DiskFull', message: '/var is full' }, key, { 'x-argus-agent-version': '1.3.7' });
    expect(sick.status).toBe(200);
    expect((await api('GET', '/providers/host-old/status')).json).toMatchObject({ status: 'Unhealthy', reason: 'DiskFull', message: '/var is full', agentVersion: '1.3.7' });
  });
});
