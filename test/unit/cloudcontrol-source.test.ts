import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { CloudControlClient, GetResourceCommand, ListResourcesCommand, ThrottlingException } from '@aws-sdk/client-cloudcontrol';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { Resource } from '../../src/core/model.ts';
import { CelProvider } from '../../src/providers/cel-provider.ts';
import { attestation } from '../support/builders.ts';
import {
  ACCOUNT_TYPE,
  CloudControlAccessDeniedError,
  CloudControlIncompleteError,
  CloudControlSource,
  CloudControlThrottledError,
  liveResourceName,
  vanishedResources,
  type CloudControlSourceOptions,
} from '../../src/sources/cloudcontrol.ts';
import { readCloudFormationTemplate } from '../../src/sources/cloudformation.ts';

const ACCOUNT = '111122223333';
const REGION = 'eu-west-1';
const cc = mockClient(CloudControlClient);

/** A bucket as GetResource describes AWS::S3::Bucket (read-only properties included, Properties a JSON string). */
function s3BucketProperties(name: string, encryption?: 'aws:kms' | 'AES256'): string {
  return JSON.stringify({
    BucketName: name,
    Arn: `arn:aws:s3:::${name}`,
    DomainName: `${name}.s3.amazonaws.com`,
    RegionalDomainName: `${name}.s3.${REGION}.amazonaws.com`,
    DualStackDomainName: `${name}.s3.dualstack.${REGION}.amazonaws.com`,
    WebsiteURL: `http://${name}.s3-website-${REGION}.amazonaws.com`,
    ...(encryption === undefined
      ? {}
      : {
          BucketEncryption: {
            ServerSideEncryptionConfiguration: [
              {
                ServerSideEncryptionByDefault: encryption === 'aws:kms' ? { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab` } : { SSEAlgorithm: 'AES256' },
                BucketKeyEnabled: encryption === 'aws:kms',
              },
            ],
          },
        }),
    PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    VersioningConfiguration: { Status: 'Enabled' },
    Tags: [{ Key: 'aws:cloudformation:stack-name', Value: 'quickstart' }],
  });
}

/** How Cloud Control answers a caller without permission (JSON protocol: HTTP 400, `__type` AccessDeniedException, not a modelled exception). */
function accessDenied(action: string): Error {
  return Object.assign(new Error(`User: arn:aws:sts::${ACCOUNT}:assumed-role/argus-provider/argus-import is not authorized to perform: ${action} because no identity-based policy allows the ${action} action`), {
    name: 'AccessDeniedException',
    $fault: 'client',
    $metadata: { httpStatusCode: 400, requestId: 'req-denied' },
  });
}

function throttled(): ThrottlingException {
  return new ThrottlingException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400, requestId: 'req-throttled' } });
}

interface Harness {
  source: CloudControlSource;
  sleeps: number[];
}

function sourceFor(types: string[], extra: Partial<CloudControlSourceOptions> = {}): Harness {
  const sleeps: number[] = [];
  const source = new CloudControlSource({
    accountId: ACCOUNT,
    region: REGION,
    types,
    client: () => new CloudControlClient({ region: REGION, credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } }),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    ...extra,
  });
  return { source, sleeps };
}

const byName = (resources: readonly Resource[]) => new Map(resources.map((r) => [r.metadata.name, r]));

beforeEach(() => {
  cc.reset();
});

describe('CloudControlSource', () => {
  it('follows NextToken across three pages and reads each resource with GetResource', async () => {
    // Prepare: S3's list handler returns only BucketName, so the source must not trust it.
    cc.on(ListResourcesCommand, { TypeName: 'AWS::S3::Bucket' })
      .resolvesOnce({ TypeName: 'AWS::S3::Bucket', ResourceDescriptions: [{ Identifier: 'b1', Properties: '{"BucketName":"b1"}' }], NextToken: 'page-2' })
      .resolvesOnce({ TypeName: 'AWS::S3::Bucket', ResourceDescriptions: [{ Identifier: 'b2', Properties: '{"BucketName":"b2"}' }, { Identifier: 'b3', Properties: '{"BucketName":"b3"}' }], NextToken: 'page-3' })
      .resolvesOnce({ TypeName: 'AWS::S3::Bucket', ResourceDescriptions: [{ Identifier: 'b4', Properties: '{"BucketName":"b4"}' }] });
    for (const id of ['b1', 'b2', 'b3', 'b4']) {
      cc.on(GetResourceCommand, { TypeName: 'AWS::S3::Bucket', Identifier: id }).resolves({ TypeName: 'AWS::S3::Bucket', ResourceDescription: { Identifier: id, Properties: s3BucketProperties(id, 'AES256') } });
    }
    const { source } = sourceFor(['AWS::S3::Bucket']);

    // Act
    const inventory = await source.read();

    // Assess
    expect(cc.commandCalls(ListResourcesCommand).map((c) => c.args[0].input)).toEqual([
      { TypeName: 'AWS::S3::Bucket' },
      { TypeName: 'AWS::S3::Bucket', NextToken: 'page-2' },
      { TypeName: 'AWS::S3::Bucket', NextToken: 'page-3' },
    ]);
    expect(cc.commandCalls(GetResourceCommand)).toHaveLength(4);
    expect(inventory.incompleteTypes).toEqual([]);
    expect(inventory.completeTypes).toEqual(['AWS::S3::Bucket']);
    expect(inventory.resources.map((r) => r.metadata.name)).toEqual([ACCOUNT, ...['b1', 'b2', 'b3', 'b4'].map((b) => `${ACCOUNT}/${REGION}/AWS::S3::Bucket/${b}`)]);
    const account = inventory.resources[0];
    expect(account?.spec.type).toBe(ACCOUNT_TYPE);
    const b2 = byName(inventory.resources).get(`${ACCOUNT}/${REGION}/AWS::S3::Bucket/b2`);
    expect(b2?.spec.parent).toBe(ACCOUNT);
    expect(b2?.metadata.labels).toEqual({ 'argus.dev/source': 'cloudcontrol', 'argus.dev/account': ACCOUNT, 'argus.dev/region': REGION, 'argus.dev/identifier': 'b2' });
  });

  it('parses the Properties JSON string into the document, as the template Properties would be', async () => {
    cc.on(ListResourcesCommand).resolves({ TypeName: 'AWS::S3::Bucket', ResourceDescriptions: [{ Identifier: 'data' }] });
    cc.on(GetResourceCommand).resolves({ TypeName: 'AWS::S3::Bucket', ResourceDescription: { Identifier: 'data', Properties: s3BucketProperties('data', 'aws:kms') } });
    const { source } = sourceFor(['AWS::S3::Bucket']);

    const [, bucket] = await source.discover();

    expect(bucket?.spec.document).toMatchObject({ BucketName: 'data', BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }] } });
    expect(bucket?.spec.digest).toMatch(/^sha256:|^[0-9a-f]{64}$/);
  });

  it('uses the ListResources Properties of types declared complete, and falls back to GetResource where they are missing', async () => {
    cc.on(ListResourcesCommand, { TypeName: 'AWS::Logs::LogGroup' }).resolves({
      TypeName: 'AWS::Logs::LogGroup',
      ResourceDescriptions: [
        { Identifier: '/aws/lambda/orders', Properties: JSON.stringify({ LogGroupName: '/aws/lambda/orders', RetentionInDays: 90, Arn: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/orders:*` }) },
        { Identifier: 'app' },
      ],
    });
    cc.on(GetResourceCommand, { TypeName: 'AWS::Logs::LogGroup', Identifier: 'app' }).resolves({ TypeName: 'AWS::Logs::LogGroup', ResourceDescription: { Identifier: 'app', Properties: '{"LogGroupName":"app"}' } });
    const { source } = sourceFor(['AWS::Logs::LogGroup'], { listPropertiesComplete: ['AWS::Logs::LogGroup'] });

    const resources = byName(await source.discover());

    expect(cc.commandCalls(GetResourceCommand).map((c) => c.args[0].input)).toEqual([{ TypeName: 'AWS::Logs::LogGroup', Identifier: 'app' }]);
    expect(resources.get(`${ACCOUNT}/${REGION}/AWS::Logs::LogGroup//aws/lambda/orders`)?.spec.document).toMatchObject({ RetentionInDays: 90 });
    expect(resources.get(`${ACCOUNT}/${REGION}/AWS::Logs::LogGroup/app`)?.spec.document).toEqual({ LogGroupName: 'app' });
  });

  it('retries throttling with jittered exponential backoff, then succeeds', async () => {
    cc.on(ListResourcesCommand).rejectsOnce(throttled()).rejectsOnce(throttled()).resolves({ TypeName: 'AWS::SQS::Queue', ResourceDescriptions: [] });
    const { source, sleeps } = sourceFor(['AWS::SQS::Queue'], { retry: { baseDelayMs: 100, maxDelayMs: 1000 } });

    const inventory = await source.read();

    expect(cc.commandCalls(ListResourcesCommand)).toHaveLength(3);
    expect(sleeps).toEqual([50, 100]); // random 0.5 of the caps 100, 200
    expect(inventory.completeTypes).toEqual(['AWS::SQS::Queue']);
    expect(inventory.incompleteTypes).toEqual([]);
  });

  it('gives up after the bounded attempts with a CloudControlThrottledError for the type', async () => {
    cc.on(ListResourcesCommand).rejects(throttled());
    const { source, sleeps } = sourceFor(['AWS::SQS::Queue'], { retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 250 } });

    const inventory = await source.read();

    expect(cc.commandCalls(ListResourcesCommand)).toHaveLength(4);
    expect(sleeps).toEqual([50, 100, 125]);
    const [failed] = inventory.incompleteTypes;
    expect(failed?.typeName).toBe('AWS::SQS::Queue');
    expect(failed?.error).toBeInstanceOf(CloudControlThrottledError);
    expect(failed?.error).toMatchObject({ code: 'CLOUDCONTROL_THROTTLED', reason: 'Throttled', attempts: 4, context: { typeName: 'AWS::SQS::Queue', accountId: ACCOUNT, region: REGION, operation: 'ListResources' } });
    await expect(source.discover()).rejects.toBeInstanceOf(CloudControlIncompleteError);
  });

  it('reports a type it may not read and still reads the others', async () => {
    cc.on(ListResourcesCommand, { TypeName: 'AWS::RDS::DBInstance' }).rejects(accessDenied('rds:DescribeDBInstances'));
    cc.on(ListResourcesCommand, { TypeName: 'AWS::S3::Bucket' }).resolves({ TypeName: 'AWS::S3::Bucket', ResourceDescriptions: [{ Identifier: 'data' }] });
    cc.on(GetResourceCommand, { TypeName: 'AWS::S3::Bucket' }).resolves({ TypeName: 'AWS::S3::Bucket', ResourceDescription: { Identifier: 'data', Properties: s3BucketProperties('data', 'aws:kms') } });
    const { source } = sourceFor(['AWS::RDS::DBInstance', 'AWS::S3::Bucket']);

    const inventory = await source.read();

    expect(inventory.completeTypes).toEqual(['AWS::S3::Bucket']);
    expect(inventory.incompleteTypes.map((t) => t.typeName)).toEqual(['AWS::RDS::DBInstance']);
    const error = inventory.incompleteTypes[0]?.error;
    expect(error).toBeInstanceOf(CloudControlAccessDeniedError);
    expect(error?.message).toContain('AWS::RDS::DBInstance in account 111122223333');
    expect(error?.context).toMatchObject({ typeName: 'AWS::RDS::DBInstance', accountId: ACCOUNT, reason: 'AccessDenied' });
    expect(inventory.resources.map((r) => r.metadata.name)).toEqual([ACCOUNT, `${ACCOUNT}/${REGION}/AWS::S3::Bucket/data`]);
  });

  it('drops a type whole when one GetResource is denied, and skips a resource deleted since the list', async () => {
    cc.on(ListResourcesCommand, { TypeName: 'AWS::S3::Bucket' }).resolves({ TypeName: 'AWS::S3::Bucket', ResourceDescriptions: [{ Identifier: 'a' }, { Identifier: 'b' }] });
    cc.on(GetResourceCommand, { Identifier: 'a' }).resolves({ ResourceDescription: { Identifier: 'a', Properties: s3BucketProperties('a') } });
    cc.on(GetResourceCommand, { Identifier: 'b' }).rejects(accessDenied('s3:GetEncryptionConfiguration'));
    cc.on(ListResourcesCommand, { TypeName: 'AWS::SNS::Topic' }).resolves({ ResourceDescriptions: [{ Identifier: 'gone' }] });
    cc.on(GetResourceCommand, { TypeName: 'AWS::SNS::Topic' }).rejects(Object.assign(new Error('Resource of type AWS::SNS::Topic with identifier gone was not found.'), { name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 400 } }));
    const { source } = sourceFor(['AWS::S3::Bucket', 'AWS::SNS::Topic']);

    const inventory = await source.read();

    expect(inventory.incompleteTypes.map((t) => [t.typeName, t.error.context.operation])).toEqual([['AWS::S3::Bucket', 'GetResource']]);
    expect(inventory.completeTypes).toEqual(['AWS::SNS::Topic']);
    expect(inventory.resources.map((r) => r.metadata.name)).toEqual([ACCOUNT]);
  });

  it('names resources with identifiers a name cannot hold uniquely, keeping the identifier as a label', () => {
    const name = liveResourceName(ACCOUNT, REGION, 'AWS::EC2::SubnetRouteTableAssociation', 'rtbassoc-1|subnet 2');
    expect(name).toMatch(/^111122223333\/eu-west-1\/AWS::EC2::SubnetRouteTableAssociation\/rtbassoc-1_subnet_2-[0-9a-f]{10}$/);
    expect(liveResourceName(ACCOUNT, REGION, 'AWS::S3::Bucket', 'x'.repeat(400)).length).toBe(253);
  });
});

