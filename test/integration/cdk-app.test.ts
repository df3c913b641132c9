/**
 * The CDK app synthesised once (bundling skipped: test/integration/bundle-functions.test.ts
 * bundles every entry with esbuild), then asserted on what matters: encryption, PITR, stream,
 * Object Lock, the workflow and its substitutions, the stream mapping, the API's routes and
 * authorisation, alarms, IAM statements and the member account's trust, plus cdk-nag AwsSolutions.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_FAMILY_ENTRIES, API_ROUTES } from '../../lib/ApiRoutes.ts';
import { ArgusControlPlane } from '../../lib/ArgusControlPlane.ts';
import { buildArgusApp, type ArgusApp } from '../../lib/app.ts';
import { ROUTES } from '../../src/api/routes.ts';
import { TABLE_INDEX } from '../../src/core/table-design.ts';
import { BURN_RATE_ALERTS } from '../../src/core/slo/windows.ts';

type Json = Record<string, unknown>;

/** The feature flags and settings of cdk.json, as `cdk synth` passes them. */
const CDK_JSON_CONTEXT = (JSON.parse(fs.readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> }).context;

let outdir: string;
let argus: ArgusApp;
let data: Template;
let cp: Template;
let member: Template;
let synthMs = 0;

beforeAll(() => {
  outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'argus-cdk-'));
  const started = Date.now();
  const app = new App({
    outdir,
    context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [], 'argus:objectives': [{ name: 'prod', target: 0.99 }] },
  });
  argus = buildArgusApp(app);
  app.synth();
  synthMs = Date.now() - started;
  data = Template.fromStack(argus.data);
  cp = Template.fromStack(argus.controlPlane);
  member = Template.fromStack(argus.member);
});

afterAll(() => {
  fs.rmSync(outdir, { recursive: true, force: true });
});

/** Another app with cdk.json's context, unbundled, writing under this file's temporary directory (removed after). */
function scratchApp(context: Record<string, unknown> = {}): App {
  return new App({ outdir: fs.mkdtempSync(path.join(outdir, 'app-')), context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [], ...context } });
}

function resources(t: Template, type: string): Array<[string, Json]> {
  return Object.entries(t.findResources(type)) as Array<[string, Json]>;
}
function props(r: Json): Json {
  return (r.Properties ?? {}) as Json;
}

describe('the data stack', () => {
  it('keeps the table encrypted with its own KMS key, streamed, point-in-time recoverable and deletion-protected', () => {
    data.resourceCountIs('AWS::DynamoDB::Table', 1);
    data.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: Match.objectLike({ SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() }),
        DeletionProtectionEnabled: true,
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      }),
    });
    data.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    // The checkpoint signing key: asymmetric P-256, sign/verify only (KMS rotates no asymmetric key), retained.
    data.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }) });
    data.hasResourceProperties('AWS::Backup::BackupSelection', { BackupSelection: Match.objectLike({ Resources: [Match.anyValue()] }) });
  });

  it('declares the indexes the store queries, keys only', () => {
    const [[, table]] = resources(data, 'AWS::DynamoDB::Table') as [[string, Json]];
    const gsis = props(table).GlobalSecondaryIndexes as Array<{ IndexName: string; Projection: { ProjectionType: string } }>;
    expect(gsis.map((g) => g.IndexName).sort()).toEqual([TABLE_INDEX.byParent.name, TABLE_INDEX.byDue.name].sort());
    for (const g of gsis) expect(g.Projection.ProjectionType).toBe('KEYS_ONLY');
  });

  it('stores evidence under Object Lock, versioned, KMS-encrypted, private, TLS only and access-logged', () => {
    data.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 365 } } },
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: { ServerSideEncryptionConfiguration: [Match.objectLike({ ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }) })] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LoggingConfiguration: Match.objectLike({ DestinationBucketName: Match.anyValue() }),
    });
    const policies = resources(data, 'AWS::S3::BucketPolicy');
    expect(policies).toHaveLength(2);
    for (const [, p] of policies) {
      expect(JSON.stringify(props(p).PolicyDocument)).toContain('"aws:SecureTransport":"false"');
    }
    const denies = policies.flatMap(([, p]) => ((props(p).PolicyDocument as { Statement: Json[] }).Statement ?? []).filter((st) => st.Sid === 'DenyEvidenceDeletionAndRetentionChanges'));
    expect(denies).toHaveLength(1);
    expect(denies[0]).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' } });
    expect([...(denies[0]?.Action as string[])].sort()).toEqual(
      ['s3:BypassGovernanceRetention', 's3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutBucketObjectLockConfiguration', 's3:PutObjectLegalHold', 's3:PutObjectRetention'].sort(),
    );
  });
});

