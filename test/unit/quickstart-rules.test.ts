import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { digestOf } from '../../src/core/digest.ts';
import { API_VERSION, type AttestationOutcome, type Resource } from '../../src/core/model.ts';
import { typeMatchesAny } from '../../src/core/selector.ts';
import { CelProvider } from '../../src/providers/cel-provider.ts';
import { readCdkOut, readCloudFormationTemplate } from '../../src/sources/cloudformation.ts';

const quickstart = (file: string): string => fileURLToPath(new URL(`../../examples/quickstart/${file}`, import.meta.url));

/** The catalog as plain manifests (the manifest loader is tested on its own). */
interface Manifest {
  kind: string;
  metadata: { name: string };
  spec: Record<string, unknown>;
}

interface CatalogAttestation {
  name: string;
  resourceTypes: string[];
  expression: string;
  message: string;
}

/** Expected outcome per attestation and logical resource of the quickstart stack. */
const EXPECTED: Record<string, Record<string, AttestationOutcome>> = {
  's3-bucket-encrypted': { LogsBucket: 'Passed', DataBucket: 'Passed', AssetsBucket: 'Failed' },
  'dynamodb-table-encrypted': { OrdersTable: 'Passed', SessionsTable: 'Failed' },
  'rds-storage-encrypted': { Database: 'Passed', ReportingDatabase: 'Failed' },
  'sqs-queue-encrypted': { OrdersQueue: 'Passed', DeadLetterQueue: 'Failed' },
  'sns-topic-encrypted': { AlertsTopic: 'Passed' },
  'alb-listener-tls': { HttpsListener: 'Passed', HttpListener: 'Failed' },
  'log-group-retention': { TrailLogGroup: 'Passed', AppLogGroup: 'Failed', AccessLogGroup: 'Passed' },
  'cloudtrail-to-log-group': { AuditTrail: 'Passed' },
  'dynamodb-point-in-time-recovery': { OrdersTable: 'Passed', SessionsTable: 'Failed' },
  'rds-backup-retention': { Database: 'Passed', ReportingDatabase: 'Failed' },
  's3-bucket-versioning': { LogsBucket: 'Passed', DataBucket: 'Passed', AssetsBucket: 'Failed' },
  'iam-role-not-admin': { TrailLogRole: 'Passed', OrdersFunctionRole: 'Passed', OpsAdminRole: 'Failed' },
  'iam-policy-not-admin': {},
};

/** Argus's own stacks, synthesised into examples/quickstart/argus-cdk.out. */
const ARGUS_STACKS = ['ArgusData', 'ArgusControlPlane', 'ArgusMemberAccount'];

