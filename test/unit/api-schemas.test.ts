import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { openApiDocument } from '../../src/api/openapi.ts';
import { ROUTES } from '../../src/api/routes.ts';
import { KIND_SCHEMAS } from '../../src/api/schemas.ts';
import { validateDocument } from '../../src/core/manifest/validate.ts';
import { API_VERSION, DEFINITION_KINDS, type DefinitionKind } from '../../src/core/model.ts';
import { providerMap } from '../../src/api/context.ts';
import { defaultProviders } from '../../src/providers/registry.ts';

const providers = providerMap(defaultProviders());
const issuesOf = (kind: DefinitionKind, spec: Record<string, unknown>) =>
  validateDocument({ apiVersion: API_VERSION, kind, metadata: { name: 'x' }, spec }, 'test', 1, { providers }).issues;

describe('the kind schema table', () => {
  it.each(DEFINITION_KINDS)('lists exactly the spec fields the validator accepts for %s', (kind) => {
    const fields = Object.keys(KIND_SCHEMAS[kind].spec);
    const unknownFor = (spec: Record<string, unknown>) => issuesOf(kind, spec).filter((i) => i.message.startsWith('unknown field')).map((i) => i.path);
    // null counts as absent, so only the field's name is being tested.
    expect(unknownFor(Object.fromEntries(fields.map((f) => [f, null])))).toEqual([]);
    expect(unknownFor({ notAField: null })).toEqual(['spec.notAField']);
  });

  it.each(DEFINITION_KINDS)('marks as required exactly the fields the validator requires for %s', (kind) => {
    const required = Object.entries(KIND_SCHEMAS[kind].spec).filter(([, f]) => f.required).map(([n]) => `spec.${n}`);
    const reported = issuesOf(kind, {}).filter((i) => i.message === 'required').map((i) => i.path);
    expect(reported.sort()).toEqual(required.sort());
  });

  it.each(DEFINITION_KINDS)('gives the defaults the validator applies for %s', (kind) => {
    const minimal: Record<DefinitionKind, Record<string, unknown>> = {
      Requirement: { title: 't' },
      Implementation: { requirements: ['r'], targets: {}, attestations: ['a'] },
      Attestation: { provider: 'cel', params: { expression: 'true' } },
      Resource: { type: 'T' },
      Provider: { type: 'local' },
      Waiver: { requirement: 'r', resources: {}, reason: 'r', approver: 'a', expires: '2030-01-01' },
      ComplianceObjective: { target: 0.9 },
    };
    const raw = { apiVersion: API_VERSION, kind, metadata: { name: 'x' }, spec: minimal[kind] };
    const { definitions, issues } = validateDocument(raw, 'test', 1, { providers });
    expect(issues).toEqual([]);
    const spec = definitions[0]?.def.spec as unknown as Record<string, unknown>;
    for (const [name, field] of Object.entries(KIND_SCHEMAS[kind].spec)) {
      if (field.default === undefined || field.type === 'duration' || field.type === 'document' || name in minimal[kind]) continue;
      expect(spec[name], `${kind}.spec.${name}`).toEqual(field.default);
    }
  });
});

describe('the OpenAPI document', () => {
  const doc = openApiDocument();
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema(doc, 'openapi.json');
  const schemaFor = (kind: string) => {
    const validate = ajv.getSchema(`openapi.json#/components/schemas/${kind}`);
    if (!validate) throw new Error(`no schema for ${kind}`);
    return validate;
  };

  it('documents every route with its method', () => {
    const paths = doc.paths as Record<string, Record<string, { responses: object }>>;
    for (const route of ROUTES) expect(paths[route.path]?.[route.method.toLowerCase()]?.responses, `${route.method} ${route.path}`).toBeDefined();
  });

  it('accepts every quickstart manifest, as the validator does', () => {
    const text = readFileSync(fileURLToPath(new URL('../../examples/quickstart/catalog.yaml', import.meta.url)), 'utf8');
    const docs = parseAllDocuments(text).map((d) => d.toJS() as { kind: string });
    expect(docs.length).toBeGreaterThan(10);
    docs.forEach((m, i) => {
      expect(validateDocument(m, 'catalog.yaml', i + 1, { providers }).issues).toEqual([]);
      const validate = schemaFor(m.kind);
      expect(validate(m), JSON.stringify(validate.errors)).toBe(true);
    });
  });

  it('rejects what the validator rejects: unknown fields, missing required ones, bad enums and durations', () => {
    const bad = [
      { kind: 'Requirement', metadata: { name: 'a' }, spec: { title: 't', apliesTo: {} } },
      { kind: 'Requirement', metadata: { name: 'a' }, spec: {} },
      { kind: 'Requirement', metadata: { name: 'a' }, spec: { title: 't', severity: 'hgh' } },
      { kind: 'Attestation', metadata: { name: 'a' }, spec: { provider: 'cel', freshness: '1.5h' } },
      { kind: 'ComplianceObjective', metadata: { name: 'a' }, spec: { target: 0 } },
      { kind: 'Requirement', metadata: { name: '-bad' }, spec: { title: 't' } },
    ];
    for (const m of bad) {
      expect(schemaFor(m.kind)(m), JSON.stringify(m)).toBe(false);
      expect(validateDocument({ apiVersion: API_VERSION, ...m }, 'x', 1, { providers }).issues.length, JSON.stringify(m)).toBeGreaterThan(0);
    }
  });
});