describe('the control plane stack', () => {
  it('runs every function on Node.js 22+ (arm64), with JSON logs into a log group with retention, and X-Ray', () => {
    const fns = resources(cp, 'AWS::Lambda::Function');
    expect(fns.length).toBeGreaterThanOrEqual(9);
    for (const [id, fn] of fns) {
      const p = props(fn);
      expect(Number(/^nodejs(\d+)\.x$/.exec(String(p.Runtime))?.[1]), id).toBeGreaterThanOrEqual(22);
      expect(p.Architectures, id).toEqual(['arm64']);
      expect(p.LoggingConfig, id).toMatchObject({ LogFormat: 'JSON', LogGroup: { Ref: expect.stringMatching(/Logs/) } });
      expect(p.TracingConfig, id).toEqual({ Mode: 'Active' });
      expect(p.Handler, id).toBe('index.handler');
    }
    for (const [, lg] of resources(cp, 'AWS::Logs::LogGroup')) {
      // Audit records (AU-11): kept a year, as the quickstart's log-group-retention rule asks.
      expect(props(lg).RetentionInDays).toBe(365);
      expect(props(lg).KmsKeyId).toBeDefined();
    }
  });

  it('keeps logs as long as argus:logRetentionDays says, and refuses a value CloudWatch Logs does not offer', () => {
    const retentionOf = (value: string): number[] => {
      const built = buildArgusApp(scratchApp({ 'argus:logRetentionDays': value, 'argus:nag': false }));
      return built.controlPlane.node.findAll().filter((c): c is logs.CfnLogGroup => c instanceof logs.CfnLogGroup).map((g) => Number(g.retentionInDays));
    };

    expect(new Set(retentionOf('400'))).toEqual(new Set([400]));
    expect(() => retentionOf('42')).toThrow(/context argus:logRetentionDays must be one of CloudWatch Logs' retention values \(1, 3, 5, 7, 14,/);
  });

  it('gives function roles no AWS managed policies', () => {
    for (const [id, role] of resources(cp, 'AWS::IAM::Role')) expect(props(role).ManagedPolicyArns, id).toBeUndefined();
  });

  it('runs the reconcile state machine from statemachines/reconcile.asl.json with every substitution bound to its function', () => {
    const [[, sm]] = resources(cp, 'AWS::StepFunctions::StateMachine') as [[string, Json]];
    const p = props(sm);
    expect(p.DefinitionSubstitutions).toEqual({
      PlanFunctionArn: { 'Fn::GetAtt': [expect.stringMatching(/^ControlPlanePlan[0-9A-F]{8}$/), 'Arn'] },
      AttestShardFunctionArn: { 'Fn::GetAtt': [expect.stringMatching(/^ControlPlaneAttestShard[0-9A-F]{8}$/), 'Arn'] },
      SummariseFunctionArn: { 'Fn::GetAtt': [expect.stringMatching(/^ControlPlaneSummarise[0-9A-F]{8}$/), 'Arn'] },
    });
    // DefinitionBody.fromFile: the ASL file is an asset, byte for byte (test/integration/cdk-statemachines.test.ts validates it).
    expect(p.DefinitionS3Location).toMatchObject({ Bucket: expect.anything(), Key: expect.stringMatching(/\.json$/) });
    const key = String((p.DefinitionS3Location as { Key: string }).Key);
    const staged = fs.readFileSync(path.join(outdir, `asset.${key}`), 'utf8');
    expect(staged).toBe(fs.readFileSync(new URL('../../statemachines/reconcile.asl.json', import.meta.url), 'utf8'));
    expect(p.TracingConfiguration).toEqual({ Enabled: true });
    expect(p.LoggingConfiguration).toMatchObject({ Level: 'ALL' });
  });

  it('lets the Distributed Map start and stop child executions of its own state machine only', () => {
    cp.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'states:StartExecution', Resource: { Ref: Match.stringLikeRegexp('^ControlPlaneReconcile') } }),
          Match.objectLike({ Action: ['states:DescribeExecution', 'states:StopExecution'] }),
        ]),
      },
    });
  });

  it('schedules the reconcile and the publisher with EventBridge Scheduler, with a dead-letter queue and retries', () => {
    const schedules = resources(cp, 'AWS::Scheduler::Schedule').map(([, s]) => props(s));
    expect(schedules.map((s) => s.ScheduleExpression).sort()).toEqual(['rate(1 minute)', 'rate(5 minutes)']);
    const reconcile = schedules.find((s) => s.ScheduleExpression === 'rate(5 minutes)') as Json;
    const target = reconcile.Target as { Input: string; DeadLetterConfig: { Arn: unknown }; RetryPolicy: { MaximumRetryAttempts: number } };
    expect(JSON.parse(target.Input)).toEqual({ shards: 16, batchSize: 100, maxConcurrency: 10 });
    expect(target.DeadLetterConfig.Arn).toBeDefined();
    expect(target.RetryPolicy.MaximumRetryAttempts).toBe(3);
  });

  it('maps the table stream with filters per item type, bisect on error, partial batch responses and an SQS on-failure destination', () => {
    const [[, esm]] = resources(cp, 'AWS::Lambda::EventSourceMapping') as [[string, Json]];
    const p = props(esm);
    expect(p.BisectBatchOnFunctionError).toBe(true);
    expect(p.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(p.StartingPosition).toBe('TRIM_HORIZON');
    expect(p.DestinationConfig).toEqual({ OnFailure: { Destination: { 'Fn::GetAtt': [expect.stringMatching(/StreamFailures/), 'Arn'] } } });
    const patterns = (p.FilterCriteria as { Filters: Array<{ Pattern: string }> }).Filters.map((f) => JSON.parse(f.Pattern));
    expect(patterns).toEqual([
      { dynamodb: { Keys: { pk: { S: [{ prefix: 'DEF#' }] } } } },
      { dynamodb: { Keys: { pk: { S: [{ prefix: 'RESULTS#' }] } } } },
    ]);
  });

  it('knows every non-local route of src/api/routes.ts and its family', () => {
    const key = (r: { method: string; path: string; family: string }) => `${r.family} ${r.method} ${r.path}`;
    expect(API_ROUTES.map(key).sort()).toEqual(ROUTES.filter((r) => r.family !== 'local').map(key).sort());
  });

  it('serves the routes of every family with a Lambda entry, with IAM authorisation except the API-key agent routes', () => {
    const deployed = API_ROUTES.filter((r) => fs.existsSync(new URL(`../../functions/${API_FAMILY_ENTRIES[r.family]}`, import.meta.url)));
    expect(deployed.length).toBeGreaterThanOrEqual(44);
    const routes = resources(cp, 'AWS::ApiGatewayV2::Route').map(([, r]) => props(r));
    expect(routes.map((r) => r.RouteKey).sort()).toEqual(deployed.map((r) => `${r.method} ${r.path}`).sort());
    for (const r of routes) {
      const family = deployed.find((d) => `${d.method} ${d.path}` === r.RouteKey)?.family;
      expect(r.AuthorizationType, String(r.RouteKey)).toBe(family === 'agents' ? 'NONE' : 'AWS_IAM');
    }
    cp.hasResourceProperties('AWS::ApiGatewayV2::Stage', { AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }) });
  });

  it('alarms on runner errors, failed runs, dead-letter depth, stale results and each objective', () => {
    const alarms = resources(cp, 'AWS::CloudWatch::Alarm').map(([, a]) => props(a));
    const described = (text: string) => alarms.filter((a) => String(a.AlarmDescription).includes(text));
    expect(described('reconcile functions')).toHaveLength(1);
    expect(described('a reconcile execution failed')).toHaveLength(1);
    expect(alarms.filter((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible')).toHaveLength(2);
    const stale = described('has no result newer than')[0] as Json;
    expect(JSON.stringify(stale.Metrics)).toContain('argus_attestation_result_age_seconds');
    expect(stale.Threshold).toBe(86_400);
    const below = described('Objective prod: compliance ratio below its target')[0] as Json;
    expect(below).toMatchObject({ MetricName: 'argus_objective_compliance_ratio', Threshold: 0.99, ComparisonOperator: 'LessThanThreshold', Dimensions: [{ Name: 'objective', Value: 'prod' }] });
    cp.resourceCountIs('AWS::CloudWatch::CompositeAlarm', BURN_RATE_ALERTS.length);
    for (const a of [...alarms.filter((x) => !String(x.MetricName ?? '').startsWith('argus_objective_burn_rate'))]) {
      expect(a.AlarmActions, String(a.AlarmDescription)).toHaveLength(1);
    }
    cp.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('lets the runner assume only /argus/ roles and the publisher put metrics only in the Argus namespace', () => {
    const statements = resources(cp, 'AWS::IAM::Policy').flatMap(([, p]) => (props(p).PolicyDocument as { Statement: Json[] }).Statement);
    const assume = statements.filter((s) => s.Action === 'sts:AssumeRole');
    expect(assume).toHaveLength(1);
    expect(JSON.stringify(assume[0]?.Resource)).toContain(':iam::*:role/argus/*');
    const put = statements.find((s) => s.Action === 'cloudwatch:PutMetricData') as Json;
    expect(put.Condition).toEqual({ StringEquals: { 'cloudwatch:namespace': 'Argus' } });
    expect(statements.filter((s) => s.Effect === 'Allow' && JSON.stringify(s.Action).match(/"\*"|":\*"/))).toEqual([]);
  });

  it('lets the runner sign evidence checkpoints with the signing key only, and names the key in its environment', () => {
    const signingKey = Object.keys(data.findResources('AWS::KMS::Key', { Properties: { KeySpec: 'ECC_NIST_P256' } }));
    expect(signingKey).toHaveLength(1);
    const keyArn = (v: unknown) => JSON.stringify(v).includes(`GetAtt${signingKey[0]}Arn`);
    const statements = resources(cp, 'AWS::IAM::Policy').flatMap(([, p]) => (props(p).PolicyDocument as { Statement: Json[] }).Statement);
    const signs = statements.filter((s) => JSON.stringify(s.Action).includes('kms:Sign'));
    expect(signs).toHaveLength(1);
    expect(signs[0]?.Action).toEqual(['kms:GetPublicKey', 'kms:Sign']);
    expect(keyArn(signs[0]?.Resource) && !Array.isArray(signs[0]?.Resource)).toBe(true);
    const [[, attest]] = resources(cp, 'AWS::Lambda::Function').filter(([id]) => id.startsWith('ControlPlaneAttestShard')) as [[string, Json]];
    const env = (props(attest).Environment as { Variables: Record<string, unknown> }).Variables;
    expect(keyArn(env.ARGUS_EVIDENCE_SIGNING_KEY)).toBe(true);
    expect(env.ARGUS_EVIDENCE_BUCKET).toBeDefined();
    // Evidence objects are put under outputs/ only.
    const puts = statements.filter((s) => JSON.stringify(s.Action).includes('s3:PutObject"'));
    expect(puts).toHaveLength(1);
    expect(JSON.stringify(puts[0]?.Resource)).toContain('"/outputs/*"');
  });

  it('deploys one function per API family with an entry besides the five workers, and one route and invoke permission per route', () => {
    const families = new Set(Object.values(API_ROUTES).map((r) => r.family));
    const deployedFamilies = [...families].filter((f) => fs.existsSync(new URL(`../../functions/${API_FAMILY_ENTRIES[f]}`, import.meta.url)));
    const deployedRoutes = API_ROUTES.filter((r) => deployedFamilies.includes(r.family));
    cp.resourceCountIs('AWS::Lambda::Function', 5 + deployedFamilies.length);
    cp.resourceCountIs('AWS::ApiGatewayV2::Integration', deployedFamilies.length);
    cp.resourceCountIs('AWS::ApiGatewayV2::Route', deployedRoutes.length);
    cp.resourceCountIs('AWS::Lambda::Permission', deployedRoutes.length);
    cp.resourceCountIs('AWS::Scheduler::Schedule', 2);
    cp.resourceCountIs('AWS::SQS::Queue', 2);
    cp.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
  });
});

describe('the member account stack', () => {
  it('trusts only the runner role, and only with the ExternalId', () => {
    member.resourceCountIs('AWS::IAM::Role', 1);
    member.hasResourceProperties('AWS::IAM::Role', {
      Path: '/argus/',
      AssumeRolePolicyDocument: {
        Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { AWS: { Ref: 'RunnerRoleArn' } }, Condition: { StringEquals: { 'sts:ExternalId': { Ref: 'ExternalId' } } } }],
      },
    });
  });

  it('may only read configuration, never data', () => {
    const [[, policy]] = resources(member, 'AWS::IAM::Policy') as [[string, Json]];
    const statements = (props(policy).PolicyDocument as { Statement: Array<{ Effect: string; Action: string[] }> }).Statement;
    const allowed = statements.filter((s) => s.Effect === 'Allow').flatMap((s) => s.Action);
    for (const action of allowed) expect(action, action).toMatch(/^[a-z0-9-]+:(Get|List|Describe)[A-Za-z]+$/);
    const denied = statements.filter((s) => s.Effect === 'Deny').flatMap((s) => s.Action);
    expect(denied).toEqual(expect.arrayContaining(['s3:GetObject', 'dynamodb:Query', 'secretsmanager:GetSecretValue', 'kms:Decrypt']));
  });

  it('deploys through StackSets: parameters only, no bootstrap check, no assets', () => {
    const json = member.toJSON() as { Parameters: Record<string, unknown>; Rules?: unknown };
    expect(Object.keys(json.Parameters).sort()).toEqual(['ExternalId', 'RunnerRoleArn']);
    expect(json.Rules).toBeUndefined();
    expect(member.toJSON()).toMatchSnapshot();
  });
});

describe('cdk-nag', () => {
  it('finds nothing unacknowledged in the AwsSolutions pack', () => {
    const report = new AwsSolutionsChecks(argus.app).validateScope(argus.app);
    const findings = report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath}`));
    expect(findings).toEqual([]);
    // The app runs the pack as a validation plugin at synth: its report (when written) has no AwsSolutions violations either.
    const file = path.join(outdir, 'validation-report.json');
    const written = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { pluginReports: Array<{ pluginName: string; violations: unknown[] }> }) : { pluginReports: [] };
    expect(written.pluginReports.filter((r) => /AwsSolutions|NIST/i.test(r.pluginName)).flatMap((r) => r.violations)).toEqual([]);
  });

  it('finds nothing unacknowledged in the NIST 800-53 rev5 pack (the controls Argus attests for others)', () => {
    const report = new NIST80053R5Checks(argus.app).validateScope(argus.app);
    const findings = report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath}`));
    expect(findings).toEqual([]);
  });

  it('gives every acknowledgement a reason', () => {
    const acks = argus.app.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === 'aws:cdk:acknowledged-rules').map((m) => m.data as Record<string, string>))
      .flatMap((d) => Object.entries(d));
    expect(acks.length).toBeGreaterThan(0);
    for (const [id, reason] of acks) expect(reason.length, id).toBeGreaterThan(20);
  });
});