/** Cases the template does not contain, proving the other branches of the rules. */
const EXTRA: Array<{ attestation: string; type: string; document: unknown; expected: AttestationOutcome }> = [
  {
    attestation: 'alb-listener-tls',
    type: 'AWS::ElasticLoadBalancingV2::Listener',
    document: { Protocol: 'HTTP', DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443' } }] },
    expected: 'Passed',
  },
  {
    attestation: 'alb-listener-tls',
    type: 'AWS::ElasticLoadBalancingV2::Listener',
    document: { Protocol: 'HTTPS', SslPolicy: 'ELBSecurityPolicy-TLS13-1-0-2021-06' },
    expected: 'Failed',
  },
  {
    attestation: 'alb-listener-tls',
    type: 'AWS::ElasticLoadBalancingV2::Listener',
    document: { Protocol: 'HTTPS' },
    expected: 'Failed',
  },
  {
    attestation: 'rds-storage-encrypted',
    type: 'AWS::RDS::DBInstance',
    document: { StorageEncrypted: { 'Fn::If': ['IsProd', true, false] } },
    expected: 'Failed',
  },
  { attestation: 'rds-backup-retention', type: 'AWS::RDS::DBInstance', document: { BackupRetentionPeriod: '14' }, expected: 'Passed' },
  { attestation: 'rds-backup-retention', type: 'AWS::RDS::DBInstance', document: {}, expected: 'Failed' },
  { attestation: 'sqs-queue-encrypted', type: 'AWS::SQS::Queue', document: {}, expected: 'Passed' },
  { attestation: 's3-bucket-encrypted', type: 'AWS::S3::Bucket', document: { BucketEncryption: { ServerSideEncryptionConfiguration: [{}] } }, expected: 'Failed' },
  {
    attestation: 'iam-role-not-admin',
    type: 'AWS::IAM::Role',
    document: { ManagedPolicyArns: [{ 'Fn::Sub': 'x' }, 'arn:aws:iam::aws:policy/AdministratorAccess'] },
    expected: 'Failed',
  },
  {
    attestation: 'iam-role-not-admin',
    type: 'AWS::IAM::Role',
    document: { Policies: [{ PolicyName: 'p', PolicyDocument: { Statement: { Effect: 'Allow', Action: ['s3:*', '*'], Resource: ['*'] } } }] },
    expected: 'Failed',
  },
  {
    attestation: 'iam-role-not-admin',
    type: 'AWS::IAM::Role',
    document: { Policies: [{ PolicyName: 'p', PolicyDocument: { Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }] } }] },
    expected: 'Passed',
  },
  {
    attestation: 'iam-policy-not-admin',
    type: 'AWS::IAM::ManagedPolicy',
    document: { PolicyDocument: { Statement: { Effect: 'Allow', Action: '*', Resource: '*' } } },
    expected: 'Failed',
  },
  {
    attestation: 'iam-policy-not-admin',
    type: 'AWS::IAM::Policy',
    document: { PolicyDocument: { Statement: [{ Effect: 'Allow', Action: '*', Resource: 'arn:aws:s3:::bucket/*' }] } },
    expected: 'Passed',
  },
];

async function readCatalog(): Promise<{ manifests: Manifest[]; attestations: CatalogAttestation[] }> {
  const docs = parseAllDocuments(await readFile(quickstart('catalog.yaml'), 'utf8'));
  if (!Array.isArray(docs)) throw new Error('catalog.yaml is empty');
  for (const doc of docs) if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('\n'));
  const manifests = docs.map((doc) => doc.toJS() as Manifest);
  const attestations = manifests
    .filter((m) => m.kind === 'Attestation')
    .map((m) => {
      const params = m.spec.params as Record<string, unknown>;
      return {
        name: m.metadata.name,
        resourceTypes: m.spec.resourceTypes as string[],
        expression: params.expression as string,
        message: params.message as string,
      };
    });
  return { manifests, attestations };
}

function runRule(cel: CelProvider, attestation: CatalogAttestation, target: Resource): { outcome: AttestationOutcome; message: string } {
  const compiled = cel.compile(attestation.expression);
  if (!compiled.ok) throw new Error(`${attestation.name}: ${compiled.error}`);
  return cel.evaluate(compiled.compiled, target, { message: attestation.message });
}

function resource(name: string, type: string, document: unknown): Resource {
  return {
    apiVersion: API_VERSION,
    kind: 'Resource',
    metadata: { name, labels: {} },
    spec: { type, classes: [], document, digest: digestOf(document) },
  };
}

