/**
 * The agent routes (src/api/agent-routes.ts): thin handlers over src/core/work and
 * src/core/providers-registry. Agents authenticate with their provider's key and report their
 * runtime version on every call (`x-argus-agent-version`); administrators use the admin token.
 * The deadline sweeper runs lazily here too (each claim sweeps its provider first), so deadlines
 * hold on AWS where no long-running process exists.
 */
import { randomUUID } from 'node:crypto';
import { ArgusError } from '../core/errors.ts';
import { agentStatusKey } from '../core/keys.ts';
import { toManifest } from '../core/manifest/parse.ts';
import type { Provider, Resource } from '../core/model.ts';
import type { StoredItem } from '../core/ports/store.ts';
import { issueApiKey, listApiKeys, revokeApiKey, UnauthorizedAgentError, verifyApiKey } from '../core/providers-registry/credentials.ts';
import { recordHeartbeat } from '../core/providers-registry/heartbeats.ts';
import { DEFAULT_HEARTBEAT_TIMEOUT_MS, statusAt, type Heartbeat, type ProviderStatusRecord } from '../core/providers-registry/status.ts';
import { AGENT_RUNTIME_VERSION, acceptedVersions, checkAgentVersion, UnsupportedAgentVersionError } from '../core/providers-registry/version-policy.ts';
import { DEFAULT_WORK_TIMEOUTS, InvalidTransitionError, LeaseLostError, WORK_STATES, type WorkItem, type WorkState, type WorkTimeouts } from '../core/work/machine.ts';
import { dispatchAgentWork, WorkStore } from '../core/work/work-store.ts';
import type { ApiContext } from './context.ts';
import { applyManifests } from './definitions.ts';
import { BadRequestError } from './errors.ts';
import type { ApiHandler, ContextSource } from './handlers.ts';
import { json, withApiMiddleware, type ApiEvent, type ApiResult, type HandlerOptions } from './middleware.ts';
import { routeByKey } from './routes.ts';
import { isAgentOp } from './agent-routes.ts';
import { encodeWorkView } from './agent-views.ts';

/** Resources whose observer list holds a provider carry `observed-by.argus.dev/<provider>: "true"`. */
export const OBSERVED_BY_PREFIX = 'observed-by.argus.dev/';
/** Set on a resource that no provider observes any more. */
export const UNOBSERVED_LABEL = 'argus.dev/unobserved';
export const AGENT_VERSION_HEADER = 'x-argus-agent-version';

const MAX_CLAIM = 50;
const MAX_RESOURCES = 1000;

export interface AgentApiOptions extends HandlerOptions {
  readonly timeouts?: WorkTimeouts;
  /** Runtime version the control plane speaks. @default AGENT_RUNTIME_VERSION */
  readonly version?: string;
}

type Obj = Record<string, unknown>;

function body(event: ApiEvent): Obj {
  const b = event.body;
  if (b === undefined || b === null || b === '') return {};
  if (typeof b !== 'object' || Array.isArray(b)) throw new BadRequestError('send a JSON object with Content-Type: application/json', typeof b === 'string' ? 415 : 400);
  return b as Obj;
}

function str(o: Obj, field: string, required = true): string | undefined {
  const v = o[field];
  if (v === undefined || v === null) {
    if (required) throw new BadRequestError(`${field}: required`);
    return undefined;
  }
  if (typeof v !== 'string' || v.length === 0 || v.length > 1024) throw new BadRequestError(`${field}: expected a non-empty string (at most 1024 characters)`);
  return v;
}

function num(o: Obj, field: string, fallback: number, min: number, max: number): number {
  const v = o[field];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new BadRequestError(`${field}: expected a number in [${min}, ${max}]`);
  return v;
}

function param(event: ApiEvent, name: string): string {
  const v = event.pathParameters?.[name];
  if (v === undefined || v === '') throw new BadRequestError(`missing path parameter ${name}`);
  try {
    return v.includes('%') ? decodeURIComponent(v) : v;
  } catch {
    throw new BadRequestError(`path parameter ${name} is not valid percent-encoding`);
  }
}

function errorJson(status: number, code: string, message: string, headers: Record<string, string> = {}): ApiResult {
  return json(status, { error: { code, message } }, headers);
}

/** The provider-facing view of an item (what an agent needs to run it). */
function agentView(ctx: { resource?: Resource; attestation?: { name: string; provider: string; params: unknown; timeoutMs: number } }, item: WorkItem): Obj {
  return {
    ...encodeWorkView(item),
    ...(ctx.resource ? { resource: { name: ctx.resource.metadata.name, type: ctx.resource.spec.type, labels: ctx.resource.metadata.labels, document: ctx.resource.spec.document } } : {}),
    ...(ctx.attestation ? { attestation: ctx.attestation } : {}),
  };
}

