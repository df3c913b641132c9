import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadManifestPaths } from '../../src/adapters/local/manifest-files.ts';
import { digestOf } from '../../src/core/digest.ts';
import { ValidationError, formatManifestIssue } from '../../src/core/errors.ts';
import type { AnyDefinition } from '../../src/core/model.ts';
import { collectManifests, parseManifests, toManifest } from '../../src/core/manifest/parse.ts';
import { checkReferences, indexDefinitions } from '../../src/core/manifest/references.ts';
import { nearest } from '../../src/core/manifest/suggest.ts';
import { INLINE_OF_LABEL, type ManifestOptions, type ParsedDefinition } from '../../src/core/manifest/validate.ts';

/** A stand-in for the cel provider: `expression` is a required string. */
const options: ManifestOptions = {
  providers: new Map([
    [
      'cel',
      {
        validateParams: (params: Readonly<Record<string, unknown>>): Array<[string, string]> =>
          typeof params['expression'] === 'string' ? [] : [['expression', 'required: a CEL expression returning bool']],
      },
    ],
    ['script', { validateParams: (): Array<[string, string]> => [] }],
  ]),
};

const HEAD = 'apiVersion: argus.dev/v1alpha1';

function doc(kind: string, name: string, spec: string): string {
  return `${HEAD}\nkind: ${kind}\nmetadata:\n  name: ${name}\nspec:\n${spec
    .trim()
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')}\n`;
}

/** The formatted issues a parse raises, or [] when it succeeds. */
function messages(text: string, file = 'm.yaml'): string[] {
  return collectManifests(text, file, options).issues.map(formatManifestIssue);
}

function only(text: string): AnyDefinition {
  const defs = parseManifests(text, 'm.yaml', options);
  expect(defs).toHaveLength(1);
  return defs[0]!.def;
}

