/**
 * A real Prometheus for integration tests (Debian's 2.42): started on a free loopback port with
 * the remote-write receiver on, its own config and TSDB in a temp folder, queried through the
 * HTTP API. When the binary is missing, CI (CI=true) fails with a clear message and a local run
 * may skip.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';

export function findBinary(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Why a Prometheus test cannot run here, or undefined when it can. Throws in CI: CI must not skip. */
export function prometheusUnavailable(binary = 'prometheus'): string | undefined {
  if (findBinary(binary)) return undefined;
  const message = `${binary} not found on PATH: install it with \`apt-get update && apt-get install -y prometheus\` (.ci/run does)`;
  if (process.env.CI === 'true') throw new Error(message);
  return message;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface QueryVector {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

export class PrometheusServer {
  private child: ChildProcess | undefined;
  private log = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get remoteWriteUrl(): string {
    return `${this.url}/api/v1/write`;
  }

  /** Prepares config and data folders under `dir` and reserves a port; `start()` runs it. */
  static async create(dir: string): Promise<PrometheusServer> {
    await mkdir(join(dir, 'data'), { recursive: true });
    await writeFile(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 1m\nscrape_configs: []\n');
    return new PrometheusServer(dir, await freePort());
  }

  async start(timeoutMs = 60_000): Promise<void> {
    if (this.child) return;
    const child = spawn(
      findBinary('prometheus') ?? 'prometheus',
      [
        `--config.file=${join(this.dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(this.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${this.port}`,
        '--web.enable-remote-write-receiver',
        '--storage.tsdb.retention.time=1d',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    const keep = (chunk: Buffer): void => {
      this.log = (this.log + chunk.toString('utf8')).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${this.log}`);
      try {
        const res = await fetch(`${this.url}/-/ready`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`prometheus not ready after ${timeoutMs} ms:\n${this.log}`);
  }

  /** Stops it (SIGTERM, then SIGKILL after 20 s); the TSDB stays for a restart. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  get output(): string {
    return this.log;
  }

  /** Instant query at `time` (epoch ms). */
  async query(promql: string, time: number): Promise<QueryVector[]> {
    const params = new URLSearchParams({ query: promql, time: (time / 1000).toFixed(3) });
    const res = await fetch(`${this.url}/api/v1/query?${params}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: QueryVector[] } };
    if (body.status !== 'success' || !body.data) throw new Error(`query ${promql} failed: ${body.error ?? res.status}`);
    if (body.data.resultType !== 'vector') throw new Error(`query ${promql} gave a ${body.data.resultType}`);
    return body.data.result;
  }
}

/** Runs `promtool check rules <file>`; returns its exit code and output. */
export function promtoolCheckRules(file: string): { code: number | null; output: string } {
  const res = spawnSync(findBinary('promtool') ?? 'promtool', ['check', 'rules', file], { encoding: 'utf8', timeout: 60_000 });
  return { code: res.status, output: `${res.stdout ?? ''}${res.stderr ?? ''}` };
}
