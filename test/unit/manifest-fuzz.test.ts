import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { digestOf } from '../../src/core/digest.ts';
import { ValidationError } from '../../src/core/errors.ts';
import type { AnyDefinition, ResourceSelector } from '../../src/core/model.ts';
import { parseManifests, toManifest } from '../../src/core/manifest/parse.ts';
import { validateDocument, type ManifestOptions } from '../../src/core/manifest/validate.ts';

const options: ManifestOptions = {
  providers: new Map([
    ['cel', { validateParams: (): Array<[string, string]> => [] }],
    ['script', { validateParams: (): Array<[string, string]> => [] }],
  ]),
};

/** Runs `fn` and fails unless it returns or throws a ValidationError. */
function onlyValidationErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Generators of valid definitions
// ---------------------------------------------------------------------------------------------

const text = fc.string({ unit: 'grapheme', maxLength: 20 });
const nonEmpty = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 });
const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,30}$/);
const names = fc.array(name, { maxLength: 3 });
const strings = fc.array(nonEmpty, { maxLength: 3 });
const stringMap = fc.dictionary(nonEmpty, text, { maxKeys: 3, noNullPrototype: true });
/** JSON data as storage keeps it (a round trip through JSON turns -0 into 0). */
const json = (maxDepth: number): fc.Arbitrary<unknown> => fc.jsonValue({ maxDepth }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);
const freeMap = fc.dictionary(nonEmpty, json(2), { maxKeys: 3, noNullPrototype: true });
const duration = fc.integer({ min: 1, max: 10 ** 12 });
const meta = fc.record({ name, labels: stringMap });
const selector: fc.Arbitrary<ResourceSelector> = fc.record(
  { ids: names, types: strings, classes: strings, matchLabels: stringMap },
  { requiredKeys: [], noNullPrototype: true },
);
/** Years 0000-9999: what ISO 8601 writes without an expanded year. */
const instant = fc.integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 });

const envelope = { apiVersion: fc.constant('argus.dev/v1alpha1' as const), metadata: meta };

const requirement = fc.record({
  ...envelope,
  kind: fc.constant('Requirement' as const),
  spec: fc.record(
    {
      title: nonEmpty,
      description: text,
      version: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      frameworks: strings,
      severity: fc.constantFrom('low' as const, 'medium' as const, 'high' as const, 'critical' as const),
      appliesTo: selector,
      requiredImplementationClasses: strings,
      parameters: freeMap,
    },
    { requiredKeys: ['title', 'version', 'frameworks', 'severity', 'appliesTo', 'requiredImplementationClasses'] },
  ),
});

const implementation = fc.record({
  ...envelope,
  kind: fc.constant('Implementation' as const),
  spec: fc.record(
    {
      requirements: fc.uniqueArray(name, { minLength: 1, maxLength: 3 }),
      targets: selector,
      cascade: fc.boolean(),
      class: nonEmpty,
      attestations: fc.uniqueArray(name, { minLength: 1, maxLength: 3 }),
      policy: fc.constantFrom('all' as const, 'any' as const),
    },
    { requiredKeys: ['requirements', 'targets', 'cascade', 'attestations', 'policy'] },
  ),
});

const attestation = fc.record({
  ...envelope,
  kind: fc.constant('Attestation' as const),
  spec: fc.record({
    provider: fc.constantFrom('cel', 'script'),
    params: freeMap,
    resourceTypes: strings,
    freshnessMs: duration,
    timeoutMs: duration,
  }),
});

const resource = fc
  .record({
    ...envelope,
    kind: fc.constant('Resource' as const),
    spec: fc.record(
      { type: nonEmpty, parent: name, classes: strings, provider: name, document: json(3).filter((d) => d !== null) },
      { requiredKeys: ['type', 'classes', 'document'] },
    ),
    givenDigest: fc.option(fc.stringMatching(/^sha256:[0-9a-f]{64}$/), { nil: undefined }),
  })
  .map(({ givenDigest, ...def }) => ({ ...def, spec: { ...def.spec, digest: givenDigest ?? digestOf(def.spec.document) } }));

