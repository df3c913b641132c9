import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { digestOf } from '../../src/core/digest.ts';
import { ArgusError } from '../../src/core/errors.ts';
import type { Resource } from '../../src/core/model.ts';
import {
  CloudFormationSource,
  readCdkOut,
  readCloudFormationTemplate,
  templateToResources,
} from '../../src/sources/cloudformation.ts';
import { SourceError } from '../../src/sources/source-error.ts';

const fixtures = fileURLToPath(new URL('../fixtures/cfn/', import.meta.url));
const fixture = (name: string): string => join(fixtures, name);

function byName(resources: readonly Resource[], name: string): Resource {
  const found = resources.find((r) => r.metadata.name === name);
  if (!found) throw new Error(`no resource ${name} in ${resources.map((r) => r.metadata.name).join(', ')}`);
  return found;
}

async function errorOf(promise: Promise<unknown>): Promise<SourceError> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof SourceError)) throw new Error(`expected a SourceError, got ${String(err)}`);
  return err;
}

describe('readCloudFormationTemplate', () => {
  it('reads a JSON template into a stack and one child per logical resource', async () => {
    const resources = await readCloudFormationTemplate(fixture('web.json'));

    expect(resources.map((r) => [r.metadata.name, r.spec.type, r.spec.parent])).toEqual([
      ['web', 'AWS::CloudFormation::Stack', undefined],
      ['web/SiteBucket', 'AWS::S3::Bucket', 'web'],
      ['web/SiteWaitHandle', 'AWS::CloudFormation::WaitConditionHandle', 'web'],
    ]);
  });

  it('builds Resource definitions with Properties as document, a digest and the stack label', async () => {
    const resources = await readCloudFormationTemplate(fixture('web.json'));
    const bucket = byName(resources, 'web/SiteBucket');

    expect(bucket).toEqual({
      apiVersion: 'argus.dev/v1alpha1',
      kind: 'Resource',
      metadata: { name: 'web/SiteBucket', labels: { 'argus.dev/stack': 'web' } },
      spec: {
        type: 'AWS::S3::Bucket',
        parent: 'web',
        classes: [],
        document: { BucketName: { 'Fn::Sub': 'site-${Env}' }, WebsiteConfiguration: { IndexDocument: 'index.html' } },
        digest: digestOf(bucket.spec.document),
      },
    });
    expect(byName(resources, 'web/SiteWaitHandle').spec.document).toEqual({});
    expect(bucket.spec.provider).toBeUndefined();
  });

  it('keeps the template sections other than Resources as the stack document', async () => {
    const stack = byName(await readCloudFormationTemplate(fixture('web.json')), 'web');

    expect(Object.keys(stack.spec.document as object).sort()).toEqual(['AWSTemplateFormatVersion', 'Description', 'Outputs', 'Parameters']);
  });

  it('expands YAML short-form tags into their long form', async () => {
    const resources = await readCloudFormationTemplate(fixture('app.yaml'));
    const table = byName(resources, 'app/Table').spec.document;
    const db = byName(resources, 'app/Database').spec.document;

    expect(table).toMatchObject({
      TableName: { 'Fn::Sub': '${AWS::StackName}-orders' },
      SSESpecification: { SSEEnabled: true, KMSMasterKeyId: { 'Fn::GetAtt': ['Key', 'Arn'] } },
      Tags: [{ Key: 'Name', Value: { 'Fn::Join': ['-', ['orders', { Ref: 'Env' }]] } }],
    });
    expect(db).toEqual({
      DBInstanceClass: { 'Fn::FindInMap': ['Sizes', { Ref: 'Env' }, 'Instance'] },
      StorageEncrypted: { 'Fn::If': ['IsProd', true, false] },
      Endpoint: { 'Fn::GetAtt': ['Other', 'Endpoint.Address'] },
      AvailabilityZone: { 'Fn::Select': [0, { 'Fn::GetAZs': '' }] },
      Subnets: { 'Fn::Split': [',', { 'Fn::ImportValue': 'shared-subnets' }] },
      UserData: { 'Fn::Base64': { 'Fn::Sub': 'echo ${Env}' } },
      Cidrs: { 'Fn::Cidr': [{ 'Fn::GetAtt': ['Vpc', 'CidrBlock'] }, 6, 5] },
      Url: { 'Fn::Sub': ['https://${Host}/${Env}', { Host: { 'Fn::GetAtt': ['Balancer', 'DNSName'] } }] },
      Flags: {
        'Fn::And': [{ Condition: 'IsProd' }, { 'Fn::Or': [{ 'Fn::Equals': ['a', 'a'] }, { Condition: 'NotProd' }] }],
      },
    });
    expect((byName(resources, 'app').spec.document as Record<string, unknown>).Conditions).toEqual({
      IsProd: { 'Fn::Equals': [{ Ref: 'Env' }, 'prod'] },
      NotProd: { 'Fn::Not': [{ Condition: 'IsProd' }] },
    });
  });

  it('yields the same documents for equivalent JSON and YAML templates', () => {
    const json = templateToResources('s', JSON.parse('{"Resources":{"T":{"Type":"AWS::SNS::Topic","Properties":{"N":{"Ref":"X"}}}}}'), 'a.json');
    const yaml = templateToResources('s', { Resources: { T: { Type: 'AWS::SNS::Topic', Properties: { N: { Ref: 'X' } } } } }, 'a.yaml');

    expect(yaml).toEqual(json);
  });

  it('takes the stack name from the option, then Metadata argus.dev/stack-name, then the file name', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'argus-cfn-'));
    try {
      const file = join(dir, 'template.yaml');
      await writeFile(file, 'Metadata:\n  argus.dev/stack-name: shop\nResources:\n  Topic:\n    Type: AWS::SNS::Topic\n');

      expect((await readCloudFormationTemplate(file))[1]?.metadata.name).toBe('shop/Topic');
      expect((await readCloudFormationTemplate(file, { stackName: 'other' }))[1]?.metadata.name).toBe('other/Topic');
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  describe('errors', () => {
    it('names the file when it cannot be read', async () => {
      const err = await errorOf(readCloudFormationTemplate(fixture('absent.yaml')));

      expect(err).toBeInstanceOf(ArgusError);
      expect(err.code).toBe('SOURCE');
      expect(err.message).toMatch(/absent\.yaml: cannot read: ENOENT/);
    });

    it('rejects a template without Resources', async () => {
      const err = await errorOf(readCloudFormationTemplate(fixture('invalid/no-resources.yaml')));

      expect(err.message).toMatch(/no-resources\.yaml: template has no Resources/);
    });

    it('rejects a resource without Type, naming it', async () => {
      const err = await errorOf(readCloudFormationTemplate(fixture('invalid/missing-type.json')));

      expect(err.message).toMatch(/missing-type\.json: Resources\.Bad: missing Type$/);
    });

    it('rejects unknown short-form tags and YAML syntax errors with their line', async () => {
      const unknownTag = await errorOf(readCloudFormationTemplate(fixture('invalid/unknown-tag.yaml')));
      const broken = await errorOf(readCloudFormationTemplate(fixture('invalid/broken.yaml')));

      expect(unknownTag.message).toMatch(/unknown-tag\.yaml: invalid template: Unresolved tag: !Reff at line 5/);
      expect(broken.message).toMatch(/broken\.yaml: invalid template: .* at line \d+/);
    });

    it('rejects a !GetAtt without an attribute name', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'argus-cfn-'));
      try {
        const file = join(dir, 'getatt.yaml');
        await writeFile(file, 'Resources:\n  T:\n    Type: AWS::SNS::Topic\n    Properties:\n      A: !GetAtt Bucket\n');

        const err = await errorOf(readCloudFormationTemplate(file));

        expect(err.message).toMatch(/getatt\.yaml: invalid template: !GetAtt Bucket: expected LogicalId\.AttributeName at line 5/);
      } finally {
        await rm(dir, { recursive: true });
      }
    });

    it('rejects a template that is not an object and a non-alphanumeric logical ID', () => {
      expect(() => templateToResources('s', ['x'], 'list.json')).toThrow('list.json: template must be an object');
      expect(() => templateToResources('s', { Resources: { 'my-bucket': { Type: 'AWS::S3::Bucket' } } }, 't.json')).toThrow(
        /Resources\.my-bucket: logical ID must be alphanumeric/,
      );
    });
  });
});