describe('quickstart catalog rules on the quickstart template', () => {
  const cel = new CelProvider();
  let resources: Resource[];
  let manifests: Manifest[];
  let attestations: CatalogAttestation[];

  beforeAll(async () => {
    resources = await readCloudFormationTemplate(quickstart('template.yaml'));
    ({ manifests, attestations } = await readCatalog());
  });

  const run = (attestation: CatalogAttestation, target: Resource) => runRule(cel, attestation, target);

  it('reads the template as the stack "quickstart" with its resources as children', () => {
    const [stack, ...children] = resources;

    expect(stack?.metadata.name).toBe('quickstart');
    expect(children.length).toBeGreaterThanOrEqual(15);
    expect(children.length).toBeLessThanOrEqual(25);
    expect(children.every((r) => r.spec.parent === 'quickstart')).toBe(true);
  });

  it('has valid cel params on every attestation', () => {
    for (const a of attestations) {
      expect([a.name, cel.validateParams({ expression: a.expression, message: a.message })]).toEqual([a.name, []]);
    }
    expect(attestations.map((a) => a.name).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it('gives the expected outcome for every resource of a matching type', () => {
    const actual: Record<string, Record<string, AttestationOutcome>> = {};
    for (const a of attestations) {
      actual[a.name] = {};
      for (const r of resources.filter((x) => typeMatchesAny(a.resourceTypes, x.spec.type))) {
        const logicalId = r.metadata.name.slice('quickstart/'.length);
        const result = run(a, r);
        actual[a.name]![logicalId] = result.outcome;
        if (result.outcome === 'Failed') expect(result.message).toBe(a.message);
      }
    }

    expect(actual).toEqual(EXPECTED);
  });

  it.each(EXTRA.map((c, i) => ({ ...c, i })))('$attestation on extra case $i is $expected', (c) => {
    const attestation = attestations.find((a) => a.name === c.attestation);
    if (!attestation) throw new Error(`no attestation ${c.attestation}`);

    expect(run(attestation, resource(`extra/${c.i}`, c.type, c.document)).outcome).toBe(c.expected);
  });

  it('implements every requirement on the stack with attestations the catalog defines', () => {
    const names = new Set(attestations.map((a) => a.name));
    const requirements = manifests.filter((m) => m.kind === 'Requirement');
    const implementations = manifests.filter((m) => m.kind === 'Implementation');

    expect(requirements.map((r) => r.metadata.name)).toEqual(['sc-28', 'sc-8', 'au-11', 'cp-9', 'ac-6']);
    for (const req of requirements) {
      const impl = implementations.find((i) => (i.spec.requirements as string[]).includes(req.metadata.name));
      expect(impl?.spec.targets).toEqual({ ids: ['quickstart', ...ARGUS_STACKS] });
      const appliesTo = (req.spec.appliesTo as { types: string[] }).types;
      for (const name of impl?.spec.attestations as string[]) {
        expect(names.has(name)).toBe(true);
        // Every type an attestation checks is one its requirement applies to.
        const types = attestations.find((a) => a.name === name)?.resourceTypes ?? [];
        expect(types.every((t) => appliesTo.includes(t))).toBe(true);
      }
    }
  });

  it('runs a typical rule fast enough for 100k resources', () => {
    const encrypted = attestations.find((a) => a.name === 's3-bucket-encrypted');
    const bucket = resources.find((r) => r.metadata.name === 'quickstart/DataBucket');
    if (!encrypted || !bucket) throw new Error('fixture missing');
    const compiled = cel.compile(encrypted.expression);
    if (!compiled.ok) throw new Error(compiled.error);

    const n = 20_000;
    const started = performance.now();
    for (let i = 0; i < n; i++) cel.evaluate(compiled.compiled, bucket);
    const perSecond = n / ((performance.now() - started) / 1000);

    // A loose floor (CI machines vary); measured figures are in the provider's report.
    expect(perSecond).toBeGreaterThan(10_000);
  });
});

describe("quickstart catalog rules on Argus's own stacks", () => {
  const cel = new CelProvider();
  let resources: Resource[];
  let attestations: CatalogAttestation[];

  beforeAll(async () => {
    resources = await readCdkOut(quickstart('argus-cdk.out'));
    ({ attestations } = await readCatalog());
  });

  it('passes every rule on every resource it checks: Argus meets the controls it ships with', () => {
    const failures: string[] = [];
    const checked = new Map<string, number>();
    for (const a of attestations) {
      for (const r of resources.filter((x) => typeMatchesAny(a.resourceTypes, x.spec.type))) {
        const result = runRule(cel, a, r);
        checked.set(a.name, (checked.get(a.name) ?? 0) + 1);
        if (result.outcome !== 'Passed') failures.push(`${a.name} on ${r.metadata.name}: ${result.outcome}: ${result.message}`);
      }
    }

    expect(failures).toEqual([]);
    // The stacks hold what the rules are about: tables, buckets, queues, log groups, roles and policies.
    for (const name of ['s3-bucket-encrypted', 'dynamodb-table-encrypted', 'sqs-queue-encrypted', 'log-group-retention', 'dynamodb-point-in-time-recovery', 's3-bucket-versioning', 'iam-role-not-admin', 'iam-policy-not-admin']) {
      expect(checked.get(name), name).toBeGreaterThan(0);
    }
  });
});