const provider = fc.oneof(
  fc.record({ ...envelope, kind: fc.constant('Provider' as const), spec: fc.record({ type: fc.constant('local' as const), description: text }, { requiredKeys: ['type'] }) }),
  fc.record({
    ...envelope,
    kind: fc.constant('Provider' as const),
    spec: fc
      .record(
        { account: fc.stringMatching(/^\d{12}$/), withArn: fc.boolean(), externalId: fc.option(text, { nil: undefined }) },
      )
      .map(({ account, withArn, externalId }) => ({
        type: 'aws-account' as const,
        accountId: account,
        ...(withArn ? { roleArn: `arn:aws:iam::${account}:role/Reader` } : {}),
        ...(externalId === undefined ? {} : { externalId }),
      })),
  }),
  fc.record({ ...envelope, kind: fc.constant('Provider' as const), spec: fc.record({ type: fc.constant('agent' as const), heartbeatTimeoutMs: duration }) }),
);

const waiver = fc.record({
  ...envelope,
  kind: fc.constant('Waiver' as const),
  spec: fc.record({ requirement: name, resources: selector, reason: nonEmpty, approver: nonEmpty, expiresAt: instant }),
});

const objective = fc.record({
  ...envelope,
  kind: fc.constant('ComplianceObjective' as const),
  spec: fc.record(
    {
      description: text,
      requirements: fc.uniqueArray(name, { maxLength: 3 }),
      frameworks: strings,
      resources: selector,
      target: fc.double({ min: 0, max: 1, minExcluded: true, noNaN: true }),
      windowMs: duration,
      unknownIsCompliant: fc.boolean(),
    },
    { requiredKeys: ['requirements', 'frameworks', 'resources', 'target', 'windowMs', 'unknownIsCompliant'] },
  ),
});

const definition: fc.Arbitrary<AnyDefinition> = fc.oneof(requirement, implementation, attestation, resource, provider, waiver, objective);

// ---------------------------------------------------------------------------------------------

describe('manifest parsing under fuzzing', () => {
  it('never throws anything but ValidationError on arbitrary text', () => {
    const yamlish = fc.string({ unit: fc.constantFrom('a', 'kind', ':', ' ', '\n', '-', '---\n', '[', ']', '{', '}', '*a', '&a', '!!', '"', "'", '#', '%YAML 1.1\n', '|', '>', '?', '1', ','), maxLength: 60 });
    fc.assert(
      fc.property(fc.oneof(fc.string(), yamlish), fc.constantFrom('f.yaml', 'f.json'), (input, file) => {
        onlyValidationErrors(() => parseManifests(input, file, options));
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on arbitrary values as documents', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true }), (value) => {
        expect(() => validateDocument(value, 'f.yaml', 1, options)).not.toThrow();
        onlyValidationErrors(() => parseManifests(JSON.stringify(value) ?? '', 'f.json', options));
      }),
      { numRuns: 500 },
    );
  });

  it('never throws when one field of a valid manifest is replaced by anything', () => {
    const field = fc.constantFrom('apiVersion', 'kind', 'metadata', 'spec', 'spec.*', 'metadata.name', 'metadata.labels');
    fc.assert(
      fc.property(definition, field, fc.string({ maxLength: 25 }), fc.anything({ withNullPrototype: true }), (def, where, specKey, value) => {
        const manifest: Record<string, unknown> = JSON.parse(JSON.stringify(toManifest(def))) as Record<string, unknown>;
        const spec = manifest['spec'] as Record<string, unknown>;
        const metadata = manifest['metadata'] as Record<string, unknown>;
        const keys = Object.keys(spec);
        if (where === 'spec.*') spec[keys[specKey.length % Math.max(keys.length, 1)] ?? specKey] = value;
        else if (where === 'metadata.name') metadata['name'] = value;
        else if (where === 'metadata.labels') metadata['labels'] = value;
        else manifest[where] = value;
        expect(() => validateDocument(manifest, 'f.yaml', 1, options)).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });

  it('reads back every valid definition it prints, as YAML and as JSON', () => {
    fc.assert(
      fc.property(definition, (def) => {
        const manifest = toManifest(def);
        expect(parseManifests(stringify(manifest), 'out.yaml', options).map((p) => p.def)).toEqual([def]);
        expect(parseManifests(JSON.stringify(manifest), 'out.json', options).map((p) => p.def)).toEqual([def]);
      }),
      { numRuns: 500 },
    );
  });
});
