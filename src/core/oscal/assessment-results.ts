/**
 * Engine state → OSCAL 1.1.2 assessment results.
 *
 * - Resources are the assessed subjects: one `inventory-item` each in the result's
 *   `local-definitions`, referenced by observations as subjects of type `inventory-item`.
 * - Each attestation result is an `observation` (method TEST) made on its resource, collected at
 *   its run time, expiring with its freshness, with `relevant-evidence` pointing at a back-matter
 *   resource whose `rlink` names the stored output and carries its SHA-256 `hashes`; when the
 *   ledger entry is known, its sequence number and hash are props of the evidence.
 * - Each requirement is a `finding` on its control's objective (`<control>_obj`):
 *   `satisfied` when no pair is NonCompliant or Unknown and at least one is Compliant; otherwise
 *   `not-satisfied` (reason `fail`, or `other` when only unknown or waived pairs stand in the way).
 * - Each active Waiver is a `risk` with status `deviation-approved`: the approved exception,
 *   its reason as the risk statement, its expiry as the risk `deadline`, and the approver as the
 *   party that logged the `deviation-approved` status change in the risk log. A waived pair is
 *   therefore neither satisfied nor hidden: it is a known, accepted deviation linked from the
 *   finding. An expired waiver is not exported (its pairs count again).
 */
import type { ComplianceEngine } from '../compliance/engine.ts';
import { cmp } from '../compliance/evaluate-resource.ts';
import type { AttestationResult, Requirement, ResourceAttestationState } from '../model.ts';
import { buildReport, type ComplianceReport, type ReportFinding } from '../report.ts';
import { OSCAL_CONTROL_LABEL } from './catalog-import.ts';
import { ARGUS_NS, nameUuid, oscalControlId } from './ids.ts';

export const OSCAL_VERSION = '1.1.2';

export interface LedgerRef {
  readonly seq: number;
  readonly hash: string;
}

export interface AssessmentResultsOptions {
  /** @default 'Argus continuous compliance assessment' */
  readonly title?: string;
  /** Where a stored output can be fetched, from its digest hex (e.g. a path under the state directory). */
  readonly evidenceHref?: (hex: string) => string;
  /** The ledger entry that recorded a result, when known (key: `resource\u0000attestation\u0000executedAt`). */
  readonly ledgerEntry?: (result: AttestationResult) => LedgerRef | undefined;
  /** Version string of the tool, shown in metadata. @default '0.1.0' */
  readonly toolVersion?: string;
}

type Json = Record<string, unknown>;

const prop = (name: string, value: string | number, extra: Json = {}): Json => ({ name, ns: ARGUS_NS, value: String(value), ...extra });
/** OSCAL strings may not be empty or start or end with whitespace. */
const text = (s: string, fallback: string): string => (s.trim() === '' ? fallback : s.trim());
const iso = (ms: number): string => new Date(ms).toISOString();

/** The OSCAL control id a requirement stands for. */
export function controlIdOf(req: Requirement): string {
  const label = req.metadata.labels[OSCAL_CONTROL_LABEL];
  if (label) return label;
  const nist = req.spec.frameworks.find((f) => f.startsWith('nist-800-53:'));
  if (nist) return oscalControlId(nist.slice('nist-800-53:'.length));
  return req.metadata.name;
}

