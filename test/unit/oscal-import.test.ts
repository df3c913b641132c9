import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ComplianceEngine } from '../../src/core/compliance/engine.ts';
import { toManifest } from '../../src/core/manifest/parse.ts';
import { validateDocument } from '../../src/core/manifest/validate.ts';
import type { Requirement } from '../../src/core/model.ts';
import { mergeImported, requirementsFromCatalog } from '../../src/core/oscal/catalog-import.ts';
import { OscalError } from '../../src/core/oscal/oscal-error.ts';
import { attestation, implementation, requirement, resource, resultFor } from '../support/builders.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const OSCAL = path.resolve(repoRoot, '..', 'shared', 'data', 'oscal');
const T0 = Date.UTC(2026, 10, 25);

function readCatalog(baseline: 'LOW' | 'MODERATE'): unknown {
  return JSON.parse(fs.readFileSync(path.join(OSCAL, `NIST_SP-800-53_rev5_${baseline}-baseline-resolved-profile_catalog.json`), 'utf8'));
}

const low = requirementsFromCatalog(readCatalog('LOW'), { file: 'low.json' });
const byName = (reqs: readonly Requirement[], name: string) => reqs.find((r) => r.metadata.name === name);

describe('OSCAL catalog import', () => {
  it('turns every control and enhancement of the LOW baseline into a requirement', () => {
    expect(low.framework).toBe('nist-800-53');
    expect(low.requirements).toHaveLength(149);
    expect(byName(low.requirements, 'ia-2.1')?.spec.frameworks).toEqual(['nist-800-53:IA-2(1)']);
  });

  it('keeps the control id as framework reference, the title, the statement and the parameters', () => {
    const ac1 = byName(low.requirements, 'ac-1');

    expect(ac1?.spec).toMatchObject({ title: 'Policy and Procedures', frameworks: ['nist-800-53:AC-1'], version: 1 });
    expect(ac1?.spec.description).toMatch(/^a\. Develop, document, and disseminate to \[Assignment: organization-defined personnel or roles\]:/);
    expect(ac1?.spec.description).toContain('[Selection (one or more): organization-level; mission/business process-level; system-level]');
    expect(ac1?.spec.parameters?.['ac-1_prm_1']).toMatchObject({ label: 'organization-defined personnel or roles' });
    expect(ac1?.metadata.labels).toMatchObject({ framework: 'nist-800-53', family: 'ac', 'argus.dev/oscal-control': 'ac-1' });
  });

  it('imports the MODERATE baseline, a superset of LOW with more enhancements', () => {
    const moderate = requirementsFromCatalog(readCatalog('MODERATE'));

    expect(moderate.requirements).toHaveLength(287);
    const names = new Set(moderate.requirements.map((r) => r.metadata.name));
    for (const r of low.requirements) expect(names.has(r.metadata.name)).toBe(true);
    expect(byName(moderate.requirements, 'ac-2.1')?.spec.frameworks).toEqual(['nist-800-53:AC-2(1)']);
    expect(byName(moderate.requirements, 'sc-28')?.spec.title).toBe('Protection of Information at Rest');
  });

  it('renders every parameter insertion and produces definitions the manifest validator accepts', () => {
    const moderate = requirementsFromCatalog(readCatalog('MODERATE'));
    for (const [i, def] of moderate.requirements.entries()) {
      expect(def.spec.description ?? '').not.toContain('{{');
      const { issues } = validateDocument(toManifest(def), 'moderate.json', i + 1, { providers: new Map() });
      expect(issues).toEqual([]);
    }
  });

  it('refuses an unresolved profile and a document that is not a catalog', () => {
    const profile = JSON.parse(fs.readFileSync(path.join(OSCAL, 'NIST_SP-800-53_rev5_MODERATE-baseline_profile.json'), 'utf8'));

    expect(() => requirementsFromCatalog(profile, { file: 'profile.json' })).toThrow(/resolve it to a catalog first/);
    expect(() => requirementsFromCatalog({ 'assessment-results': {} })).toThrow(OscalError);
  });

  it('names requirements with a prefix and a framework when asked', () => {
    const imported = requirementsFromCatalog(readCatalog('LOW'), { namePrefix: 'low-', framework: 'nist-800-53-low' });

    expect(byName(imported.requirements, 'low-sc-7')?.spec.frameworks).toEqual(['nist-800-53-low:SC-7']);
  });
});