describe('vanishedResources', () => {
  it('deletes only absent resources of fully read types of the same account and region', async () => {
    cc.on(ListResourcesCommand, { TypeName: 'AWS::S3::Bucket' }).resolves({ ResourceDescriptions: [{ Identifier: 'kept' }] });
    cc.on(GetResourceCommand).resolves({ ResourceDescription: { Identifier: 'kept', Properties: s3BucketProperties('kept') } });
    cc.on(ListResourcesCommand, { TypeName: 'AWS::RDS::DBInstance' }).rejects(accessDenied('rds:DescribeDBInstances'));
    const inventory = await sourceFor(['AWS::S3::Bucket', 'AWS::RDS::DBInstance']).source.read();
    const labels = (region: string) => ({ 'argus.dev/source': 'cloudcontrol', 'argus.dev/account': ACCOUNT, 'argus.dev/region': region });
    const stored = (name: string, type: string, region = REGION): Resource => ({
      apiVersion: 'argus.dev/v1alpha1',
      kind: 'Resource',
      metadata: { name, labels: labels(region) },
      spec: { type, classes: [], document: {}, digest: 'd' },
    });

    const deletes = vanishedResources(inventory, [
      stored(`${ACCOUNT}/${REGION}/AWS::S3::Bucket/kept`, 'AWS::S3::Bucket'),
      stored(`${ACCOUNT}/${REGION}/AWS::S3::Bucket/deleted`, 'AWS::S3::Bucket'),
      stored(`${ACCOUNT}/${REGION}/AWS::RDS::DBInstance/db`, 'AWS::RDS::DBInstance'),
      stored(`${ACCOUNT}/us-east-1/AWS::S3::Bucket/other-region`, 'AWS::S3::Bucket', 'us-east-1'),
      stored(`${ACCOUNT}/${REGION}/AWS::SQS::Queue/not-asked`, 'AWS::SQS::Queue'),
    ]);

    expect(deletes).toEqual([`${ACCOUNT}/${REGION}/AWS::S3::Bucket/deleted`]);
  });
});