/** Builds the assessment-results document from the engine (advance and flush it first). */
export function buildAssessmentResults(engine: ComplianceEngine, options: AssessmentResultsOptions = {}): Json {
  const report = buildReport(engine);
  const generatedAt = report.generatedAt;
  const { index } = engine;
  const inventoryUuid = (resource: string) => nameUuid('inventory-item', resource);

  // Observations: one per attestation result the engine holds.
  const observations: Json[] = [];
  const evidenceResources = new Map<string, Json>();
  const observationOf = new Map<string, string>();
  let start = Number.POSITIVE_INFINITY;
  for (const resource of [...index.resources.keys()].sort(cmp)) {
    const evaluation = engine.evaluation(resource);
    for (const [attName, state] of [...(evaluation?.attestations ?? [])].sort((a, b) => cmp(a[0], b[0]))) {
      const result = state.result;
      if (!result) continue;
      start = Math.min(start, result.executedAt);
      const uuid = nameUuid('observation', resource, attName, String(result.executedAt));
      observationOf.set(`${resource}\u0000${attName}`, uuid);
      observations.push(observation(uuid, state, result, inventoryUuid(resource), engine, options, evidenceResources));
    }
  }

  // Risks: one per active waiver, with the waived pairs.
  const risks: Json[] = [];
  const parties = new Map<string, Json>();
  const riskOfWaiver = new Map<string, string>();
  const waivedPairs = new Map<string, ReportFinding[]>();
  for (const f of report.findings) {
    if (!f.waiver) continue;
    const list = waivedPairs.get(f.waiver.name) ?? [];
    list.push(f);
    waivedPairs.set(f.waiver.name, list);
  }
  for (const [name, pairs] of [...waivedPairs].sort((a, b) => cmp(a[0], b[0]))) {
    const w = pairs[0]?.waiver;
    if (!w) continue;
    const partyUuid = nameUuid('party', w.approver);
    if (!parties.has(w.approver)) {
      parties.set(w.approver, {
        uuid: partyUuid,
        type: 'person',
        name: w.approver,
        ...(/^[^@\s]+@[^@\s]+$/.test(w.approver) ? { 'email-addresses': [w.approver] } : {}),
      });
    }
    const uuid = nameUuid('risk', name);
    riskOfWaiver.set(name, uuid);
    const requirement = index.requirements.get(pairs[0]?.requirement ?? '');
    const related = pairs.flatMap((p) => attestationsOf(engine, p).map((a) => observationOf.get(`${p.resource}\u0000${a}`))).filter((u): u is string => u !== undefined);
    risks.push({
      uuid,
      title: `Accepted risk: ${requirement?.spec.title ?? pairs[0]?.requirement} (waiver ${name})`,
      description: `Waiver ${name} exempts ${pairs.length} resource(s) from requirement ${pairs[0]?.requirement}: ${w.reason}`,
      statement: text(w.reason, 'no reason given'),
      props: [prop('waiver', name), prop('requirement', pairs[0]?.requirement ?? ''), ...pairs.map((p) => prop('waived-resource', p.resource))],
      status: 'deviation-approved',
      deadline: w.expiresAt,
      'risk-log': {
        entries: [
          {
            uuid: nameUuid('risk-log', name),
            title: 'Deviation approved',
            description: `Approved by ${w.approver} until ${w.expiresAt}: ${w.reason}`,
            // The waiver does not record when it was approved: the entry is dated by this export.
            start: generatedAt,
            end: w.expiresAt,
            'logged-by': [{ 'party-uuid': partyUuid, 'role-id': 'approver' }],
            'status-change': 'deviation-approved',
          },
        ],
      },
      ...(related.length > 0 ? { 'related-observations': [...new Set(related)].map((u) => ({ 'observation-uuid': u })) } : {}),
    });
  }

  // Findings: one per requirement with applicable pairs.
  const findings: Json[] = [];
  const controlIds: string[] = [];
  const byRequirement = new Map<string, ReportFinding[]>();
  for (const f of report.findings) {
    const list = byRequirement.get(f.requirement) ?? [];
    list.push(f);
    byRequirement.set(f.requirement, list);
  }
  for (const summary of report.requirements) {
    const req = index.requirements.get(summary.requirement);
    const pairs = byRequirement.get(summary.requirement);
    if (!req || !pairs || pairs.length === 0) continue;
    const controlId = controlIdOf(req);
    if (!controlIds.includes(controlId)) controlIds.push(controlId);
    const satisfied = summary.nonCompliant === 0 && summary.unknown === 0 && summary.compliant > 0;
    const reason = satisfied ? 'pass' : summary.nonCompliant > 0 ? 'fail' : 'other';
    const related = pairs.flatMap((p) => attestationsOf(engine, p).map((a) => observationOf.get(`${p.resource}\u0000${a}`))).filter((u): u is string => u !== undefined);
    const waivers = [...new Set(pairs.flatMap((p) => (p.waiver ? [p.waiver.name] : [])))].sort(cmp);
    const problems = pairs.filter((p) => p.status === 'NonCompliant' || p.status === 'Unknown');
    findings.push({
      uuid: nameUuid('finding', summary.requirement),
      title: `${controlId.toUpperCase()} ${req.spec.title}`,
      description:
        `Requirement ${summary.requirement} v${summary.version}: ${summary.compliant} of ${summary.applicable} resource(s) compliant, ` +
        `${summary.nonCompliant} non-compliant, ${summary.unknown} unknown, ${summary.exempt} exempt.` +
        (problems.length > 0 ? `\n\n${problems.slice(0, 50).map((p) => `* ${p.resource}: ${p.status} (${p.reason})${p.detail ? `: ${p.detail}` : ''}`).join('\n')}` : ''),
      props: [
        prop('requirement', summary.requirement),
        prop('requirement-version', summary.version),
        prop('compliant', summary.compliant),
        prop('non-compliant', summary.nonCompliant),
        prop('unknown', summary.unknown),
        prop('exempt', summary.exempt),
        prop('compliance-ratio', summary.ratio),
      ],
      target: {
        type: 'objective-id',
        'target-id': `${controlId}_obj`,
        title: req.spec.title,
        status: { state: satisfied ? 'satisfied' : 'not-satisfied', reason },
      },
      ...(related.length > 0 ? { 'related-observations': [...new Set(related)].map((u) => ({ 'observation-uuid': u })) } : {}),
      ...(waivers.length > 0 ? { 'related-risks': waivers.map((w) => ({ 'risk-uuid': riskOfWaiver.get(w) as string })) } : {}),
    });
  }

  const inventory = [...index.resources.values()]
    .sort((a, b) => cmp(a.metadata.name, b.metadata.name))
    .map((r) => ({
      uuid: inventoryUuid(r.metadata.name),
      description: `${r.spec.type} ${r.metadata.name}`,
      props: [
        prop('resource', r.metadata.name),
        prop('resource-type', r.spec.type),
        prop('resource-digest', r.spec.digest),
        ...(r.spec.parent ? [prop('parent', r.spec.parent)] : []),
      ],
    }));

  const planUuid = nameUuid('assessment-plan');
  const result: Json = {
    uuid: nameUuid('result', generatedAt),
    title: 'Argus continuous attestation',
    description: `Automated attestation of ${index.resources.size} resource(s) against ${report.requirements.length} requirement(s): ${report.totals.compliant} compliant, ${report.totals.nonCompliant} non-compliant, ${report.totals.unknown} unknown and ${report.totals.exempt} exempt pair(s).`,
    start: iso(Number.isFinite(start) ? start : engine.now),
    end: generatedAt,
    ...(inventory.length > 0 ? { 'local-definitions': { 'inventory-items': inventory } } : {}),
    'reviewed-controls': {
      'control-selections': [controlIds.length > 0 ? { 'include-controls': controlIds.map((id) => ({ 'control-id': id })) } : { 'include-all': {} }],
    },
    ...(observations.length > 0 ? { observations } : {}),
    ...(risks.length > 0 ? { risks } : {}),
    ...(findings.length > 0 ? { findings } : {}),
  };

  const approverParties = [...parties.values()];
  return {
    'assessment-results': {
      uuid: nameUuid('assessment-results', generatedAt),
      metadata: {
        title: options.title ?? 'Argus continuous compliance assessment',
        'last-modified': generatedAt,
        version: options.toolVersion ?? '0.1.0',
        'oscal-version': OSCAL_VERSION,
        roles: [
          { id: 'assessor', title: 'Assessor' },
          { id: 'approver', title: 'Risk acceptance approver' },
        ],
        parties: [{ uuid: nameUuid('party', 'argus'), type: 'organization', name: 'Argus (automated assessor)' }, ...approverParties],
        'responsible-parties': [
          { 'role-id': 'assessor', 'party-uuids': [nameUuid('party', 'argus')] },
          ...(approverParties.length > 0 ? [{ 'role-id': 'approver', 'party-uuids': approverParties.map((p) => p.uuid as string) }] : []),
        ],
      },
      'import-ap': { href: `#${planUuid}` },
      results: [result],
      'back-matter': {
        resources: [
          {
            uuid: planUuid,
            title: 'Argus assessment plan',
            description: 'The Implementations and Attestations stored in Argus are the assessment plan: each Attestation is an automated test with its provider and parameters.',
          },
          ...evidenceResources.values(),
        ],
      },
    },
  };
}