describe('OSCAL re-import', () => {
  it('leaves requirements unchanged when the catalog did not change', () => {
    const merged = mergeImported(low.requirements, (name) => byName(low.requirements, name));

    expect(merged.definitions).toEqual([]);
    expect(merged.unchanged).toHaveLength(149);
  });

  it('bumps the version of a requirement whose statement changed, and only that one', () => {
    const changed = JSON.parse(JSON.stringify(readCatalog('LOW'))) as { catalog: { groups: Array<{ id: string; controls: Array<{ id: string; parts: Array<{ name: string; prose?: string; parts?: Array<{ prose?: string }> }> }> }> } };
    const sc = changed.catalog.groups.find((g) => g.id === 'sc');
    const sc7 = sc?.controls.find((c) => c.id === 'sc-7');
    const item = sc7?.parts.find((p) => p.name === 'statement')?.parts?.[0];
    if (!item) throw new Error('fixture: sc-7 statement');
    item.prose = `${item.prose ?? ''} Revised.`;

    const reimported = requirementsFromCatalog(changed);
    const merged = mergeImported(reimported.requirements, (name) => byName(low.requirements, name));

    expect(merged.bumped).toEqual([{ name: 'sc-7', from: 1, to: 2 }]);
    expect(merged.definitions.map((d) => d.metadata.name)).toEqual(['sc-7']);
    expect(merged.definitions[0]?.spec.description).toContain('Revised.');
  });

  it('keeps what people wrote on a stored requirement: selector, severity and other references', () => {
    const own = requirement('sc-28', { title: 'Data at rest', frameworks: ['soc2:CC6.1'], severity: 'high', appliesTo: { types: ['AWS::S3::Bucket'] } });
    const moderate = requirementsFromCatalog(readCatalog('MODERATE'));

    const merged = mergeImported(moderate.requirements, (name) => (name === 'sc-28' ? own : undefined));
    const sc28 = byName(merged.definitions, 'sc-28');

    expect(sc28?.spec).toMatchObject({ title: 'Protection of Information at Rest', version: 2, severity: 'high', appliesTo: { types: ['AWS::S3::Bucket'] } });
    expect(sc28?.spec.frameworks).toEqual(['soc2:CC6.1', 'nist-800-53:SC-28']);
  });

  it('makes a result recorded under the old version Stale in the engine', () => {
    const ac1 = byName(low.requirements, 'ac-1');
    if (!ac1) throw new Error('fixture');
    const engine = ComplianceEngine.load(
      [ac1, resource('org', 'Org'), attestation('policy-published'), implementation('policies', { requirements: ['ac-1'], attestations: ['policy-published'] })],
      [],
      T0,
    );
    engine.putResult(resultFor(engine, 'org', 'policy-published', 'Passed'));
    engine.flush();
    expect(engine.evaluation('org')?.requirements.get('ac-1')?.status).toBe('Compliant');

    const changed = { ...ac1, spec: { ...ac1.spec, description: `${ac1.spec.description ?? ''}\nc. Revised.` } };
    const merged = mergeImported([changed], () => ac1);
    for (const def of merged.definitions) engine.upsertDefinition(def);
    engine.flush();

    expect(merged.bumped).toEqual([{ name: 'ac-1', from: 1, to: 2 }]);
    expect(engine.evaluation('org')?.attestations.get('policy-published')).toMatchObject({ status: 'Stale', staleReason: 'RequirementVersionChanged' });
    expect(engine.evaluation('org')?.requirements.get('ac-1')?.status).toBe('Unknown');
  });
});
