/**
 * Read models of derived state for the API: compliance per requirement, per resource (with the
 * roll-up of its children), per framework control, and a resource's attestation results with
 * their evidence digests. Computed from the engine as of now.
 */
import type { ComplianceEngine } from '../core/compliance/engine.ts';
import { cmp } from '../core/compliance/evaluate-resource.ts';
import { NotFoundError } from '../core/errors.ts';
import { COMPLIANCE_RANK, type ComplianceReason, type ComplianceStatus } from '../core/model.ts';
import { buildReport, type ComplianceReport, type ReportFinding, type RequirementSummary } from '../core/report.ts';
import type { ApiContext } from './context.ts';
import { decodeToken, encodeToken, parseLimit, type Page } from './definitions.ts';

async function current(ctx: ApiContext): Promise<ComplianceEngine> {
  const engine = await ctx.engine();
  engine.advanceTo(ctx.clock.now());
  engine.flush();
  return engine;
}

/** Offset pages over a computed, sorted list (tokens are tied to the list they came from). */
export function pageOf<T>(items: readonly T[], scope: string, query: { limit?: string; nextToken?: string }): Page<T> {
  const limit = parseLimit(query.limit);
  const token = decodeToken(scope, query.nextToken);
  const start = token === undefined ? 0 : Number(token);
  const slice = items.slice(start, start + limit);
  const next = start + limit;
  return { items: slice, ...(next < items.length ? { nextToken: encodeToken(scope, String(next)) } : {}) };
}

export interface ComplianceOverview {
  readonly generatedAt: string;
  readonly totals: ComplianceReport['totals'];
  readonly requirements: RequirementSummary[];
}

export async function complianceOverview(ctx: ApiContext): Promise<ComplianceOverview> {
  const report = buildReport(await current(ctx));
  return { generatedAt: report.generatedAt, totals: report.totals, requirements: report.requirements };
}

export interface RequirementCompliance {
  readonly generatedAt: string;
  readonly summary: RequirementSummary;
  readonly pairs: Page<ReportFinding>;
}

export async function requirementCompliance(ctx: ApiContext, name: string, query: { limit?: string; nextToken?: string }): Promise<RequirementCompliance> {
  const report = buildReport(await current(ctx));
  const summary = report.requirements.find((r) => r.requirement === name);
  if (!summary) throw new NotFoundError('Requirement', name);
  const findings = report.findings.filter((f) => f.requirement === name);
  return { generatedAt: report.generatedAt, summary, pairs: pageOf(findings, `compliance/requirement/${name}`, query) };
}

export interface ResourceRequirementView {
  readonly requirement: string;
  /** Own status; absent when only descendants hold the requirement. */
  readonly status?: ComplianceStatus;
  readonly reason?: ComplianceReason;
  readonly effectiveStatus: ComplianceStatus;
  readonly effectiveReason: ComplianceReason;
  readonly implementations: readonly string[];
  readonly waiver?: string;
}

export interface ChildView {
  readonly resource: string;
  readonly type: string;
  readonly requirements: ReadonlyArray<{ readonly requirement: string; readonly effectiveStatus: ComplianceStatus; readonly effectiveReason: ComplianceReason }>;
}

export interface ResourceCompliance {
  readonly resource: string;
  readonly type: string;
  readonly parent?: string;
  /** Worst effective status over its requirements (Compliant when none applies). */
  readonly effectiveStatus: ComplianceStatus;
  readonly requirements: ResourceRequirementView[];
  /** Direct children and their effective status per requirement: what the roll-up is made of. */
  readonly children: ChildView[];
}

function worst(statuses: Iterable<ComplianceStatus>): ComplianceStatus {
  let out: ComplianceStatus = 'Compliant';
  for (const s of statuses) if (COMPLIANCE_RANK[s] > COMPLIANCE_RANK[out]) out = s;
  return out;
}

