/**
 * The provider runtime: what every agent shares. Registers (refused agents stop: wrong key,
 * unsupported version), heartbeats on its own timer, reports the resources it discovers, claims
 * batches of work, runs each item with the attestation providers it carries while renewing the
 * item's lease (a renewal that fails or shows the item left InProgress cancels the run), reports
 * results, and backs off while the control plane is unreachable. Build an agent by giving it
 * `discover` and `providers` (src/agents/host-agent.ts).
 */
import { API_VERSION, type Attestation, type Resource } from '../core/model.ts';
import type { AttestationProvider, ProviderOutcome } from '../core/ports/attestation-provider.ts';
import { AGENT_RUNTIME_VERSION } from '../core/providers-registry/version-policy.ts';
import { Backoff, pause } from './backoff.ts';
import { ControlPlaneClient, ControlPlaneRejectedError, ControlPlaneUnreachableError, type ClaimedItem, type ReportedResource } from './client.ts';

/** The runtime version this repository's agents report (the control plane applies N-1 to it). */
export const PROVIDER_RUNTIME_VERSION = AGENT_RUNTIME_VERSION;

export type AgentLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface AgentHealth {
  readonly healthy: boolean;
  readonly reason?: string;
  readonly message?: string;
}

export interface ProviderRuntimeOptions {
  readonly controlPlane: string;
  readonly provider: string;
  readonly key: string;
  readonly agentId: string;
  readonly hostname: string;
  readonly providers: readonly AttestationProvider[];
  /** The resources this agent observes (its whole inventory, reported as is). */
  readonly discover: () => Promise<ReportedResource[]>;
  /** The agent's own health, sent with each heartbeat. @default healthy */
  readonly health?: () => Promise<AgentHealth>;
  /** @default PROVIDER_RUNTIME_VERSION */
  readonly version?: string;
  /** Items per claim. @default 5 */
  readonly claimMax?: number;
  /** Pause when there is no work. @default 2 s */
  readonly pollIntervalMs?: number;
  /** Re-discover and report resources this often. @default 5 min */
  readonly discoverIntervalMs?: number;
  readonly log?: AgentLog;
}

const silent: AgentLog = () => undefined;

function outcomeOf(error: unknown, provider: string): ProviderOutcome {
  return { outcome: 'Errored', message: `provider ${provider} threw: ${error instanceof Error ? error.message : String(error)}` };
}

function isRejected(error: unknown, status?: number): error is ControlPlaneRejectedError {
  return error instanceof ControlPlaneRejectedError && (status === undefined || error.status === status);
}

export class ProviderRuntime {
  readonly client: ControlPlaneClient;
  private readonly log: AgentLog;
  private readonly providers: Map<string, AttestationProvider>;
  private leaseMs = 30_000;
  private heartbeatMs = 60_000;
  /** The last error of the work loop, reported as Unhealthy until a cycle succeeds. */
  private problem: { reason: string; message: string } | undefined;

  constructor(private readonly options: ProviderRuntimeOptions) {
    this.client = new ControlPlaneClient({ url: options.controlPlane, provider: options.provider, key: options.key, version: options.version ?? PROVIDER_RUNTIME_VERSION });
    this.log = options.log ?? silent;
    this.providers = new Map(options.providers.map((p) => [p.name, p]));
  }

  /** Runs until `signal` aborts; rejects with ControlPlaneRejectedError when the control plane refuses the agent. */
  async run(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff();
    await this.retrying(signal, backoff, async () => {
      const answer = await this.client.register(this.options.agentId, this.options.hostname);
      this.leaseMs = answer.leaseMs;
      this.heartbeatMs = answer.heartbeatIntervalMs;
      this.log('info', 'registered', { provider: this.options.provider, leaseMs: answer.leaseMs, heartbeatIntervalMs: answer.heartbeatIntervalMs });
    });
    const heartbeat = setInterval(() => void this.heartbeat(), this.heartbeatMs);
    let nextDiscover = 0;
    try {
      while (!signal.aborted) {
        try {
          if (Date.now() >= nextDiscover) {
            const resources = await this.options.discover();
            await this.client.reportResources(resources);
            this.log('info', 'resources reported', { count: resources.length });
            nextDiscover = Date.now() + (this.options.discoverIntervalMs ?? 300_000);
          }
          const { claimId, items } = await this.client.claim(this.options.agentId, this.options.claimMax ?? 5);
          backoff.reset();
          this.problem = undefined;
          if (items.length === 0) {
            await pause(this.options.pollIntervalMs ?? 2_000, signal);
            continue;
          }
          this.log('info', 'claimed', { count: items.length, ids: items.map((i) => i.id) });
          for (const item of items) {
            if (signal.aborted) break;
            await this.runItem(item, claimId);
          }
        } catch (error) {
          if (isRejected(error) && error.fatal) throw error;
          if (error instanceof ControlPlaneUnreachableError) {
            const wait = backoff.next();
            this.log('warn', 'control plane unreachable; backing off', { error: error.message, waitMs: wait, attempt: backoff.attempts });
            await pause(wait, signal);
          } else {
            this.problem = { reason: error instanceof ControlPlaneRejectedError ? error.errorCode : 'AgentError', message: error instanceof Error ? error.message : String(error) };
            this.log('error', 'agent loop error', { error: this.problem.message });
            await pause(this.options.pollIntervalMs ?? 2_000, signal);
          }
        }
      }
    } finally {
      clearInterval(heartbeat);
    }
  }

