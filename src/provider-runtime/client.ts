/**
 * The agent's HTTP client for the control plane's agent routes (docs/agents.md). Every call
 * carries the provider key and the runtime version. Network failures and 5xx answers are
 * `ControlPlaneUnreachableError` (retry with backoff); 4xx answers are `ControlPlaneRejectedError`
 * with the status and the error code (401 wrong key, 409 lease lost, 426 version refused).
 */
import { ArgusError } from '../core/errors.ts';

export const AGENT_VERSION_HEADER = 'x-argus-agent-version';

export class ControlPlaneUnreachableError extends ArgusError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONTROL_PLANE_UNREACHABLE', message, {}, options);
    this.name = 'ControlPlaneUnreachableError';
  }
}

export class ControlPlaneRejectedError extends ArgusError {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
  ) {
    super('CONTROL_PLANE_REJECTED', `${status} ${errorCode}: ${message}`, { status, errorCode });
    this.name = 'ControlPlaneRejectedError';
  }

  /** The agent cannot go on without an operator: wrong or revoked key, unsupported version. */
  get fatal(): boolean {
    return this.status === 401 || this.status === 403 || this.status === 426;
  }
}

export interface ClientOptions {
  readonly url: string;
  readonly provider: string;
  readonly key: string;
  readonly version: string;
  /** Per request. @default 30 s */
  readonly timeoutMs?: number;
}

export interface ClaimedItem {
  readonly id: string;
  readonly attempt: number;
  readonly state: string;
  readonly resource?: { readonly name: string; readonly type: string; readonly labels: Record<string, string>; readonly document: unknown };
  readonly attestation?: { readonly name: string; readonly provider: string; readonly params: Record<string, unknown>; readonly timeoutMs: number };
}

export interface WorkView {
  readonly id: string;
  readonly state: string;
  readonly reason: string;
  readonly leaseUntil?: string;
}

export interface RegisterAnswer {
  readonly heartbeatIntervalMs: number;
  readonly leaseMs: number;
  readonly acceptedVersions: readonly string[];
}

export interface ReportedResource {
  readonly name: string;
  readonly type: string;
  readonly parent?: string;
  readonly labels?: Record<string, string>;
  readonly document: unknown;
}

export class ControlPlaneClient {
  private readonly base: string;

  constructor(private readonly options: ClientOptions) {
    this.base = `${options.url.replace(/\/$/, '')}/agents/${encodeURIComponent(options.provider)}`;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.options.key}`,
          [AGENT_VERSION_HEADER]: this.options.version,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (error) {
      throw new ControlPlaneUnreachableError(`${method} ${path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    const text = await res.text().catch(() => '');
    if (res.status >= 500) throw new ControlPlaneUnreachableError(`${method} ${path}: ${res.status}`);
    let parsed: unknown;
    try {
      parsed = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new ControlPlaneUnreachableError(`${method} ${path}: ${res.status} with a body that is not JSON`);
    }
    if (res.status >= 400) {
      const e = (parsed as { error?: { code?: unknown; message?: unknown } }).error;
      throw new ControlPlaneRejectedError(res.status, typeof e?.code === 'string' ? e.code : 'UNKNOWN', typeof e?.message === 'string' ? e.message : text.slice(0, 200));
    }
    return parsed as T;
  }

  register(agentId: string, hostname: string): Promise<RegisterAnswer> {
    return this.call('POST', '/register', { agentId, hostname });
  }

  heartbeat(agentId: string, health: { healthy: boolean; reason?: string; message?: string }): Promise<unknown> {
    return this.call('POST', '/heartbeat', { agentId, ...health });
  }

  reportResources(resources: readonly ReportedResource[]): Promise<unknown> {
    return this.call('PUT', '/resources', { resources });
  }

  claim(agentId: string, max: number): Promise<{ readonly claimId: string; readonly items: readonly ClaimedItem[] }> {
    return this.call('POST', '/work/claim', { agentId, max });
  }

  start(id: string, claimId: string): Promise<WorkView> {
    return this.call('POST', `/work/${encodeURIComponent(id)}/start`, { claimId });
  }

  renew(id: string, claimId: string): Promise<WorkView> {
    return this.call('POST', `/work/${encodeURIComponent(id)}/lease`, { claimId });
  }

  poll(id: string): Promise<WorkView> {
    return this.call('GET', `/work/${encodeURIComponent(id)}`);
  }

  result(id: string, report: { claimId: string; outcome: string; message: string; output?: unknown; executedAt: number; durationMs: number }): Promise<WorkView> {
    return this.call('POST', `/work/${encodeURIComponent(id)}/result`, report);
  }
}