describe('ArgusControlPlane on its own', () => {
  it('takes a JWT authoriser instead of IAM, grants API invocation, and rejects a bad schedule at synth', () => {
    const app = scratchApp();
    const stack = new Stack(app, 'Jwt');
    const argusCp = new ArgusControlPlane(stack, 'Argus', { apiAuthorization: { type: 'jwt', issuer: 'https://issuer.example.com', audiences: ['argus'] } });
    argusCp.grantApiInvoke(new iam.Role(stack, 'Ci', { assumedBy: new iam.AccountRootPrincipal() }));
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::IAM::Policy', { Roles: [{ Ref: Match.stringLikeRegexp('^Ci') }], PolicyDocument: { Statement: [Match.objectLike({ Action: 'execute-api:Invoke' })] } });
    t.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', { AuthorizerType: 'JWT', JwtConfiguration: { Audience: ['argus'], Issuer: 'https://issuer.example.com' } });
    const byAuth = new Map<string, number>();
    for (const [, r] of resources(t, 'AWS::ApiGatewayV2::Route')) byAuth.set(String(props(r).AuthorizationType), (byAuth.get(String(props(r).AuthorizationType)) ?? 0) + 1);
    expect([...byAuth.keys()].filter((k) => k !== 'JWT' && k !== 'NONE')).toEqual([]);
    expect(byAuth.get('NONE') ?? 0).toBe(fs.existsSync(new URL('../../functions/api/agents.ts', import.meta.url)) ? API_ROUTES.filter((r) => r.family === 'agents').length : 0);

    expect(() => new ArgusControlPlane(new Stack(app, 'Bad'), 'Argus', { reconcileSchedule: 'rate(1 minutes)' })).toThrow(/reconcileSchedule: .*singular/);
  });

  it('reports synth time', () => {
    expect(synthMs).toBeLessThan(60_000);
  });
});
