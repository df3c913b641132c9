import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalRuntime } from '../../src/adapters/local/local-runtime.ts';
import { oscalAssessmentResults } from '../../src/cli/commands/oscal.ts';
import { attestation, implementation, requirement, resource, waiver } from '../support/builders.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const OSCAL = path.resolve(repoRoot, '..', 'shared', 'data', 'oscal');
const T0 = Date.UTC(2026, 10, 25);
const DAY = 86_400_000;

/** Reads a path out of parsed JSON for assertions: `get(doc, 'a', 0, 'b')`. */
function get(value: unknown, ...keys: Array<string | number>): unknown {
  let v = value;
  for (const k of keys) v = typeof v === 'object' && v !== null ? (v as Record<string | number, unknown>)[k] : undefined;
  return v;
}
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const str = (value: unknown): string => (typeof value === 'string' ? value : '');

let validate: ValidateFunction;
beforeAll(() => {
  const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;
  const ajv = new Ajv({ strict: false, unicodeRegExp: true, allErrors: false });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  validate = ajv.compile(JSON.parse(fs.readFileSync(path.join(OSCAL, 'schema', 'oscal_assessment-results_schema.json'), 'utf8')));
});

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function catalog() {
  return [
    resource('app', 'App'),
    resource('bucket-a', 'AWS::S3::Bucket', { parent: 'app', document: { enc: true, retain: true } }),
    resource('bucket-b', 'AWS::S3::Bucket', { parent: 'app', document: { enc: false, retain: false } }),
    requirement('sc-28', { title: 'Protection of Information at Rest', appliesTo: { types: ['AWS::S3::Bucket'] }, frameworks: ['nist-800-53:SC-28'] }),
    requirement('au-11', { title: 'Audit Record Retention', appliesTo: { types: ['AWS::S3::Bucket'] }, frameworks: ['nist-800-53:AU-11'] }),
    attestation('encrypted', { resourceTypes: ['AWS::S3::Bucket'], params: { expression: 'resource.enc == true' } }),
    attestation('retained', { resourceTypes: ['AWS::S3::Bucket'], params: { expression: 'resource.retain == true' } }),
    implementation('encrypt', { requirements: ['sc-28'], attestations: ['encrypted'], targets: { ids: ['app'] } }),
    implementation('retain', { requirements: ['au-11'], attestations: ['retained'], targets: { ids: ['app'] } }),
    waiver('legacy-retention', { requirement: 'au-11', resources: { ids: ['bucket-b'] }, reason: 'Legacy bucket, retention moves to the archive in Q1', approver: 'ciso@example.com', expiresAt: T0 + DAY }),
  ];
}

/** A runtime with the catalog applied and attested at T0; `clock.t` moves time. */
async function attested(): Promise<{ rt: LocalRuntime; home: string; clock: { t: number; now(): number } }> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'argus-oscal-'));
  dirs.push(home);
  const clock = { t: T0, now() { return this.t; } };
  const rt = await LocalRuntime.open({ home, fsync: false, clock });
  await rt.apply(catalog());
  await rt.reconcile();
  return { rt, home, clock };
}

const resultsOf = (doc: unknown) => get(doc, 'assessment-results', 'results', 0);
const findingFor = (doc: unknown, control: string) => list(get(resultsOf(doc), 'findings')).find((f) => get(f, 'target', 'target-id') === `${control}_obj`);
const byName = (props: unknown, name: string) => list(props).find((p) => get(p, 'name') === name);