describe('the quickstart CEL rule on live resources', () => {
  it('gives the same outcome on a Cloud Control S3 bucket as on the template property', async () => {
    // Prepare: the catalog's rule, the template's buckets, and live buckets with the same configuration.
    const quickstart = (file: string): string => fileURLToPath(new URL(`../../examples/quickstart/${file}`, import.meta.url));
    const docs = parseAllDocuments(await readFile(quickstart('catalog.yaml'), 'utf8'));
    if (!Array.isArray(docs)) throw new Error('catalog.yaml is empty');
    const rule = docs.map((d) => d.toJS() as { kind: string; metadata: { name: string }; spec: { params: Record<string, unknown> } }).find((m) => m.kind === 'Attestation' && m.metadata.name === 's3-bucket-encrypted');
    if (!rule) throw new Error('s3-bucket-encrypted not in the catalog');
    const check = attestation('s3-bucket-encrypted', { provider: 'cel', params: rule.spec.params, resourceTypes: ['AWS::S3::Bucket'] });
    const template = byName(await readCloudFormationTemplate(quickstart('template.yaml')));

    cc.on(ListResourcesCommand).resolves({ TypeName: 'AWS::S3::Bucket', ResourceDescriptions: [{ Identifier: 'quickstart-data', Properties: '{"BucketName":"quickstart-data"}' }, { Identifier: 'quickstart-assets', Properties: '{"BucketName":"quickstart-assets"}' }] });
    cc.on(GetResourceCommand, { Identifier: 'quickstart-data' }).resolves({ TypeName: 'AWS::S3::Bucket', ResourceDescription: { Identifier: 'quickstart-data', Properties: s3BucketProperties('quickstart-data', 'aws:kms') } });
    // A bucket read before S3 applied default encryption to every bucket: no BucketEncryption.
    cc.on(GetResourceCommand, { Identifier: 'quickstart-assets' }).resolves({ TypeName: 'AWS::S3::Bucket', ResourceDescription: { Identifier: 'quickstart-assets', Properties: s3BucketProperties('quickstart-assets') } });
    const live = byName(await sourceFor(['AWS::S3::Bucket']).source.discover());
    const cel = new CelProvider();

    // Act
    const outcome = (r: Resource | undefined) => {
      if (!r) throw new Error('resource missing');
      const result = cel.attest(check, r);
      if (result instanceof Promise) throw new Error('cel is synchronous');
      return result.outcome;
    };

    // Assess
    expect(outcome(template.get('quickstart/DataBucket'))).toBe('Passed');
    expect(outcome(live.get(`${ACCOUNT}/${REGION}/AWS::S3::Bucket/quickstart-data`))).toBe('Passed');
    expect(outcome(template.get('quickstart/AssetsBucket'))).toBe('Failed');
    expect(outcome(live.get(`${ACCOUNT}/${REGION}/AWS::S3::Bucket/quickstart-assets`))).toBe('Failed');
  });
});