function observation(
  uuid: string,
  state: ResourceAttestationState,
  result: AttestationResult,
  subjectUuid: string,
  engine: ComplianceEngine,
  options: AssessmentResultsOptions,
  evidenceResources: Map<string, Json>,
): Json {
  const att = engine.index.attestations.get(result.attestation);
  const freshness = att?.spec.freshnessMs;
  const evidence: Json[] = [];
  if (result.evidenceDigest) {
    const hex = result.evidenceDigest.slice('sha256:'.length);
    const resourceUuid = nameUuid('evidence', hex);
    if (!evidenceResources.has(hex)) {
      evidenceResources.set(hex, {
        uuid: resourceUuid,
        title: `Attestation output ${hex.slice(0, 12)}`,
        props: [prop('evidence-digest', result.evidenceDigest)],
        rlinks: [{ href: options.evidenceHref?.(hex) ?? `argus-evidence:sha256:${hex}`, 'media-type': 'application/json', hashes: [{ algorithm: 'SHA-256', value: hex }] }],
      });
    }
    const entry = options.ledgerEntry?.(result);
    evidence.push({
      href: `#${resourceUuid}`,
      description: `Output of ${result.attestation} on ${result.resource}`,
      props: [prop('evidence-digest', result.evidenceDigest), ...(entry ? [prop('ledger-entry', entry.seq), prop('ledger-entry-hash', entry.hash)] : [])],
    });
  }
  return {
    uuid,
    title: `${result.attestation} on ${result.resource}`,
    description: text(`${result.outcome}: ${result.message}`, result.outcome),
    props: [
      prop('attestation', result.attestation),
      prop('resource', result.resource),
      prop('outcome', result.outcome),
      prop('status', state.status),
      ...(state.staleReason ? [prop('stale-reason', state.staleReason)] : []),
      ...(att ? [prop('provider', att.spec.provider)] : []),
      prop('resource-digest', result.resourceDigest),
      prop('attestation-digest', result.attestationDigest),
      ...Object.entries(result.requirementVersions)
        .sort((a, b) => cmp(a[0], b[0]))
        .map(([req, v]) => prop('requirement-version', `${req} v${v}`)),
    ],
    methods: ['TEST'],
    types: [result.outcome === 'Passed' ? 'control-objective' : 'finding'],
    subjects: [{ 'subject-uuid': subjectUuid, type: 'inventory-item' }],
    ...(evidence.length > 0 ? { 'relevant-evidence': evidence } : {}),
    collected: iso(result.executedAt),
    ...(freshness !== undefined ? { expires: iso(result.executedAt + freshness) } : {}),
  };
}

/** Attestations behind a (resource, requirement) pair: those of the implementations reaching it. */
function attestationsOf(engine: ComplianceEngine, pair: ReportFinding): string[] {
  const evaluation = engine.evaluation(pair.resource);
  const own = evaluation?.requirements.get(pair.requirement);
  const out: string[] = [];
  for (const impl of own?.implementations ?? []) for (const a of evaluation?.implementations.get(impl)?.attestations ?? []) out.push(a);
  return out;
}

export type { ComplianceReport };