describe('OSCAL assessment-results export', () => {
  it('is valid against the OSCAL 1.1.2 assessment-results schema', async () => {
    const { rt, home } = await attested();
    try {
      const doc = oscalAssessmentResults(rt, home);
      const ok = validate(doc);
      expect(validate.errors ?? []).toEqual([]);
      expect(ok).toBe(true);
    } finally {
      await rt.close();
    }
  });

  it('reports each control as a finding: satisfied, or not-satisfied when a resource fails', async () => {
    const { rt, home } = await attested();
    try {
      const doc = oscalAssessmentResults(rt, home)

      expect(get(findingFor(doc, 'sc-28'), 'target', 'status')).toEqual({ state: 'not-satisfied', reason: 'fail' });
      expect(get(findingFor(doc, 'au-11'), 'target', 'status')).toEqual({ state: 'satisfied', reason: 'pass' });
      expect(get(resultsOf(doc), 'reviewed-controls', 'control-selections', 0, 'include-controls')).toEqual([{ 'control-id': 'au-11' }, { 'control-id': 'sc-28' }]);
    } finally {
      await rt.close();
    }
  });

  it('makes one observation per attestation result, on its resource, with its outcome', async () => {
    const { rt, home } = await attested();
    try {
      const doc = oscalAssessmentResults(rt, home)
      const result = resultsOf(doc);
      const inventory = new Map(list(get(result, 'local-definitions', 'inventory-items')).map((i) => [get(i, 'uuid'), i]));
      const observations = list(get(result, 'observations'));

      expect(observations).toHaveLength(4);
      const b = observations.find((o) => get(o, 'title') === 'encrypted on bucket-b');
      expect(get(b, 'types')).toEqual(['finding']);
      expect(byName(get(b, 'props'), 'outcome')).toMatchObject({ value: 'Failed' });
      expect(get(b, 'collected')).toBe(new Date(T0).toISOString());
      const subject = inventory.get(get(b, 'subjects', 0, 'subject-uuid'));
      expect(byName(get(subject, 'props'), 'resource')).toMatchObject({ value: 'bucket-b' });
      const failing = list(get(findingFor(doc, 'sc-28'), 'related-observations')).map((r) => get(r, 'observation-uuid'));
      expect(failing).toContain(get(b, 'uuid'));
    } finally {
      await rt.close();
    }
  });

  it('links each observation to its stored output with the SHA-256 digest and its ledger entry', async () => {
    const { rt, home } = await attested();
    try {
      const doc = oscalAssessmentResults(rt, home)
      const resources = new Map(list(get(doc, 'assessment-results', 'back-matter', 'resources')).map((r) => [`#${str(get(r, 'uuid'))}`, r]));
      const observations = list(get(resultsOf(doc), 'observations'));
      expect(observations).toHaveLength(4);
      for (const o of observations) {
        const evidence = get(o, 'relevant-evidence', 0);
        const digest = str(get(byName(get(evidence, 'props'), 'evidence-digest'), 'value'));
        expect(byName(get(evidence, 'props'), 'ledger-entry')).toBeDefined();
        const link = get(resources.get(str(get(evidence, 'href'))), 'rlinks', 0);
        expect(get(link, 'hashes')).toEqual([{ algorithm: 'SHA-256', value: digest.slice(7) }]);
        const bytes = fs.readFileSync(path.resolve(process.cwd(), str(get(link, 'href'))));
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(digest.slice(7));
      }
    } finally {
      await rt.close();
    }
  });

  it('shows an active waiver as an approved deviation with its reason, approver and expiry', async () => {
    const { rt, home } = await attested();
    try {
      const doc = oscalAssessmentResults(rt, home)
      const risks = list(get(resultsOf(doc), 'risks'));

      expect(risks).toHaveLength(1);
      const risk = risks[0];
      expect(risk).toMatchObject({ status: 'deviation-approved', statement: 'Legacy bucket, retention moves to the archive in Q1', deadline: new Date(T0 + DAY).toISOString() });
      expect(byName(get(risk, 'props'), 'waived-resource')).toMatchObject({ value: 'bucket-b' });
      const log = get(risk, 'risk-log', 'entries', 0);
      expect(get(log, 'status-change')).toBe('deviation-approved');
      const approver = list(get(doc, 'assessment-results', 'metadata', 'parties')).find((p) => get(p, 'uuid') === get(log, 'logged-by', 0, 'party-uuid'));
      expect(approver).toMatchObject({ type: 'person', name: 'ciso@example.com', 'email-addresses': ['ciso@example.com'] });
      expect(get(findingFor(doc, 'au-11'), 'related-risks')).toEqual([{ 'risk-uuid': get(risk, 'uuid') }]);
    } finally {
      await rt.close();
    }
  });

  it('stops counting an expired waiver: the report and the export show the pair failing again', async () => {
    const { rt, home, clock } = await attested();
    try {
      expect(rt.report().findings.find((f) => f.resource === 'bucket-b' && f.requirement === 'au-11')).toMatchObject({ status: 'Exempt', waiver: { name: 'legacy-retention', approver: 'ciso@example.com' } });

      clock.t = T0 + 2 * DAY;
      await rt.reconcile();
      const report = rt.report();
      const doc = oscalAssessmentResults(rt, home)

      const pair = report.findings.find((f) => f.resource === 'bucket-b' && f.requirement === 'au-11');
      expect(pair).toMatchObject({ status: 'NonCompliant' });
      expect(pair?.waiver).toBeUndefined();
      expect(report.requirements.find((r) => r.requirement === 'au-11')).toMatchObject({ exempt: 0, nonCompliant: 1 });
      expect(get(resultsOf(doc), 'risks')).toBeUndefined();
      expect(get(findingFor(doc, 'au-11'), 'target', 'status')).toEqual({ state: 'not-satisfied', reason: 'fail' });
      expect(validate(doc)).toBe(true);
    } finally {
      await rt.close();
    }
  });

  it('validates NIST’s own example with the same schema setup (the check itself works)', () => {
    const example = JSON.parse(fs.readFileSync(path.join(OSCAL, 'ifa_assessment-results-example.json'), 'utf8'));
    expect(validate(example)).toBe(true);
    expect(validate({ 'assessment-results': { uuid: 'not-a-uuid' } })).toBe(false);
  });
});
