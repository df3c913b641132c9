import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiHandlers } from '../../src/api/handlers.ts';
import { localApiContext, type LocalApiExtras } from '../../src/adapters/local/api-context.ts';
import { ApiServer } from '../../src/adapters/local/http-server.ts';
import { LocalRuntime } from '../../src/adapters/local/local-runtime.ts';
import type { Clock } from '../../src/core/ports/clock.ts';

export interface TestApi {
  readonly runtime: LocalRuntime;
  readonly server: ApiServer;
  readonly url: string;
  call(method: string, path: string, options?: { body?: unknown; text?: string; contentType?: string; headers?: Record<string, string> }): Promise<{ status: number; headers: Headers; json: unknown; text: string }>;
  close(): Promise<void>;
}

/** A runtime in its own temporary home, and the API on a free loopback port. */
export async function startTestApi(options: { token?: string; clock?: Clock; extras?: LocalApiExtras; metrics?: () => Promise<{ contentType: string; body: string }> } = {}): Promise<TestApi> {
  const home = await mkdtemp(join(tmpdir(), 'argus-api-'));
  const runtime = await LocalRuntime.open({ home, fsync: false, ...(options.clock ? { clock: options.clock } : {}) });
  const handlers = createApiHandlers(() => localApiContext(runtime, options.extras), { logger: () => undefined });
  const server = await ApiServer.start({ handlers, port: 0, ...(options.token ? { token: options.token } : {}), ...(options.metrics ? { metrics: options.metrics } : {}) });
  return {
    runtime,
    server,
    url: server.url,
    async call(method, path, o = {}) {
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      let body: string | undefined;
      if (o.body !== undefined) {
        body = JSON.stringify(o.body);
        headers['content-type'] ??= 'application/json';
      } else if (o.text !== undefined) {
        body = o.text;
        headers['content-type'] ??= o.contentType ?? 'application/yaml';
      }
      const res = await fetch(`${server.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
      const text = await res.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      return { status: res.status, headers: res.headers, json, text };
    },
    async close() {
      await server.close(1000);
      await runtime.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}