describe('readCdkOut', () => {
  it('reads every stack artifact, following nested assemblies, named by artifact id', async () => {
    const resources = await readCdkOut(fixture('cdk-out'));

    expect(resources.map((r) => r.metadata.name)).toEqual([
      'OrdersStack',
      'OrdersStack/OrdersQueue4A7A4D3B',
      'OrdersStack/CDKMetadata',
      'ProdOrdersStack',
      'ProdOrdersStack/OrdersTopic',
    ]);
  });

  it('labels resources with their CDK construct path', async () => {
    const queue = byName(await readCdkOut(fixture('cdk-out')), 'OrdersStack/OrdersQueue4A7A4D3B');

    expect(queue.metadata.labels).toEqual({
      'argus.dev/stack': 'OrdersStack',
      'argus.dev/cdk-path': 'OrdersStack/OrdersQueue/Resource',
    });
    expect(queue.spec.document).toEqual({ KmsMasterKeyId: 'alias/aws/sqs' });
  });

  it('names the manifest when it is missing', async () => {
    const err = await errorOf(readCdkOut(fixture('invalid')));

    expect(err.message).toMatch(/invalid\/manifest\.json: cannot read/);
  });
});

describe('CloudFormationSource', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true });
    dir = undefined;
  });

  it('discovers template files, cdk.out directories and named inputs', async () => {
    const source = new CloudFormationSource([fixture('web.json'), fixture('cdk-out'), { path: fixture('app.yaml'), stackName: 'orders' }]);

    const resources = await source.discover();

    expect(source.name).toBe('cloudformation');
    expect(resources.filter((r) => r.spec.type === 'AWS::CloudFormation::Stack').map((r) => r.metadata.name)).toEqual([
      'web',
      'OrdersStack',
      'ProdOrdersStack',
      'orders',
    ]);
    expect(byName(resources, 'orders/Table').spec.parent).toBe('orders');
  });

  it('reads every template of a plain directory', async () => {
    dir = await mkdtemp(join(tmpdir(), 'argus-cfn-'));
    await writeFile(join(dir, 'b.yml'), 'Resources:\n  Q:\n    Type: AWS::SQS::Queue\n');
    await writeFile(join(dir, 'a.json'), '{"Resources":{"T":{"Type":"AWS::SNS::Topic"}}}');
    await writeFile(join(dir, 'notes.txt'), 'not a template');

    const resources = await new CloudFormationSource([dir]).discover();

    expect(resources.map((r) => r.metadata.name)).toEqual(['a', 'a/T', 'b', 'b/Q']);
  });

  it('rejects two inputs that define the same stack', async () => {
    const source = new CloudFormationSource([fixture('web.json'), { path: fixture('app.yaml'), stackName: 'web' }]);

    const err = await errorOf(source.discover());

    expect(err.message).toMatch(/app\.yaml: stack "web" is also defined by .*web\.json/);
  });
});