async function providerDef(ctx: ApiContext, name: string): Promise<Provider | undefined> {
  return (await ctx.engine()).index.providers.get(name);
}

async function writeHeartbeat(ctx: ApiContext, provider: string, hb: Heartbeat, timeoutMs: number): Promise<ProviderStatusRecord> {
  return recordHeartbeat(ctx.store, provider, hb, timeoutMs, ctx.clock.now());
}

interface ReportedResource {
  readonly name: string;
  readonly type: string;
  readonly parent?: string;
  readonly labels: Record<string, string>;
  readonly document: unknown;
}

function reportedResources(o: Obj): ReportedResource[] {
  const list = o.resources;
  if (!Array.isArray(list)) throw new BadRequestError('resources: expected an array');
  if (list.length > MAX_RESOURCES) throw new BadRequestError(`resources: at most ${MAX_RESOURCES} per report`);
  return list.map((r: unknown, i) => {
    if (!r || typeof r !== 'object' || Array.isArray(r)) throw new BadRequestError(`resources[${i}]: expected an object`);
    const x = r as Obj;
    const labels = x.labels ?? {};
    if (typeof labels !== 'object' || labels === null || Array.isArray(labels) || Object.values(labels).some((v) => typeof v !== 'string')) throw new BadRequestError(`resources[${i}].labels: expected string values`);
    const parent = str(x, 'parent', false);
    return { name: str(x, 'name') ?? '', type: str(x, 'type') ?? '', ...(parent ? { parent } : {}), labels: labels as Record<string, string>, document: x.document ?? {} };
  });
}

function observers(labels: Readonly<Record<string, string>>): string[] {
  return Object.keys(labels)
    .filter((k) => k.startsWith(OBSERVED_BY_PREFIX))
    .map((k) => k.slice(OBSERVED_BY_PREFIX.length));
}

/** The manifest of a resource that `provider` no longer observes (or undefined when it never did). */
function withoutObserver(r: Resource, provider: string): Obj | undefined {
  const label = `${OBSERVED_BY_PREFIX}${provider}`;
  if (r.metadata.labels[label] === undefined && r.spec.provider !== provider) return undefined;
  const labels: Record<string, string> = { ...r.metadata.labels };
  delete labels[label];
  const left = observers(labels);
  if (left.length === 0) labels[UNOBSERVED_LABEL] = 'true';
  const m = toManifest(r) as unknown as { metadata: Obj; spec: Obj };
  const spec: Obj = { ...m.spec };
  if (r.spec.provider === provider) {
    if (left[0] !== undefined) spec.provider = left[0];
    else delete spec.provider;
  }
  return { ...m, metadata: { ...m.metadata, labels }, spec };
}

/**
 * An agent's whole inventory: each reported resource is created or updated with this provider in
 * its observer list (and as its `spec.provider` unless another observer owns it); resources this
 * provider observed before and did not report lose it from their list. All or nothing.
 */
async function reportResources(ctx: ApiContext, provider: string, reported: readonly ReportedResource[]) {
  const engine = await ctx.engine();
  const seen = new Set<string>();
  const manifests: Obj[] = [];
  for (const r of reported) {
    seen.add(r.name);
    const existing = engine.index.resources.get(r.name);
    // Agents add observations; they never take over a resource that people or an import defined.
    if (existing && observers(existing.metadata.labels).length === 0 && existing.metadata.labels[UNOBSERVED_LABEL] === undefined) {
      throw new BadRequestError(`resources: "${r.name}" is defined by other means (manifest or import), not by an agent; pick another name`);
    }
    const labels: Record<string, string> = { ...(existing?.metadata.labels ?? {}), ...r.labels, [`${OBSERVED_BY_PREFIX}${provider}`]: 'true' };
    delete labels[UNOBSERVED_LABEL];
    const owner = existing?.spec.provider;
    const keepOwner = owner !== undefined && owner !== provider && labels[`${OBSERVED_BY_PREFIX}${owner}`] !== undefined;
    manifests.push({
      apiVersion: 'argus.dev/v1alpha1',
      kind: 'Resource',
      metadata: { name: r.name, labels },
      spec: { type: r.type, ...(r.parent ? { parent: r.parent } : {}), provider: keepOwner ? owner : provider, document: r.document },
    });
  }
  for (const r of engine.index.resources.values()) {
    if (seen.has(r.metadata.name) || r.metadata.labels[`${OBSERVED_BY_PREFIX}${provider}`] === undefined) continue;
    const m = withoutObserver(r, provider);
    if (m) manifests.push(m);
  }
  if (manifests.length === 0) return { created: [], configured: [], unchanged: [], deleted: [] };
  return applyManifests(ctx, manifests, { dryRun: false });
}