describe('parseManifests', () => {
  describe('the documented example', () => {
    it('reports a misspelt inline provider with file, doc number, path and suggestion', () => {
      // Prepare
      const text = [
        doc('Requirement', 'sc-28', 'title: Protection of information at rest'),
        doc('Attestation', 'bucket-encrypted', 'provider: cel\nparams: { expression: "true" }'),
        doc(
          'Implementation',
          'encryption',
          `requirements: [sc-28]
targets: { ids: [quickstart] }
attestations:
  - name: bucket-versioned
    provider: cell
    params: { expression: "has(resource.VersioningConfiguration)" }`,
        ),
      ].join('---\n');

      // Act
      const act = (): unknown => parseManifests(text, 'catalog.yaml', options);

      // Assess
      expect(act).toThrow(ValidationError);
      expect(act).toThrow('catalog.yaml doc 3: spec.attestations[0].provider: unknown provider "cell"; did you mean "cel"?');
      expect(messages(text, 'catalog.yaml')).toEqual([
        'catalog.yaml doc 3: spec.attestations[0].provider: unknown provider "cell"; did you mean "cel"?',
      ]);
    });
  });

  describe('envelope', () => {
    it('suggests the nearest kind for a misspelt kind', () => {
      expect(messages(doc('Requirment', 'x', 'title: t'))).toEqual(['m.yaml doc 1: kind: unknown kind "Requirment"; did you mean "Requirement"?']);
    });

    it('lists the kinds when no kind is close', () => {
      expect(messages(doc('Banana', 'x', 'title: t'))[0]).toContain('unknown kind "Banana"; expected one of Requirement, Implementation');
    });

    it('rejects another apiVersion and names the supported one', () => {
      const text = doc('Requirement', 'x', 'title: t').replace('v1alpha1', 'v1');
      expect(messages(text)).toEqual(['m.yaml doc 1: apiVersion: unsupported apiVersion "argus.dev/v1"; expected "argus.dev/v1alpha1"']);
    });

    it('reports every missing top-level field at once', () => {
      expect(messages('foo: 1\n')).toEqual([
        'm.yaml doc 1: foo: unknown field',
        'm.yaml doc 1: apiVersion: required; expected "argus.dev/v1alpha1"',
        'm.yaml doc 1: kind: required; one of Requirement, Implementation, Attestation, Resource, Provider, Waiver, ComplianceObjective',
        'm.yaml doc 1: metadata: required; needs at least a name',
        'm.yaml doc 1: spec: required',
      ]);
    });

    it('rejects a document that is not a mapping', () => {
      expect(messages('- a\n- b\n')).toEqual(['m.yaml doc 1: expected a mapping with apiVersion, kind, metadata and spec, got a list']);
    });

    it.each([
      ['-leading-dash', 'invalid name "-leading-dash"'],
      ['has space', 'invalid name "has space"'],
      ['x'.repeat(254), 'name is 254 characters; at most 253 allowed'],
    ])('rejects the name %j', (name, message) => {
      expect(messages(doc('Requirement', JSON.stringify(name), 'title: t'))[0]).toContain(`metadata.name: ${message}`);
    });

    it('accepts names with dots, colons, slashes and dashes', () => {
      expect(only(doc('Requirement', 'nist:sc-28/a.b_c', 'title: t')).metadata.name).toBe('nist:sc-28/a.b_c');
    });

    it('requires label values to be strings', () => {
      const text = `${HEAD}\nkind: Requirement\nmetadata:\n  name: x\n  labels: { env: prod, tier: 1 }\nspec: { title: t }\n`;
      expect(messages(text)).toEqual(['m.yaml doc 1: metadata.labels.tier: must be a string, got number 1; quote it']);
    });

    it('suggests the field meant for an unknown metadata field', () => {
      const text = `${HEAD}\nkind: Requirement\nmetadata:\n  name: x\n  lables: {}\nspec: { title: t }\n`;
      expect(messages(text)).toEqual(['m.yaml doc 1: metadata.lables: unknown field; did you mean "labels"?']);
    });

    it('numbers documents from 1, counting empty ones, and skips them', () => {
      // A comment before the first `---` belongs to the first document, as YAML defines it.
      const text = `# only a comment\n---\n${doc('Requirement', 'a', 'title: t')}---\n---\n${doc('Requirment', 'b', 'title: t')}`;
      expect(parseManifests(text.split('---\n---\n')[0]!, 'm.yaml', options)).toHaveLength(1);
      expect(messages(text)).toEqual(['m.yaml doc 3: kind: unknown kind "Requirment"; did you mean "Requirement"?']);
    });

    it('collects issues from every document, not just the first', () => {
      const text = `${doc('Requirement', 'a', 'title: t\nseverity: hgh')}---\n${doc('Waiver', 'w', 'reason: r')}`;
      expect(messages(text)).toEqual([
        'm.yaml doc 1: spec.severity: must be one of low, medium, high, critical, got "hgh"; did you mean "high"?',
        'm.yaml doc 2: spec.requirement: required',
        'm.yaml doc 2: spec.resources: required',
        'm.yaml doc 2: spec.approver: required',
        'm.yaml doc 2: spec.expires: required',
      ]);
    });
  });

  describe('YAML and JSON input', () => {
    it('reports a YAML syntax error with the document number and line', () => {
      const text = `${doc('Requirement', 'a', 'title: t')}---\nkind: [Requirement\n`;
      const found = messages(text);
      expect(found).toHaveLength(1);
      expect(found[0]).toMatch(/^m\.yaml doc 2: YAML syntax error: .*line \d+, column \d+$/);
    });

    it('reports an alias to an unknown anchor instead of throwing', () => {
      expect(messages(`${HEAD}\nkind: *nothing\n`)[0]).toMatch(/^m\.yaml doc 1: (invalid YAML|YAML syntax error): /);
    });

    it('rejects duplicate keys', () => {
      expect(messages(`${HEAD}\nkind: Requirement\nkind: Waiver\n`)[0]).toContain('YAML syntax error: Map keys must be unique');
    });

    it('reads a JSON object', () => {
      const text = JSON.stringify({ apiVersion: 'argus.dev/v1alpha1', kind: 'Requirement', metadata: { name: 'a' }, spec: { title: 't' } });
      expect(parseManifests(text, 'a.json', options).map((p) => p.def.metadata.name)).toEqual(['a']);
    });

    it('reads a JSON array as numbered documents', () => {
      const good = { apiVersion: 'argus.dev/v1alpha1', kind: 'Requirement', metadata: { name: 'a' }, spec: { title: 't' } };
      const text = JSON.stringify([good, { ...good, spec: { title: 't', version: 0 } }]);
      expect(collectManifests(text, 'a.json', options).issues.map(formatManifestIssue)).toEqual(['a.json doc 2: spec.version: must be >= 1, got 0']);
    });

    it('reports a JSON syntax error', () => {
      expect(messages('{\n  "kind": \n}', 'bad.json')[0]).toMatch(/^bad\.json doc 1: JSON syntax error: /);
    });

    it('returns nothing for an empty file', () => {
      expect(parseManifests('', 'empty.yaml', options)).toEqual([]);
    });
  });

  describe('Requirement', () => {
    it('applies the documented defaults', () => {
      expect(only(doc('Requirement', 'sc-28', 'title: Protection'))).toEqual({
        apiVersion: 'argus.dev/v1alpha1',
        kind: 'Requirement',
        metadata: { name: 'sc-28', labels: {} },
        spec: { title: 'Protection', version: 1, frameworks: [], severity: 'medium', appliesTo: {}, requiredImplementationClasses: [] },
      });
    });

    it('reads every field', () => {
      const def = only(
        doc(
          'Requirement',
          'sc-28',
          `title: Protection
description: at rest
version: 3
frameworks: [nist-800-53:SC-28, soc2:CC6.1]
severity: high
appliesTo: { types: [AWS::S3::Bucket, "AWS::RDS::*"], classes: [datastore], ids: [a], matchLabels: { env: prod } }
requiredImplementationClasses: [PreventativeControl]
parameters: { sc-28_odp.01: [confidentiality] }`,
        ),
      );
      expect(def.spec).toEqual({
        title: 'Protection',
        description: 'at rest',
        version: 3,
        frameworks: ['nist-800-53:SC-28', 'soc2:CC6.1'],
        severity: 'high',
        appliesTo: { types: ['AWS::S3::Bucket', 'AWS::RDS::*'], classes: ['datastore'], ids: ['a'], matchLabels: { env: 'prod' } },
        requiredImplementationClasses: ['PreventativeControl'],
        parameters: { 'sc-28_odp.01': ['confidentiality'] },
      });
    });

    it('suggests the field meant for a misspelt spec field', () => {
      expect(messages(doc('Requirement', 'x', 'title: t\napliesTo: {}'))).toEqual(['m.yaml doc 1: spec.apliesTo: unknown field; did you mean "appliesTo"?']);
    });

    it('rejects bad types and ranges', () => {
      expect(messages(doc('Requirement', 'x', 'title: ""\nversion: 1.5\nframeworks: nist\nseverity: 3'))).toEqual([
        'm.yaml doc 1: spec.title: must not be empty',
        'm.yaml doc 1: spec.version: must be a whole number, got number 1.5',
        'm.yaml doc 1: spec.frameworks: must be a list, got string "nist"',
        'm.yaml doc 1: spec.severity: must be one of low, medium, high, critical, got number 3',
      ]);
    });

    it('rejects unknown selector fields and non-string entries', () => {
      expect(messages(doc('Requirement', 'x', 'title: t\nappliesTo: { type: [a], classes: [1] }'))).toEqual([
        'm.yaml doc 1: spec.appliesTo.type: unknown field; did you mean "types"?',
        'm.yaml doc 1: spec.appliesTo.classes[0]: must be a string, got number 1',
      ]);
    });
  });

  describe('Implementation', () => {
    const impl = (extra = ''): string =>
      doc('Implementation', 'encryption', `requirements: [sc-28]\ntargets: { ids: [quickstart] }\n${extra}`);

    it('applies the defaults and keeps attestation names', () => {
      expect(only(impl('attestations: [bucket-encrypted]')).spec).toEqual({
        requirements: ['sc-28'],
        targets: { ids: ['quickstart'] },
        cascade: true,
        attestations: ['bucket-encrypted'],
        policy: 'all',
      });
    });

    it('expands inline attestations into named Attestations', () => {
      // Prepare
      const text = impl(`class: PreventativeControl
policy: any
cascade: false
attestations:
  - bucket-encrypted
  - name: bucket-versioned
    provider: cel
    resourceTypes: [AWS::S3::Bucket]
    params: { expression: "has(resource.VersioningConfiguration)" }
    freshness: 1h
    timeout: 5s
  - provider: script`);

      // Act
      const defs = parseManifests(text, 'm.yaml', options);

      // Assess
      expect(defs.map((p) => [p.def.kind, p.def.metadata.name, p.path])).toEqual([
        ['Implementation', 'encryption', ''],
        ['Attestation', 'encryption.bucket-versioned', 'spec.attestations[1]'],
        ['Attestation', 'encryption.2', 'spec.attestations[2]'],
      ]);
      expect(defs[0]!.def.spec).toMatchObject({
        class: 'PreventativeControl',
        policy: 'any',
        cascade: false,
        attestations: ['bucket-encrypted', 'encryption.bucket-versioned', 'encryption.2'],
      });
      expect(defs[1]!.def).toEqual({
        apiVersion: 'argus.dev/v1alpha1',
        kind: 'Attestation',
        metadata: { name: 'encryption.bucket-versioned', labels: { [INLINE_OF_LABEL]: 'encryption' } },
        spec: {
          provider: 'cel',
          params: { expression: 'has(resource.VersioningConfiguration)' },
          resourceTypes: ['AWS::S3::Bucket'],
          freshnessMs: 3_600_000,
          timeoutMs: 5_000,
        },
      });
      expect(defs[2]!.def.spec).toMatchObject({ freshnessMs: 86_400_000, timeoutMs: 10_000, params: {}, resourceTypes: [] });
    });

    it('requires requirements, targets and at least one attestation', () => {
      expect(messages(doc('Implementation', 'i', 'requirements: []\nattestations: []'))).toEqual([
        'm.yaml doc 1: spec.requirements: must list at least one entry',
        'm.yaml doc 1: spec.targets: required',
        'm.yaml doc 1: spec.attestations: must list at least one entry',
      ]);
    });

    it('suggests the nearest policy', () => {
      expect(messages(impl('policy: al\nattestations: [a]'))).toEqual(['m.yaml doc 1: spec.policy: must be one of all, any, got "al"; did you mean "all"?']);
    });

    it('reports provider param issues under the inline params path', () => {
      expect(messages(impl('attestations:\n  - provider: cel\n    params: { expresion: x }'))).toEqual([
        'm.yaml doc 1: spec.attestations[0].params.expression: required: a CEL expression returning bool',
      ]);
    });

    it('rejects unknown inline fields, bad entries and duplicates', () => {
      expect(
        messages(impl('attestations:\n  - a\n  - a\n  - 7\n  - { name: x, provider: script, fressness: 1h }\n  - { name: x, provider: script, timeout: 0s }')),
      ).toEqual([
        'm.yaml doc 1: spec.attestations[1]: duplicate attestation "a"',
        'm.yaml doc 1: spec.attestations[2]: must be an Attestation name or an inline attestation, got number 7',
        'm.yaml doc 1: spec.attestations[3].fressness: unknown field; did you mean "freshness"?',
        'm.yaml doc 1: spec.attestations[4].timeout: must be longer than 0, got "0s"',
        'm.yaml doc 1: spec.attestations[4]: duplicate attestation "encryption.x"',
      ]);
    });

    it('rejects an inline name that is not a valid name', () => {
      expect(messages(impl('attestations:\n  - { name: "-x", provider: script }'))[0]).toContain('spec.attestations[0].name: invalid name "-x"');
    });

    it('rejects cascade that is not a boolean', () => {
      expect(messages(impl('cascade: "yes"\nattestations: [a]'))).toEqual(['m.yaml doc 1: spec.cascade: must be true or false, got string "yes"']);
    });
  });

  describe('Attestation', () => {
    it('applies the defaults', () => {
      expect(only(doc('Attestation', 'a', 'provider: cel\nparams: { expression: "true" }')).spec).toEqual({
        provider: 'cel',
        params: { expression: 'true' },
        resourceTypes: [],
        freshnessMs: 86_400_000,
        timeoutMs: 10_000,
      });
    });

    it('reads freshness and timeout durations', () => {
      expect(only(doc('Attestation', 'a', 'provider: script\nfreshness: 30m\ntimeout: 250ms\nresourceTypes: ["AWS::S3::*"]')).spec).toMatchObject({
        freshnessMs: 1_800_000,
        timeoutMs: 250,
        resourceTypes: ['AWS::S3::*'],
      });
    });

    it('reports provider param issues under spec.params', () => {
      expect(messages(doc('Attestation', 'a', 'provider: cel'))).toEqual(['m.yaml doc 1: spec.params.expression: required: a CEL expression returning bool']);
    });

    it('lists the registered providers when none is close', () => {
      expect(messages(doc('Attestation', 'a', 'provider: opa'))).toEqual(['m.yaml doc 1: spec.provider: unknown provider "opa"; registered: cel, script']);
    });

    it('turns a provider that throws while checking params into an issue', () => {
      const throwing: ManifestOptions = {
        providers: new Map([['boom', { validateParams: (): Array<[string, string]> => { throw new Error('bug'); } }]]),
      };
      const found = collectManifests(doc('Attestation', 'a', 'provider: boom'), 'm.yaml', throwing).issues.map(formatManifestIssue);
      expect(found).toEqual(['m.yaml doc 1: spec.params: provider "boom" could not check params: bug']);
    });

    it('rejects bad durations and params', () => {
      expect(messages(doc('Attestation', 'a', 'provider: script\nfreshness: 1 day\ntimeout: 10\nparams: [1]'))).toEqual([
        'm.yaml doc 1: spec.params: must be a mapping, got a list',
        'm.yaml doc 1: spec.freshness: invalid duration "1 day": expected a whole number and a unit ms, s, m, h or d (e.g. 90s, 24h, 30d)',
        'm.yaml doc 1: spec.timeout: must be a duration string like 10s, got number 10',
      ]);
    });

    it('rejects params that are not plain data', () => {
      expect(messages(doc('Attestation', 'a', 'provider: script\nparams: { limit: .inf }'))).toEqual([
        'm.yaml doc 1: spec.params.limit: must be a finite number, got Infinity',
      ]);
    });
  });

  describe('Resource', () => {
    it('applies the defaults and computes the digest of the document', () => {
      expect(only(doc('Resource', 'quickstart', 'type: AWS::CloudFormation::Stack')).spec).toEqual({
        type: 'AWS::CloudFormation::Stack',
        classes: [],
        document: {},
        digest: digestOf({}),
      });
    });

    it('reads every field and keeps a given digest', () => {
      const digest = `sha256:${'a'.repeat(64)}`;
      const def = only(doc('Resource', 'quickstart/Bucket', `type: AWS::S3::Bucket\nparent: quickstart\nclasses: [datastore]\nprovider: local\ndocument: { BucketName: b }\ndigest: ${digest}`));
      expect(def.spec).toEqual({ type: 'AWS::S3::Bucket', parent: 'quickstart', classes: ['datastore'], provider: 'local', document: { BucketName: 'b' }, digest });
    });

    it('computes the digest from the document when absent', () => {
      expect(only(doc('Resource', 'b', 'type: T\ndocument: { b: 2, a: [1] }')).spec).toMatchObject({ digest: digestOf({ a: [1], b: 2 }) });
    });

    it('rejects a missing type and a malformed digest', () => {
      expect(messages(doc('Resource', 'b', 'digest: md5:abc\nclasses: datastore'))).toEqual([
        'm.yaml doc 1: spec.digest: must be sha256:<64 lowercase hex digits>, got "md5:abc"',
        'm.yaml doc 1: spec.type: required',
        'm.yaml doc 1: spec.classes: must be a list, got string "datastore"',
      ]);
    });
  });

  describe('Provider', () => {
    it('reads a local provider', () => {
      expect(only(doc('Provider', 'local', 'type: local\ndescription: this machine')).spec).toEqual({ type: 'local', description: 'this machine' });
    });

    it('reads an aws-account provider', () => {
      const def = only(doc('Provider', 'prod', 'type: aws-account\naccountId: "123456789012"\nroleArn: arn:aws:iam::123456789012:role/ArgusReader\nexternalId: e'));
      expect(def.spec).toEqual({ type: 'aws-account', accountId: '123456789012', roleArn: 'arn:aws:iam::123456789012:role/ArgusReader', externalId: 'e' });
    });

    it('gives an agent the default heartbeat timeout', () => {
      expect(only(doc('Provider', 'a', 'type: agent')).spec).toEqual({ type: 'agent', heartbeatTimeoutMs: 300_000 });
      expect(only(doc('Provider', 'a', 'type: agent\nheartbeatTimeout: 90s')).spec).toEqual({ type: 'agent', heartbeatTimeoutMs: 90_000 });
    });

    it('suggests the nearest type', () => {
      expect(messages(doc('Provider', 'p', 'type: aws-acount'))).toEqual(['m.yaml doc 1: spec.type: must be one of local, aws-account, agent, got "aws-acount"; did you mean "aws-account"?']);
    });

    it('asks for the account id to be quoted and checks the role ARN', () => {
      expect(messages(doc('Provider', 'p', 'type: aws-account\naccountId: 123456789012\nroleArn: arn:aws:iam::999999999999:role/R'))).toEqual([
        'm.yaml doc 1: spec.accountId: must be a 12-digit AWS account id in quotes, got number 123456789012',
      ]);
      expect(messages(doc('Provider', 'p', 'type: aws-account\naccountId: "123456789012"\nroleArn: arn:aws:iam::999999999999:role/R'))).toEqual([
        'm.yaml doc 1: spec.roleArn: role is in account 999999999999, not 123456789012',
      ]);
    });

    it('rejects fields that belong to another provider type', () => {
      expect(messages(doc('Provider', 'p', 'type: local\naccountId: "123456789012"\nheartbeatTimeout: 5m'))).toEqual([
        'm.yaml doc 1: spec.accountId: only applies to type "aws-account"',
        'm.yaml doc 1: spec.heartbeatTimeout: only applies to type "agent"',
      ]);
    });
  });

  describe('Waiver', () => {
    const waiver = (expires: string): string =>
      doc('Waiver', 'legacy', `requirement: sc-28\nresources: { ids: [quickstart/LegacyBucket] }\nreason: Migration planned\napprover: ciso@example.com\nexpires: ${expires}`);

    it('reads expires as epoch milliseconds', () => {
      expect(only(waiver('2027-03-31T00:00:00Z')).spec).toEqual({
        requirement: 'sc-28',
        resources: { ids: ['quickstart/LegacyBucket'] },
        reason: 'Migration planned',
        approver: 'ciso@example.com',
        expiresAt: Date.UTC(2027, 2, 31),
      });
    });

    it.each([
      ['2027-03-31', Date.UTC(2027, 2, 31)],
      ['2027-03-31T12:30:00.250+02:00', Date.UTC(2027, 2, 31, 10, 30, 0, 250)],
      ['2027-03-31T12:30-0130', Date.UTC(2027, 2, 31, 14, 0)],
    ])('accepts the ISO 8601 form %s', (expires, expected) => {
      expect(only(waiver(expires)).spec).toMatchObject({ expiresAt: expected });
    });

    it.each(['2027-02-30T00:00:00Z', '2027-03-31T00:00:00', 'next tuesday', '31/03/2027'])('rejects %j', (expires) => {
      expect(messages(waiver(JSON.stringify(expires)))).toEqual([
        `m.yaml doc 1: spec.expires: invalid timestamp ${JSON.stringify(expires)}: expected ISO 8601 with a time zone, like 2027-03-31T00:00:00Z`,
      ]);
    });

    it('requires every field', () => {
      expect(messages(doc('Waiver', 'w', 'reason: ""'))).toEqual([
        'm.yaml doc 1: spec.requirement: required',
        'm.yaml doc 1: spec.resources: required',
        'm.yaml doc 1: spec.reason: must not be empty',
        'm.yaml doc 1: spec.approver: required',
        'm.yaml doc 1: spec.expires: required',
      ]);
    });
  });

  describe('ComplianceObjective', () => {
    it('applies the defaults', () => {
      expect(only(doc('ComplianceObjective', 'o', 'target: 0.99')).spec).toEqual({
        requirements: [],
        frameworks: [],
        resources: {},
        target: 0.99,
        windowMs: 30 * 86_400_000,
        unknownIsCompliant: false,
      });
    });

    it('reads every field', () => {
      const def = only(doc('ComplianceObjective', 'o', 'description: d\nrequirements: [sc-28]\nframeworks: [nist-800-53]\nresources: { classes: [datastore] }\ntarget: 1\nwindow: 7d\nunknownIsCompliant: true'));
      expect(def.spec).toEqual({
        description: 'd',
        requirements: ['sc-28'],
        frameworks: ['nist-800-53'],
        resources: { classes: ['datastore'] },
        target: 1,
        windowMs: 7 * 86_400_000,
        unknownIsCompliant: true,
      });
    });

    it.each([0, -0.5, 1.01])('rejects the target %d', (target) => {
      expect(messages(doc('ComplianceObjective', 'o', `target: ${target}`))).toEqual([`m.yaml doc 1: spec.target: must be > 0 and <= 1 (e.g. 0.99), got ${target}`]);
    });

    it('requires a numeric target and a valid window', () => {
      expect(messages(doc('ComplianceObjective', 'o', 'target: "99%"\nwindow: 30days'))).toEqual([
        'm.yaml doc 1: spec.target: must be a finite number, got string "99%"',
        'm.yaml doc 1: spec.window: invalid duration "30days": expected a whole number and a unit ms, s, m, h or d (e.g. 90s, 24h, 30d)',
      ]);
    });
  });
});

