import { stringify } from 'yaml';
import type { ComplianceEngine } from '../core/compliance/engine.ts';
import { cmp } from '../core/compliance/evaluate-resource.ts';
import { NotFoundError } from '../core/errors.ts';
import { toManifest } from '../core/manifest/parse.ts';
import type { DefinitionKind, ResourceAttestationState } from '../core/model.ts';

/** `argus describe`: the definition, then why it stands where it does. */
export function describe(engine: ComplianceEngine, kind: DefinitionKind, name: string): string {
  const def = engine.index.get(kind, name);
  if (!def) throw new NotFoundError(kind, name);
  const lines = [stringify(toManifest(def)).trimEnd(), ''];
  if (kind === 'Resource') lines.push(...describeResource(engine, name));
  if (kind === 'Requirement') lines.push(...describeRequirement(engine, name));
  if (kind === 'Implementation' || kind === 'Attestation') lines.push(...describeUsage(engine, kind, name));
  return lines.join('\n');
}

function attestationLine(state: ResourceAttestationState | undefined, att: string): string {
  if (!state) return `      attestation ${att}: not applicable`;
  const r = state.result;
  const when = r ? ` at ${new Date(r.executedAt).toISOString()}` : '';
  const stale = state.staleReason ? ` (${state.staleReason})` : '';
  const msg = r && state.status !== 'Passed' ? `: ${r.message}` : '';
  return `      attestation ${att}: ${state.status}${stale}${when}${msg}`;
}

function describeResource(engine: ComplianceEngine, name: string): string[] {
  const evaluation = engine.evaluation(name);
  const effective = engine.effective(name);
  const out: string[] = ['Compliance:'];
  if (!evaluation || evaluation.requirements.size === 0) out.push('  no requirement applies to this resource itself');
  for (const [reqName, own] of [...(evaluation?.requirements ?? [])].sort((a, b) => cmp(a[0], b[0]))) {
    const req = engine.index.requirements.get(reqName);
    const eff = effective?.get(reqName);
    out.push(`  requirement ${reqName} v${req?.spec.version ?? '?'} (${req?.spec.title ?? ''}): ${own.status} (${own.reason}); effective ${eff?.status} (${eff?.reason})`);
    if (own.waiver) out.push(`    waiver ${own.waiver}`);
    if (own.implementations.length === 0) out.push('    no implementation reaches this resource');
    for (const implName of own.implementations) {
      const ri = evaluation?.implementations.get(implName);
      const impl = engine.index.implementations.get(implName);
      const via = impl?.spec.targets.ids?.includes(name) ? 'targets it' : 'cascades from an ancestor';
      out.push(`    implementation ${implName}${impl?.spec.class ? ` [${impl.spec.class}]` : ''} (${via}): ${ri?.valid ? 'valid' : 'not valid'}`);
      for (const att of ri?.attestations ?? []) out.push(attestationLine(evaluation?.attestations.get(att), att));
    }
  }
  const rolledOnly = [...(effective ?? [])].filter(([req]) => !evaluation?.requirements.has(req));
  for (const [req, eff] of rolledOnly.sort((a, b) => cmp(a[0], b[0]))) out.push(`  requirement ${req} (from descendants): ${eff.status} (${eff.reason})`);
  const children = [...(engine.index.children.get(name) ?? [])].filter((c) => engine.index.resources.has(c)).sort(cmp);
  if (children.length > 0) {
    out.push('', 'Children (roll up into this resource):');
    for (const c of children) {
      const eff = [...(engine.effective(c) ?? [])].map(([req, s]) => `${req}=${s.status}`).join(', ');
      out.push(`  ${c} (${engine.index.resources.get(c)?.spec.type}): ${eff || 'no requirements'}`);
    }
  }
  return out;
}

function describeRequirement(engine: ComplianceEngine, name: string): string[] {
  const counts = new Map<string, number>();
  const notCompliant: string[] = [];
  for (const r of [...engine.index.resources.keys()].sort(cmp)) {
    const own = engine.evaluation(r)?.requirements.get(name);
    if (!own) continue;
    counts.set(own.status, (counts.get(own.status) ?? 0) + 1);
    if (own.status === 'NonCompliant' || own.status === 'Unknown') notCompliant.push(`  ${r}: ${own.status} (${own.reason})`);
  }
  const impls = [...engine.index.implementations.values()].filter((i) => i.spec.requirements.includes(name)).map((i) => i.metadata.name);
  return [
    `Implementations: ${impls.length > 0 ? impls.join(', ') : 'none (every applicable resource is a NoImplementation gap)'}`,
    `Resources: ${[...counts].map(([s, n]) => `${s} ${n}`).join(', ') || 'none applicable'}`,
    ...(notCompliant.length > 0 ? ['Not compliant:', ...notCompliant.slice(0, 50)] : []),
    ...(notCompliant.length > 50 ? [`  … and ${notCompliant.length - 50} more`] : []),
  ];
}

function describeUsage(engine: ComplianceEngine, kind: 'Implementation' | 'Attestation', name: string): string[] {
  const counts = new Map<string, number>();
  for (const r of engine.index.resources.keys()) {
    const e = engine.evaluation(r);
    if (kind === 'Implementation') {
      const ri = e?.implementations.get(name);
      if (ri) counts.set(ri.valid ? 'valid' : 'not valid', (counts.get(ri.valid ? 'valid' : 'not valid') ?? 0) + 1);
    } else {
      const ra = e?.attestations.get(name);
      if (ra) counts.set(ra.status, (counts.get(ra.status) ?? 0) + 1);
    }
  }
  return [`On resources: ${[...counts].map(([s, n]) => `${s} ${n}`).join(', ') || 'none'}`];
}