async function agentRoute(event: ApiEvent, op: string, context: ContextSource, options: AgentApiOptions, timeouts: WorkTimeouts): Promise<ApiResult> {
  const ctx = await context();
  const work = new WorkStore(ctx.store, { timeouts });
  const now = () => ctx.clock.now();

  if (op.startsWith('agent')) {
    const provider = param(event, 'provider');
    await verifyApiKey(ctx.store, provider, event.headers.authorization);
    // Every agent call names its runtime version: an old agent is refused before it changes anything.
    checkAgentVersion(event.headers[AGENT_VERSION_HEADER] ?? 'missing', options.version ?? AGENT_RUNTIME_VERSION);
    const def = await providerDef(ctx, provider);
    if (!def || def.spec.type !== 'agent') throw new UnauthorizedAgentError(provider);
    const heartbeatTimeoutMs = def.spec.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS;
    const b = body(event);
    switch (op) {
      case 'agentRegister':
      case 'agentHeartbeat': {
        const agentId = str(b, 'agentId') ?? '';
        const healthy = op === 'agentRegister' ? true : b.healthy !== false;
        const reason = str(b, 'reason', false);
        const message = str(b, 'message', false);
        const hostname = str(b, 'hostname', false);
        const record = await writeHeartbeat(
          ctx,
          provider,
          { source: 'agent', healthy, agentId, agentVersion: event.headers[AGENT_VERSION_HEADER] ?? '', ...(reason ? { reason } : {}), ...(message ? { message } : {}), ...(hostname ? { hostname } : {}) },
          heartbeatTimeoutMs,
        );
        return json(200, {
          provider,
          status: statusAt(record, heartbeatTimeoutMs, now()),
          acceptedVersions: acceptedVersions(options.version ?? AGENT_RUNTIME_VERSION),
          heartbeatIntervalMs: Math.max(1000, Math.floor(heartbeatTimeoutMs / 3)),
          leaseMs: timeouts.leaseMs,
        });
      }
      case 'agentReportResources':
        return json(200, await reportResources(ctx, provider, reportedResources(b)));
      case 'agentClaim': {
        const agentId = str(b, 'agentId') ?? '';
        const max = Math.floor(num(b, 'max', 10, 1, MAX_CLAIM));
        const t = now();
        await work.sweep(provider, t);
        const engine = await ctx.engine();
        await dispatchAgentWork(work, engine, `lazy-${Math.floor(t / 60_000)}`, t, provider);
        const claimId = `${agentId}:${randomUUID()}`;
        const claimed = await work.claim(provider, claimId, max, t);
        const items = claimed.map(({ data }) => {
          const att = engine.index.attestations.get(data.attestation);
          const resource = engine.index.resources.get(data.resource);
          return agentView({ ...(resource ? { resource } : {}), ...(att ? { attestation: { name: att.metadata.name, provider: att.spec.provider, params: att.spec.params, timeoutMs: att.spec.timeoutMs } } : {}) }, data);
        });
        return json(200, { claimId, items });
      }
      case 'agentStart':
      case 'agentRenewLease': {
        const stored = await mustGet(work, provider, param(event, 'id'), now());
        const claimId = str(b, 'claimId') ?? '';
        const next = await work.apply(stored, op === 'agentStart' ? { type: 'start', claimId } : { type: 'renew', claimId }, now());
        return json(200, encodeWorkView(next.data));
      }
      case 'agentPollWork':
        return json(200, encodeWorkView((await mustGet(work, provider, param(event, 'id'), now())).data));
      case 'agentReportResult': {
        const outcome = str(b, 'outcome') ?? '';
        if (outcome !== 'Passed' && outcome !== 'Failed' && outcome !== 'Errored') throw new BadRequestError('outcome: expected Passed, Failed or Errored');
        const t = now();
        const done = await work.complete(
          provider,
          param(event, 'id'),
          {
            claimId: str(b, 'claimId') ?? '',
            outcome,
            message: (str(b, 'message', false) ?? '').slice(0, 4096),
            ...(b.output === undefined ? {} : { output: b.output }),
            executedAt: num(b, 'executedAt', t, 0, t + 60_000),
            durationMs: num(b, 'durationMs', 0, 0, 86_400_000),
          },
          t,
        );
        return json(200, { ...encodeWorkView(done.item.data), evidenceDigest: done.result.evidenceDigest ?? null });
      }
    }
  }

  const name = param(event, op === 'cancelRun' ? 'runId' : 'name');
  switch (op) {
    case 'providerIssueKey': {
      const def = await providerDef(ctx, name);
      if (!def) throw new BadRequestError(`Provider "${name}" not found`, 404);
      if (def.spec.type !== 'agent') throw new BadRequestError(`Provider "${name}" is of type ${def.spec.type}; keys are for agent Providers`);
      const issued = await issueApiKey(ctx.store, name, now());
      return json(201, { provider: name, ...issued, note: 'the key is shown once; only its hash is stored' });
    }
    case 'providerListKeys':
      return json(200, { provider: name, keys: await listApiKeys(ctx.store, name) });
    case 'providerRevokeKey': {
      const revoked = await revokeApiKey(ctx.store, name, param(event, 'keyId'), now());
      if (!revoked) throw new BadRequestError(`no key ${param(event, 'keyId')} for Provider "${name}"`, 404);
      return { statusCode: 204 };
    }
    case 'providerStatus': {
      const def = await providerDef(ctx, name);
      if (!def) throw new BadRequestError(`Provider "${name}" not found`, 404);
      const k = agentStatusKey(name);
      const record = await ctx.store.get<ProviderStatusRecord>(k.pk, k.sk);
      const timeout = def.spec.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS;
      return json(200, {
        provider: name,
        type: def.spec.type,
        ...statusAt(record?.data, timeout, now()),
        ...(record?.data.agentVersion ? { agentVersion: record.data.agentVersion } : {}),
        ...(record?.data.agentId ? { agentId: record.data.agentId } : {}),
        ...(record?.data.hostname ? { hostname: record.data.hostname } : {}),
      });
    }
    case 'providerWork': {
      const state = event.queryStringParameters?.state;
      if (state !== undefined && !(WORK_STATES as readonly string[]).includes(state)) throw new BadRequestError(`state: expected one of ${WORK_STATES.join(', ')}`);
      const items = (await work.all(name, now())).filter((i) => state === undefined || i.state === (state as WorkState));
      return json(200, { provider: name, items: items.map(encodeWorkView) });
    }
    case 'providerForget': {
      const engine = await ctx.engine();
      const manifests = [...engine.index.resources.values()].map((r) => withoutObserver(r, name)).filter((m): m is Obj => m !== undefined);
      const outcome = manifests.length > 0 ? await applyManifests(ctx, manifests, { dryRun: false }) : { created: [], configured: [], unchanged: [], deleted: [] };
      return json(200, outcome);
    }
    case 'cancelRun': {
      const engine = await ctx.engine();
      const agents = [...engine.index.providers.values()].filter((p) => p.spec.type === 'agent').map((p) => p.metadata.name);
      return json(200, { runId: name, aborted: await work.abortRun(agents, name, 'Cancellation', now()) });
    }
  }
  throw new BadRequestError(`no route ${event.routeKey}`, 404);
}