describe('checkReferences', () => {
  const parse = (text: string, file = 'm.yaml'): ParsedDefinition[] => parseManifests(text, file, options);
  const format = (defs: ParsedDefinition[], existing?: Parameters<typeof checkReferences>[1]): string[] =>
    checkReferences(defs, existing).map(formatManifestIssue);

  it('accepts a complete set', () => {
    const defs = parse(
      [
        doc('Provider', 'local', 'type: local'),
        doc('Requirement', 'sc-28', 'title: t'),
        doc('Resource', 'stack', 'type: S\nprovider: local'),
        doc('Resource', 'stack/b', 'type: B\nparent: stack'),
        doc('Implementation', 'enc', 'requirements: [sc-28]\ntargets: {}\nattestations: [{ provider: script }]'),
        doc('Waiver', 'w', 'requirement: sc-28\nresources: {}\nreason: r\napprover: a\nexpires: 2027-01-01T00:00:00Z'),
        doc('ComplianceObjective', 'o', 'requirements: [sc-28]\ntarget: 0.9'),
      ].join('---\n'),
    );
    expect(format(defs)).toEqual([]);
  });

  it('reports missing references with the nearest existing name', () => {
    const defs = parse(
      [
        doc('Requirement', 'sc-28', 'title: t'),
        doc('Implementation', 'enc', 'requirements: [sc-82, ac-1]\ntargets: {}\nattestations: [bucket-encrypted]'),
        doc('Resource', 'b', 'type: B\nparent: stak\nprovider: aws'),
        doc('Waiver', 'w', 'requirement: sc-2\nresources: {}\nreason: r\napprover: a\nexpires: 2027-01-01'),
        doc('ComplianceObjective', 'o', 'requirements: [sc_28]\ntarget: 0.9'),
      ].join('---\n'),
      'catalog.yaml',
    );
    expect(format(defs)).toEqual([
      'catalog.yaml doc 2: spec.requirements[0]: Requirement "sc-82" not found; did you mean "sc-28"?',
      'catalog.yaml doc 2: spec.requirements[1]: Requirement "ac-1" not found',
      'catalog.yaml doc 2: spec.attestations[0]: Attestation "bucket-encrypted" not found',
      'catalog.yaml doc 3: spec.parent: Resource "stak" not found',
      'catalog.yaml doc 3: spec.provider: Provider "aws" not found',
      'catalog.yaml doc 4: spec.requirement: Requirement "sc-2" not found; did you mean "sc-28"?',
      'catalog.yaml doc 5: spec.requirements[0]: Requirement "sc_28" not found; did you mean "sc-28"?',
    ]);
  });

  it('resolves references against existing definitions', () => {
    const stored = parse(`${doc('Requirement', 'sc-28', 'title: t')}---\n${doc('Resource', 'stack', 'type: S')}`).map((p) => p.def);
    const defs = parse(doc('Resource', 'b', 'type: B\nparent: stack') + '---\n' + doc('Waiver', 'w', 'requirement: sc-28\nresources: {}\nreason: r\napprover: a\nexpires: 2027-01-01'));
    expect(format(defs, indexDefinitions(stored))).toEqual([]);
    expect(format(defs)).toHaveLength(2);
  });

  it('reports a parent cycle on each resource in it', () => {
    const defs = parse([doc('Resource', 'a', 'type: T\nparent: b'), doc('Resource', 'b', 'type: T\nparent: a'), doc('Resource', 'c', 'type: T\nparent: a')].join('---\n'));
    expect(format(defs)).toEqual([
      'm.yaml doc 1: spec.parent: parent chain forms a cycle: a -> b -> a',
      'm.yaml doc 2: spec.parent: parent chain forms a cycle: b -> a -> b',
    ]);
  });

  it('reports a resource that is its own parent', () => {
    expect(format(parse(doc('Resource', 'a', 'type: T\nparent: a')))).toEqual(['m.yaml doc 1: spec.parent: parent chain forms a cycle: a -> a']);
  });

  it('finds a cycle closed by a new parent over stored resources', () => {
    const stored = parse(`${doc('Resource', 'root', 'type: T\nparent: leaf')}---\n${doc('Resource', 'leaf', 'type: T')}`).map((p) => p.def);
    const defs = parse(doc('Resource', 'leaf', 'type: T\nparent: root'));
    expect(format(defs, indexDefinitions(stored))).toEqual(['m.yaml doc 1: spec.parent: parent chain forms a cycle: leaf -> root -> leaf']);
  });

  it('reports a duplicate definition in one apply at the second document', () => {
    const a = parse(doc('Requirement', 'sc-28', 'title: t'), 'a.yaml');
    const b = parse(doc('Requirement', 'sc-28', 'title: u'), 'b.yaml');
    expect(format([...a, ...b])).toEqual(['b.yaml doc 1: metadata.name: duplicate Requirement "sc-28"; also defined in a.yaml doc 1']);
  });

  it('reports an inline attestation that collides with a standalone one at the inline entry', () => {
    const defs = parse(
      `${doc('Attestation', 'enc.x', 'provider: script')}---\n${doc('Implementation', 'enc', 'requirements: [r]\ntargets: {}\nattestations: [{ name: x, provider: script }]')}---\n${doc('Requirement', 'r', 'title: t')}`,
    );
    expect(format(defs)).toEqual(['m.yaml doc 2: spec.attestations[0].name: duplicate Attestation "enc.x"; also defined in m.yaml doc 1']);
  });

  it('allows the same name in different kinds', () => {
    expect(format(parse(`${doc('Requirement', 'x', 'title: t')}---\n${doc('Resource', 'x', 'type: T')}`))).toEqual([]);
  });
});