  private async retrying(signal: AbortSignal, backoff: Backoff, fn: () => Promise<void>): Promise<void> {
    while (!signal.aborted) {
      try {
        await fn();
        backoff.reset();
        return;
      } catch (error) {
        if (!(error instanceof ControlPlaneUnreachableError)) throw error;
        const wait = backoff.next();
        this.log('warn', 'control plane unreachable; backing off', { error: error.message, waitMs: wait, attempt: backoff.attempts });
        await pause(wait, signal);
      }
    }
  }

  private async heartbeat(): Promise<void> {
    try {
      // The agent's own checks first; otherwise the state of its work loop.
      const health = (await this.options.health?.()) ?? (this.problem ? { healthy: false, ...this.problem } : { healthy: true });
      await this.client.heartbeat(this.options.agentId, health);
    } catch (error) {
      this.log('warn', 'heartbeat failed', { error: error instanceof Error ? error.message : String(error) });
    }
  }

  /** One claimed item: start (lease), run with renewals, report. A lost lease drops the result. */
  private async runItem(item: ClaimedItem, claimId: string): Promise<void> {
    if (!item.attestation || !item.resource) {
      this.log('warn', 'claimed item without its definitions; leaving it to its deadline', { id: item.id });
      return;
    }
    try {
      await this.client.start(item.id, claimId);
    } catch (error) {
      if (isRejected(error, 409)) {
        this.log('warn', 'item no longer ours', { id: item.id, error: error.message });
        return;
      }
      throw error;
    }
    this.log('info', 'started', { id: item.id, resource: item.resource.name, attestation: item.attestation.name });
    const lost = new AbortController();
    const renew = setInterval(() => {
      this.client.renew(item.id, claimId).then(
        (view) => {
          if (view.state !== 'InProgress') lost.abort();
        },
        (error: unknown) => {
          // 409: aborted or lease lost (cancellation); anything else: try again next tick.
          if (isRejected(error, 409)) lost.abort();
        },
      );
    }, Math.max(200, Math.floor(this.leaseMs / 3)));
    const started = Date.now();
    let outcome: ProviderOutcome;
    try {
      outcome = await this.attest(item, lost.signal);
    } finally {
      clearInterval(renew);
    }
    if (lost.signal.aborted) {
      this.log('warn', 'cancelled or lease lost; result dropped', { id: item.id });
      return;
    }
    try {
      await this.client.result(item.id, { claimId, outcome: outcome.outcome, message: outcome.message, ...(outcome.output === undefined ? {} : { output: outcome.output }), executedAt: started, durationMs: Date.now() - started });
      this.log('info', 'reported', { id: item.id, resource: item.resource.name, attestation: item.attestation.name, outcome: outcome.outcome });
    } catch (error) {
      if (isRejected(error, 409)) this.log('warn', 'result refused: lease lost', { id: item.id });
      else throw error;
    }
  }

  private async attest(item: ClaimedItem, cancelled: AbortSignal): Promise<ProviderOutcome> {
    const a = item.attestation!;
    const r = item.resource!;
    const provider = this.providers.get(a.provider);
    if (!provider) return { outcome: 'Errored', message: `this agent has no provider "${a.provider}"` };
    const attestation: Attestation = {
      apiVersion: API_VERSION,
      kind: 'Attestation',
      metadata: { name: a.name, labels: {} },
      spec: { provider: a.provider, params: a.params, resourceTypes: [], freshnessMs: 0, timeoutMs: a.timeoutMs },
    };
    const resource: Resource = { apiVersion: API_VERSION, kind: 'Resource', metadata: { name: r.name, labels: r.labels }, spec: { type: r.type, classes: [], document: r.document, digest: '' } };
    const stop = new Promise<ProviderOutcome>((resolve) => {
      const timer = setTimeout(() => resolve({ outcome: 'Errored', message: `timed out after ${a.timeoutMs} ms` }), a.timeoutMs);
      timer.unref();
      cancelled.addEventListener('abort', () => resolve({ outcome: 'Errored', message: 'cancelled' }), { once: true });
    });
    try {
      return await Promise.race([Promise.resolve(provider.attest(attestation, resource)).catch((e: unknown) => outcomeOf(e, a.provider)), stop]);
    } catch (error) {
      return outcomeOf(error, a.provider);
    }
  }
}