/** The item, or 404 (also once it finished and its retention passed: see src/core/work/retention.ts). */
async function mustGet(work: WorkStore, provider: string, id: string, now: number): Promise<StoredItem<WorkItem>> {
  const item = await work.get(provider, id, now);
  if (!item) throw new BadRequestError(`no work item ${id} for Provider "${provider}"`, 404);
  return item;
}

/** Status codes for the errors of the agent path; others go to the API's error mapping. */
function agentError(error: unknown): ApiResult | undefined {
  if (error instanceof UnauthorizedAgentError) return errorJson(401, error.code, error.message, { 'www-authenticate': 'Bearer' });
  if (error instanceof UnsupportedAgentVersionError) return json(426, { error: { code: error.code, message: error.message, acceptedVersions: error.accepted } });
  if (error instanceof LeaseLostError) return errorJson(409, error.code, error.message);
  if (error instanceof InvalidTransitionError) return errorJson(409, error.code, error.message);
  if (error instanceof ArgusError && error.code === 'CONFLICT') return errorJson(409, error.code, 'a concurrent write won; read the item again');
  return undefined;
}

/** One handler for every agent route (one Lambda on AWS: functions/api/agents.ts). */
export function createAgentHandler(context: ContextSource, options: AgentApiOptions = {}): ApiHandler {
  const timeouts = options.timeouts ?? DEFAULT_WORK_TIMEOUTS;
  return withApiMiddleware(async (event) => {
    const r = routeByKey(event.routeKey);
    if (!r || !isAgentOp(r.operation)) throw new BadRequestError(`no route ${event.routeKey}`, 404);
    try {
      return await agentRoute(event, r.operation.op, context, options, timeouts);
    } catch (error) {
      const mapped = agentError(error);
      if (mapped) return mapped;
      throw error;
    }
  }, options);
}