describe('toManifest', () => {
  it('prints durations, timestamps and defaults the way manifests write them', () => {
    // Prepare
    const defs = parseManifests(
      [
        doc('Attestation', 'a', 'provider: script\nfreshness: 90m'),
        doc('Waiver', 'w', 'requirement: r\nresources: {}\nreason: r\napprover: a\nexpires: 2027-03-31T00:00:00Z'),
        doc('ComplianceObjective', 'o', 'target: 0.5'),
        doc('Provider', 'p', 'type: agent'),
      ].join('---\n'),
      'm.yaml',
      options,
    );

    // Act
    const printed = defs.map((p) => toManifest(p.def));

    // Assess
    expect(printed.map((m) => m.spec)).toEqual([
      { provider: 'script', params: {}, resourceTypes: [], freshness: '90m', timeout: '10s' },
      { requirement: 'r', resources: {}, reason: 'r', approver: 'a', expires: '2027-03-31T00:00:00.000Z' },
      { requirements: [], frameworks: [], resources: {}, target: 0.5, window: '30d', unknownIsCompliant: false },
      { type: 'agent', heartbeatTimeout: '5m' },
    ]);
    expect(printed[0]).toMatchObject({ apiVersion: 'argus.dev/v1alpha1', kind: 'Attestation', metadata: { name: 'a' } });
    expect(printed[0]!.metadata).not.toHaveProperty('labels');
  });

  it('prints expanded inline attestations so the output applies again unchanged', () => {
    const text = doc('Implementation', 'enc', 'requirements: [r]\ntargets: { ids: [s] }\nattestations: [{ name: v, provider: script, timeout: 5s }]');
    const defs = parseManifests(text, 'm.yaml', options).map((p) => p.def);
    const reparsed = defs.flatMap((d) => parseManifests(JSON.stringify(toManifest(d)), 'out.json', options).map((p) => p.def));
    expect(toManifest(defs[0]!).spec).toMatchObject({ attestations: ['enc.v'] });
    expect(reparsed).toEqual(defs);
  });
});