export async function resourceCompliance(ctx: ApiContext, name: string): Promise<ResourceCompliance> {
  const engine = await current(ctx);
  const resource = engine.index.resources.get(name);
  if (!resource) throw new NotFoundError('Resource', name);
  const own = engine.evaluation(name)?.requirements ?? new Map();
  const effective = engine.effective(name) ?? new Map();
  const requirements: ResourceRequirementView[] = [];
  for (const req of [...new Set([...own.keys(), ...effective.keys()])].sort(cmp)) {
    const o = own.get(req);
    const e = effective.get(req) ?? (o ? { status: o.status, reason: o.reason } : undefined);
    if (!e) continue;
    requirements.push({
      requirement: req,
      ...(o ? { status: o.status, reason: o.reason } : {}),
      effectiveStatus: e.status,
      effectiveReason: e.reason,
      implementations: o?.implementations ?? [],
      ...(o?.waiver ? { waiver: o.waiver } : {}),
    });
  }
  const children: ChildView[] = [];
  for (const child of [...(engine.index.children.get(name) ?? [])].sort(cmp)) {
    const def = engine.index.resources.get(child);
    if (!def) continue;
    const eff = engine.effective(child) ?? new Map();
    children.push({
      resource: child,
      type: def.spec.type,
      requirements: [...eff].sort((a, b) => cmp(a[0], b[0])).map(([requirement, s]) => ({ requirement, effectiveStatus: s.status, effectiveReason: s.reason })),
    });
  }
  return {
    resource: name,
    type: resource.spec.type,
    ...(resource.spec.parent === undefined ? {} : { parent: resource.spec.parent }),
    effectiveStatus: worst(requirements.map((r) => r.effectiveStatus)),
    requirements,
    children,
  };
}

export interface ControlCompliance {
  readonly framework: string;
  readonly control: string;
  readonly generatedAt: string;
  /** Worst status over the requirements that map to the control. */
  readonly status: ComplianceStatus;
  readonly requirements: RequirementSummary[];
  readonly pairs: Page<ReportFinding>;
}

/** Requirements whose `frameworks` list `<framework>:<control>` (compared case-insensitively). */
export async function controlCompliance(ctx: ApiContext, framework: string, control: string, query: { limit?: string; nextToken?: string }): Promise<ControlCompliance> {
  const report = buildReport(await current(ctx));
  const wanted = `${framework}:${control}`.toLowerCase();
  const requirements = report.requirements.filter((r) => r.frameworks.some((f) => f.toLowerCase() === wanted));
  if (requirements.length === 0) throw new NotFoundError('Control', `${framework}:${control}`);
  const names = new Set(requirements.map((r) => r.requirement));
  const findings = report.findings.filter((f) => names.has(f.requirement));
  const status = worst(
    requirements.map((r): ComplianceStatus => (r.nonCompliant > 0 ? 'NonCompliant' : r.unknown > 0 ? 'Unknown' : 'Compliant')),
  );
  return { framework, control, generatedAt: report.generatedAt, status, requirements, pairs: pageOf(findings, `compliance/control/${wanted}`, query) };
}

export interface ResultView {
  readonly attestation: string;
  readonly provider?: string;
  readonly status: string;
  readonly staleReason?: string;
  readonly result?: {
    readonly outcome: string;
    readonly message: string;
    readonly executedAt: string;
    readonly durationMs: number;
    readonly requirementVersions: Readonly<Record<string, number>>;
    readonly resourceDigest: string;
    readonly attestationDigest: string;
  };
  readonly evidence?: { readonly digest: string; readonly href?: string };
}

export interface ResourceResults {
  readonly resource: string;
  readonly generatedAt: string;
  readonly results: ResultView[];
}

/** The resource's attestations: lifecycle status, why Stale, and the last result with its evidence digest. */
export async function resourceResults(ctx: ApiContext, name: string): Promise<ResourceResults> {
  const engine = await current(ctx);
  if (!engine.index.resources.has(name)) throw new NotFoundError('Resource', name);
  const states = engine.evaluation(name)?.attestations ?? new Map();
  const results: ResultView[] = [];
  for (const [attestation, state] of [...states].sort((a, b) => cmp(a[0], b[0]))) {
    const provider = engine.index.attestations.get(attestation)?.spec.provider;
    const r = state.result;
    const href = r?.evidenceDigest ? ctx.evidenceHref?.(name, attestation, r.evidenceDigest) : undefined;
    results.push({
      attestation,
      ...(provider === undefined ? {} : { provider }),
      status: state.status,
      ...(state.staleReason ? { staleReason: state.staleReason } : {}),
      ...(r
        ? {
            result: {
              outcome: r.outcome,
              message: r.message,
              executedAt: new Date(r.executedAt).toISOString(),
              durationMs: r.durationMs,
              requirementVersions: r.requirementVersions,
              resourceDigest: r.resourceDigest,
              attestationDigest: r.attestationDigest,
            },
          }
        : {}),
      ...(r?.evidenceDigest ? { evidence: { digest: r.evidenceDigest, ...(href ? { href } : {}) } } : {}),
    });
  }
  return { resource: name, generatedAt: new Date(engine.now).toISOString(), results };
}