describe('nearest', () => {
  it.each([
    ['Requirment', 'Requirement'],
    ['requirement', 'Requirement'],
    ['Implmentation', 'Implementation'],
    ['Waivre', 'Waiver'],
  ])('suggests %s -> %s', (value, expected) => {
    expect(nearest(value, ['Requirement', 'Implementation', 'Waiver'])).toBe(expected);
  });

  it('suggests nothing when no candidate is close', () => {
    expect(nearest('Banana', ['Requirement', 'Waiver'])).toBeUndefined();
    expect(nearest('ab', ['cd'])).toBeUndefined();
    expect(nearest('x', ['cel'])).toBeUndefined();
    expect(nearest('anything', [])).toBeUndefined();
  });

  it('takes the closest, then the earliest candidate', () => {
    expect(nearest('cell', ['cells', 'cel'])).toBe('cells');
    expect(nearest('cel1', ['cel', 'cell'])).toBe('cel');
  });
});

describe('loadManifestPaths', () => {
  let dir: string;
  let cwd: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'argus-manifests-'));
    cwd = process.cwd();
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads directories recursively in sorted order, skipping other files', async () => {
    // Prepare
    await mkdir(join(dir, 'b'), { recursive: true });
    await writeFile(join(dir, 'b', 'z.yml'), doc('Resource', 'stack', 'type: S'));
    await writeFile(join(dir, 'a.yaml'), doc('Requirement', 'sc-28', 'title: t'));
    await writeFile(join(dir, 'c.json'), JSON.stringify([{ apiVersion: 'argus.dev/v1alpha1', kind: 'Resource', metadata: { name: 'b' }, spec: { type: 'B', parent: 'stack' } }]));
    await writeFile(join(dir, 'README.md'), '# not a manifest');
    await writeFile(join(dir, '.hidden.yaml'), 'not: valid');

    // Act
    const defs = await loadManifestPaths([dir], options);

    // Assess
    expect(defs.map((p) => [relative(dir, p.file), p.def.metadata.name])).toEqual([
      ['a.yaml', 'sc-28'],
      [join('b', 'z.yml'), 'stack'],
      ['c.json', 'b'],
    ]);
  });

  it('throws one ValidationError with every issue from every file, names kept as given', async () => {
    // Prepare
    await writeFile(join(dir, 'one.yaml'), doc('Requirment', 'x', 'title: t'));
    await writeFile(join(dir, 'two.yaml'), doc('Waiver', 'w', 'requirement: sc-82\nresources: {}\nreason: r\napprover: a\nexpires: 2027-01-01'));
    await writeFile(join(dir, 'three.yaml'), doc('Requirement', 'sc-28', 'title: t'));
    const rel = relative(cwd, dir);

    // Act
    const error = await loadManifestPaths([join(rel, 'one.yaml'), join(rel, 'two.yaml'), join(rel, 'three.yaml'), join(rel, 'missing.yaml')], options).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(ValidationError);
    const lines = (error as ValidationError).issues.map(formatManifestIssue);
    expect(lines[0]).toMatch(new RegExp(`^${escape(join(rel, 'missing.yaml'))} doc 0: cannot read: ENOENT`));
    expect(lines.slice(1)).toEqual([
      `${join(rel, 'one.yaml')} doc 1: kind: unknown kind "Requirment"; did you mean "Requirement"?`,
      `${join(rel, 'two.yaml')} doc 1: spec.requirement: Requirement "sc-82" not found; did you mean "sc-28"?`,
    ]);
  });

  it('reads a file given twice only once', async () => {
    await writeFile(join(dir, 'a.yaml'), doc('Requirement', 'sc-28', 'title: t'));
    const defs = await loadManifestPaths([join(dir, 'a.yaml'), dir], options);
    expect(defs).toHaveLength(1);
  });

  it('reports a directory with no manifests', async () => {
    await expect(loadManifestPaths([dir], options)).rejects.toThrow(`${dir} doc 0: no .yaml, .yml or .json files found`);
  });

  it('checks references against existing definitions', async () => {
    await writeFile(join(dir, 'w.yaml'), doc('Waiver', 'w', 'requirement: sc-28\nresources: {}\nreason: r\napprover: a\nexpires: 2027-01-01'));
    const existing = indexDefinitions(parseManifests(doc('Requirement', 'sc-28', 'title: t'), 'stored', options).map((p) => p.def));
    await expect(loadManifestPaths([dir], { ...options, existing })).resolves.toHaveLength(1);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
