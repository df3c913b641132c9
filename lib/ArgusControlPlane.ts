import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Annotations, ArnFormat, CfnOutput, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as authorizers from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import * as integrations from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { KEY_PREFIX } from '../src/core/keys.ts';
import { METRIC, METRIC_LABEL } from '../src/core/metric-names.ts';
import { parseSchedule } from '../src/core/schedule.ts';
import { CLOUDWATCH_NAMESPACE, objectiveAlarms } from '../src/core/slo/alarms.ts';
import { API_FAMILIES, API_FAMILY_ENTRIES, API_ROUTES, HANDLER_AUTHORISED_FAMILIES, type ApiFamily } from './ApiRoutes.ts';
import { ArgusStorage } from './ArgusStorage.ts';
import { acknowledgeWildcards } from './nag.ts';
import { missingSubstitutions, unusedSubstitutions } from './asl.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A ComplianceObjective manifest, as the alarm specs take it (src/core/slo/alarms.ts). */
export type ObjectiveDefinition = Parameters<typeof objectiveAlarms>[0];

/** Objects the attest-shard function writes: S3EvidenceLedger.outputKey with no prefix. */
const EVIDENCE_OUTPUTS_PATTERN = 'outputs/*';

/** Environment variables the functions read (set here only, through the construct). */
export const FUNCTION_ENV = {
  tableName: 'ARGUS_TABLE_NAME',
  evidenceBucket: 'ARGUS_EVIDENCE_BUCKET',
  evidenceSigningKey: 'ARGUS_EVIDENCE_SIGNING_KEY',
  stateMachineArn: 'ARGUS_RECONCILE_STATE_MACHINE_ARN',
  providerExternalId: 'ARGUS_PROVIDER_EXTERNAL_ID',
  providerRolePath: 'ARGUS_PROVIDER_ROLE_PATH',
  remoteWriteUrl: 'ARGUS_REMOTE_WRITE_URL',
  remoteWriteAuth: 'ARGUS_REMOTE_WRITE_AUTH',
} as const;

/** Path of the member accounts' provider roles: the runner may assume roles under it only. */
export const PROVIDER_ROLE_PATH = '/argus/';

/** How the HTTP API authorises callers. */
export type ApiAuthorization =
  | { readonly type: 'iam' }
  | {
      readonly type: 'jwt';
      /** Token issuer URL, e.g. `https://cognito-idp.<region>.amazonaws.com/<pool id>`. */
      readonly issuer: string;
      /** Accepted `aud` values (client ids). */
      readonly audiences: readonly string[];
    };

export interface ReconcileSettings {
  /** Shards the due work is split into (one Map iteration each at most). @default 16 */
  readonly shards?: number;
  /** Resources committed per transaction (at most 100, DynamoDB's transaction limit). @default 100 */
  readonly batchSize?: number;
  /** Map iterations (AttestShard invocations) running at once. @default 10 */
  readonly maxConcurrency?: number;
}

export interface RemoteWriteSettings {
  /** Remote-write URL, e.g. `https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>/api/v1/remote_write`. */
  readonly url: string;
  /** ARN of the Amazon Managed Service for Prometheus workspace: the function may `aps:RemoteWrite` to it only. */
  readonly workspaceArn: string;
}

export interface ArgusControlPlaneProps {
  /**
   * The table, key and evidence bucket. Pass one from a stack of its own (ArgusDataStack).
   * @default a new ArgusStorage inside this construct
   */
  readonly storage?: ArgusStorage;
  /**
   * When the reconcile workflow runs, as EventBridge Scheduler takes it (validated at synth with
   * the same parser the local scheduler uses).
   * @default 'rate(5 minutes)'
   */
  readonly reconcileSchedule?: string;
  /** @default { shards: 16, batchSize: 100, maxConcurrency: 10 } */
  readonly reconcile?: ReconcileSettings;
  /**
   * When the compliance figures go to CloudWatch (and to remote-write, when configured).
   * @default 'rate(1 minute)'
   */
  readonly publishSchedule?: string;
  /** @default { type: 'iam' }: callers sign requests with SigV4 and need `execute-api:Invoke` */
  readonly apiAuthorization?: ApiAuthorization;
  /**
   * ExternalId the runner passes when it assumes the member accounts' provider roles.
   * @default `argus-<this construct's address>` (stable for the construct's path)
   */
  readonly providerExternalId?: string;
  /**
   * Restricts the runner's `sts:AssumeRole` to roles in this AWS Organization (`aws:ResourceOrgID`).
   * @default no organisation condition (any account's role under the /argus/ path)
   */
  readonly organizationId?: string;
  /**
   * Objectives to alarm on: compliance below target, error-budget burn (multi-window composite
   * alarms, src/core/slo/alarms.ts), budget exhausted and no data.
   * @default none
   */
  readonly objectives?: readonly ObjectiveDefinition[];
  /**
   * Alarm when the oldest recorded result of any attestation is older than this.
   * @default Duration.hours(24)
   */
  readonly staleResultsAfter?: Duration;
  /** Where alarms notify. @default a new SNS topic (encrypted, TLS only) */
  readonly alarmTopic?: sns.ITopic;
  /**
   * How long the API access logs and function logs are kept: audit records (NIST 800-53 AU-11),
   * kept as long as the evidence by default.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Reserve one concurrent execution for each per-minute publisher, so that two ticks never
   * record SLO samples at once. Needs 10+ unreserved concurrency left in the account.
   * @default true
   */
  readonly reservePublisherConcurrency?: boolean;
  /** Push the compliance series to Prometheus / AMP too. @default off */
  readonly remoteWrite?: RemoteWriteSettings;
}

interface FunctionSpec {
  readonly entry: string;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly reservedConcurrentExecutions?: number;
}

/**
 * The Argus control plane on AWS: Lambda functions (Node.js 22, arm64, JSON logs, X-Ray), the
 * reconcile state machine (statemachines/reconcile.asl.json, Distributed Map over shards), the
 * EventBridge Scheduler schedules, the table's stream event source mapping, the HTTP API, and a
 * CloudWatch dashboard with alarms. Usable in any CDK app.
 *
 * @example
 * const data = new ArgusDataStack(app, 'ArgusData');
 * new ArgusControlPlaneStack(app, 'ArgusControlPlane', { storage: data.storage, reconcileSchedule: 'rate(15 minutes)' });
 */
export class ArgusControlPlane extends Construct {
  readonly storage: ArgusStorage;
  readonly functions: {
    readonly plan: nodejs.NodejsFunction;
    readonly attestShard: nodejs.NodejsFunction;
    readonly summarise: nodejs.NodejsFunction;
    readonly streamHandler: nodejs.NodejsFunction;
    readonly publisher: nodejs.NodejsFunction;
    /** One function per API route family (families whose functions/ entry does not exist yet are left out, with a warning). */
    readonly api: Readonly<Partial<Record<ApiFamily, nodejs.NodejsFunction>>>;
    readonly remoteWrite?: nodejs.NodejsFunction;
  };
  /** The role the attestation runner (AttestShard) runs as: member accounts' provider roles trust it. */
  readonly runnerRole: iam.Role;
  readonly providerExternalId: string;
  readonly stateMachine: sfn.StateMachine;
  readonly api: apigw.HttpApi;
  readonly alarmTopic: sns.ITopic;
  readonly alarms: cloudwatch.IAlarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;
  /** On-failure destination of the stream mapping (records that failed every retry). */
  readonly streamFailureQueue: sqs.Queue;
  /** Dead-letter queue of the schedules (invocations the scheduler could not deliver). */
  readonly scheduleDeadLetterQueue: sqs.Queue;

  private readonly logRetention: logs.RetentionDays;

  constructor(scope: Construct, id: string, props: ArgusControlPlaneProps = {}) {
    super(scope, id);
    this.storage = props.storage ?? new ArgusStorage(this, 'Storage');
    this.logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    this.providerExternalId = props.providerExternalId ?? `argus-${this.node.addr}`;
    const reconcileSchedule = validSchedule('reconcileSchedule', props.reconcileSchedule ?? 'rate(5 minutes)');
    const publishSchedule = validSchedule('publishSchedule', props.publishSchedule ?? 'rate(1 minute)');
    const reconcile = { shards: 16, batchSize: 100, maxConcurrency: 10, ...props.reconcile };
    if (reconcile.batchSize > 100) throw new Error(`ArgusControlPlane: reconcile.batchSize ${reconcile.batchSize} exceeds DynamoDB's 100 writes per transaction`);
    const reserve = props.reservePublisherConcurrency ?? true;

    // ---- queues -------------------------------------------------------------------------------
    this.streamFailureQueue = this.deadLetterQueue('StreamFailures', 'on-failure destination of the table stream mapping');
    this.scheduleDeadLetterQueue = this.deadLetterQueue('ScheduleDeadLetters', 'dead-letter queue of the EventBridge Scheduler schedules');

    // ---- functions ----------------------------------------------------------------------------
    const plan = this.fn('Plan', { entry: 'reconcile-plan.ts', description: 'Argus reconcile: plan the due work per shard', memorySize: 1024, timeout: Duration.seconds(290) });
    const attestShard = this.fn('AttestShard', {
      entry: 'reconcile-attest-shard.ts',
      description: 'Argus reconcile: attest one shard of the due work (the runner)',
      memorySize: 1769,
      timeout: Duration.seconds(890),
    });
    const summarise = this.fn('Summarise', { entry: 'reconcile-summarise.ts', description: 'Argus reconcile: add up shard results, publish run metrics', memorySize: 256, timeout: Duration.seconds(110) });
    const streamHandler = this.fn('StreamHandler', { entry: 'stream-handler.ts', description: 'Argus change feed: table stream to the engine', memorySize: 1024, timeout: Duration.minutes(5) });
    const publisher = this.fn('Publisher', {
      entry: 'cloudwatch-publisher.ts',
      description: 'Argus: publish compliance figures to CloudWatch',
      memorySize: 1024,
      timeout: Duration.seconds(55),
      ...(reserve ? { reservedConcurrentExecutions: 1 } : {}),
    });
    const apiFunctions: Partial<Record<ApiFamily, nodejs.NodejsFunction>> = {};
    for (const family of API_FAMILIES) {
      if (!fs.existsSync(path.join(ROOT, 'functions', API_FAMILY_ENTRIES[family]))) {
        Annotations.of(this).addWarningV2('argus:apiFamilyWithoutEntry', `API family ${family}: functions/${API_FAMILY_ENTRIES[family]} does not exist; its routes are not deployed`);
        continue;
      }
      apiFunctions[family] = this.fn(`Api${family[0]?.toUpperCase()}${family.slice(1)}`, {
        entry: API_FAMILY_ENTRIES[family],
        description: `Argus API: ${family} routes`,
        memorySize: family === 'openapi' ? 256 : 1024,
        timeout: Duration.seconds(29),
      });
    }
    let remoteWrite: nodejs.NodejsFunction | undefined;
    if (props.remoteWrite) {
      remoteWrite = this.fn('RemoteWrite', {
        entry: 'remote-write.ts',
        description: 'Argus: push compliance series with Prometheus remote-write',
        memorySize: 1024,
        timeout: Duration.seconds(55),
        ...(reserve ? { reservedConcurrentExecutions: 1 } : {}),
      });
      remoteWrite.addEnvironment(FUNCTION_ENV.remoteWriteUrl, props.remoteWrite.url);
      remoteWrite.addEnvironment(FUNCTION_ENV.remoteWriteAuth, 'sigv4');
      remoteWrite.addToRolePolicy(new iam.PolicyStatement({ actions: ['aps:RemoteWrite'], resources: [props.remoteWrite.workspaceArn] }));
    }
    this.functions = { plan, attestShard, summarise, streamHandler, publisher, api: apiFunctions, ...(remoteWrite ? { remoteWrite } : {}) };
    this.runnerRole = attestShard.role as iam.Role;

    // ---- data access: least privilege per function ---------------------------------------------
    const present = <T>(xs: ReadonlyArray<T | undefined>): T[] => xs.filter((x): x is T => x !== undefined);
    for (const f of present([plan, streamHandler, apiFunctions.compliance])) this.bindTable(f, 'read');
    for (const f of present([attestShard, publisher, apiFunctions.definitions, apiFunctions.operations, apiFunctions.agents, apiFunctions.agentAdmin, remoteWrite])) this.bindTable(f, 'readWrite');
    // openapi serves a static document; its context names the table but never reads it.
    apiFunctions.openapi?.addEnvironment(FUNCTION_ENV.tableName, this.storage.table.tableName);
    // The evidence ledger (S3EvidenceLedger): outputs under outputs/ (read back by verify), checkpoints signed with the signing key.
    this.storage.grantEvidenceWrite(attestShard, EVIDENCE_OUTPUTS_PATTERN);
    this.storage.grantEvidenceRead(attestShard, EVIDENCE_OUTPUTS_PATTERN);
    this.storage.grantEvidenceSign(attestShard);
    attestShard.addEnvironment(FUNCTION_ENV.evidenceBucket, this.storage.evidenceBucket.bucketName);
    attestShard.addEnvironment(FUNCTION_ENV.evidenceSigningKey, this.storage.signingKey.keyArn);
    publisher.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        // PutMetricData has no resource-level permissions; the namespace condition scopes it.
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': CLOUDWATCH_NAMESPACE } },
      }),
    );

    // ---- cross-account provider roles -----------------------------------------------------------
    attestShard.addEnvironment(FUNCTION_ENV.providerExternalId, this.providerExternalId);
    attestShard.addEnvironment(FUNCTION_ENV.providerRolePath, PROVIDER_ROLE_PATH);
    attestShard.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['sts:AssumeRole'],
        resources: [Stack.of(this).formatArn({ service: 'iam', region: '', account: '*', resource: 'role', resourceName: `${PROVIDER_ROLE_PATH.slice(1)}*` })],
        ...(props.organizationId ? { conditions: { StringEquals: { 'aws:ResourceOrgID': props.organizationId } } } : {}),
      }),
    );
    acknowledgeWildcards(this.runnerRole, [
      { finding: /^Resource::arn:<AWS::Partition>:iam::\*:role\/argus\/\*$/, reason: 'The runner assumes the provider role of whichever member account a Provider names; member roles live under the /argus/ path and each trusts this role only with an ExternalId.' },
    ]);

    // ---- reconcile state machine ----------------------------------------------------------------
    this.stateMachine = this.reconcileStateMachine({ plan, attestShard, summarise });
    for (const f of present([apiFunctions.operations, apiFunctions.agentAdmin])) {
      // POST /reconcile and POST /work/runs/{runId}/cancel reach the workflow.
      f.addEnvironment(FUNCTION_ENV.stateMachineArn, this.stateMachine.stateMachineArn);
      this.stateMachine.grantStartExecution(f);
    }

    // ---- schedules ------------------------------------------------------------------------------
    // One role for the schedules, inside this construct (the targets' default role would sit at stack level).
    const schedulerRole = new iam.Role(this, 'SchedulerRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } } }),
      description: 'Argus schedules: start the reconcile workflow, invoke the publishers',
    });
    new scheduler.Schedule(this, 'ReconcileSchedule', {
      description: 'Argus: run the reconcile workflow',
      schedule: scheduler.ScheduleExpression.expression(reconcileSchedule),
      target: new targets.StepFunctionsStartExecution(this.stateMachine, {
        role: schedulerRole,
        input: scheduler.ScheduleTargetInput.fromObject(reconcile),
        deadLetterQueue: this.scheduleDeadLetterQueue,
        retryAttempts: 3,
        maxEventAge: Duration.minutes(5),
      }),
    });
    for (const [sid, f] of [['PublishSchedule', publisher], ...(remoteWrite ? [['RemoteWriteSchedule', remoteWrite] as const] : [])] as const) {
      new scheduler.Schedule(this, sid, {
        description: `Argus: ${f === publisher ? 'publish to CloudWatch' : 'push remote-write'}`,
        schedule: scheduler.ScheduleExpression.expression(publishSchedule),
        // A late tick is worth nothing: the next one comes a period later.
        target: new targets.LambdaInvoke(f, { role: schedulerRole, deadLetterQueue: this.scheduleDeadLetterQueue, retryAttempts: 0, maxEventAge: Duration.minutes(1) }),
      });
    }

    // ---- change feed ----------------------------------------------------------------------------
    streamHandler.addEventSource(
      new sources.DynamoEventSource(this.storage.table, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        maxBatchingWindow: Duration.seconds(1),
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        retryAttempts: 10,
        maxRecordAge: Duration.hours(24),
        // Records of one key stay in order: the engine applies the last image of a key.
        parallelizationFactor: 1,
        onFailure: new sources.SqsDlq(this.streamFailureQueue),
        // One filter per item type the engine reads: definitions and results.
        filters: [KEY_PREFIX.definition, KEY_PREFIX.results].map((prefix) =>
          lambda.FilterCriteria.filter({ dynamodb: { Keys: { pk: { S: lambda.FilterRule.beginsWith(prefix) } } } }),
        ),
      }),
    );

    // ---- API ------------------------------------------------------------------------------------
    this.api = this.httpApi(props.apiAuthorization ?? { type: 'iam' }, apiFunctions);

    // ---- alarms and dashboard -------------------------------------------------------------------
    this.alarmTopic = props.alarmTopic ?? new sns.Topic(this, 'Alarms', { displayName: 'Argus alarms', masterKey: this.storage.key, enforceSSL: true });
    this.dashboard = this.monitoring(props.objectives ?? [], props.staleResultsAfter ?? Duration.hours(24));

    // Wildcards written by grant* methods (table indexes, KMS data keys, bucket objects, function versions).
    acknowledgeWildcards(this);
    Validations.of(this).acknowledge({
      id: 'NIST.800.53.R5-IAMNoInlinePolicy',
      reason: 'The grant* methods write one AWS::IAM::Policy per role, attached to that role only; each is generated from the least-privilege grants above and reviewed with the construct.',
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.apiEndpoint, description: 'Argus API: argus get requirements --api <this URL>' });
    new CfnOutput(this, 'RunnerRoleArn', { value: this.runnerRole.roleArn, description: 'Member accounts: the provider role trusts this role (RunnerRoleArn parameter)' });
    new CfnOutput(this, 'ProviderExternalId', { value: this.providerExternalId, description: 'Member accounts: the ExternalId parameter' });
    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn });
  }

  /** Lets a principal (a CI role, an operator's role) call the API with SigV4 (`argus ... --api URL`). */
  grantApiInvoke(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['execute-api:Invoke'], resourceArns: [this.api.arnForExecuteApi()] });
  }

  /** Gives a function access to the table and names it in its environment. */
  bindTable(fn: lambda.Function, access: 'read' | 'readWrite'): void {
    if (access === 'read') this.storage.grantReadData(fn);
    else this.storage.grantReadWriteData(fn);
    fn.addEnvironment(FUNCTION_ENV.tableName, this.storage.table.tableName);
  }

  private deadLetterQueue(id: string, what: string): sqs.Queue {
    const queue = new sqs.Queue(this, id, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(queue).acknowledge({ id: 'AwsSolutions-SQS3', reason: `This queue is itself a dead-letter queue (${what}).` });
    return queue;
  }

  private fn(id: string, spec: FunctionSpec): nodejs.NodejsFunction {
    const logGroup = new logs.LogGroup(this, `${id}Logs`, { retention: this.logRetention, encryptionKey: this.storage.key });
    // An own role without the AWSLambdaBasicExecutionRole managed policy: it may write its own log group only.
    const role = new iam.Role(this, `${id}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: `Argus ${id} function` });
    const fn = new nodejs.NodejsFunction(this, id, {
      entry: path.join(ROOT, 'functions', spec.entry),
      handler: 'handler',
      projectRoot: ROOT,
      depsLockFilePath: path.join(ROOT, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: spec.memorySize,
      timeout: spec.timeout,
      description: spec.description,
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      tracing: lambda.Tracing.ACTIVE,
      ...(spec.reservedConcurrentExecutions !== undefined ? { reservedConcurrentExecutions: spec.reservedConcurrentExecutions } : {}),
      environment: { NODE_OPTIONS: '--enable-source-maps' },
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // Bundle the AWS SDK too: the deployed code runs the versions the tests ran.
        externalModules: [],
        banner: "import { createRequire as __argusCreateRequire } from 'node:module'; const require = __argusCreateRequire(import.meta.url);",
      },
    });
    logGroup.grantWrite(role);
    Validations.of(fn).acknowledge(
      {
        id: 'NIST.800.53.R5-LambdaInsideVPC',
        reason: 'The functions call only AWS APIs (DynamoDB, S3, STS, CloudWatch, Step Functions) over TLS with SigV4 and reach no private network; a VPC would add NAT or endpoints without narrowing what they can reach.',
      },
      {
        id: 'NIST.800.53.R5-LambdaDLQ',
        reason: 'Invoked synchronously (Step Functions, API Gateway) or by the stream mapping, which has its own SQS on-failure destination; the per-minute publishers are superseded by the next tick, and the scheduler has a dead-letter queue for undeliverable invocations.',
      },
      ...(spec.reservedConcurrentExecutions === undefined
        ? [
            {
              id: 'NIST.800.53.R5-LambdaConcurrency',
              reason: 'Concurrency is bounded by the callers: the Distributed Map\'s MaxConcurrency (reconcile), one batch per stream shard (stream handler), the API stage\'s throttling (API routes).',
            },
          ]
        : []),
    );
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray PutTraceSegments/PutTelemetryRecords (tracing) and CloudWatch PutMetricData (namespace-conditioned) support no resource-level permissions.',
    });
    return fn;
  }

  private reconcileStateMachine(fns: { plan: lambda.IFunction; attestShard: lambda.IFunction; summarise: lambda.IFunction }): sfn.StateMachine {
    const file = path.join(ROOT, 'statemachines', 'reconcile.asl.json');
    const substitutions = { PlanFunctionArn: fns.plan.functionArn, AttestShardFunctionArn: fns.attestShard.functionArn, SummariseFunctionArn: fns.summarise.functionArn };
    const asl = fs.readFileSync(file, 'utf8');
    const missing = missingSubstitutions(asl, substitutions);
    const unused = unusedSubstitutions(asl, substitutions);
    if (missing.length > 0 || unused.length > 0) throw new Error(`${file}: placeholders without a substitution: [${missing.join(', ')}]; substitutions without a placeholder: [${unused.join(', ')}]`);
    const logGroup = new logs.LogGroup(this, 'ReconcileLogs', { retention: this.logRetention, encryptionKey: this.storage.key });
    const sm = new sfn.StateMachine(this, 'Reconcile', {
      definitionBody: sfn.DefinitionBody.fromFile(file),
      definitionSubstitutions: substitutions,
      stateMachineType: sfn.StateMachineType.STANDARD,
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    for (const f of Object.values(fns)) f.grantInvoke(sm);
    // The Distributed Map starts child executions of this state machine. A separate policy
    // (not the role's default policy, which the state machine depends on) avoids a cycle.
    const stack = Stack.of(this);
    const childExecutions = stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${sm.stateMachineName}/*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const mapPolicy = new iam.Policy(this, 'ReconcileDistributedMapPolicy', {
      statements: [
        new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [sm.stateMachineArn] }),
        new iam.PolicyStatement({ actions: ['states:DescribeExecution', 'states:StopExecution'], resources: [childExecutions] }),
      ],
    });
    mapPolicy.attachToRole(sm.role);
    acknowledgeWildcards(mapPolicy, [{ finding: /^Resource::.*:execution:.*\/\*$/, reason: 'The Distributed Map describes and stops the child executions it started; their ids are generated at run time.' }]);
    Validations.of(sm.role).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'X-Ray tracing and CloudWatch Logs log delivery (logs:*LogDelivery) support no resource-level permissions.' });
    return sm;
  }

  private httpApi(authorization: ApiAuthorization, fns: Readonly<Partial<Record<ApiFamily, lambda.IFunction>>>): apigw.HttpApi {
    const authorizer =
      authorization.type === 'iam'
        ? new authorizers.HttpIamAuthorizer()
        : new authorizers.HttpJwtAuthorizer('JwtAuthorizer', authorization.issuer, { jwtAudience: [...authorization.audiences] });
    const api = new apigw.HttpApi(this, 'Api', { description: 'Argus REST API (docs/api.md)', defaultAuthorizer: authorizer, createDefaultStage: true });
    const integrationsByFamily = new Map<ApiFamily, integrations.HttpLambdaIntegration>();
    for (const family of API_FAMILIES) {
      const fn = fns[family];
      if (fn) integrationsByFamily.set(family, new integrations.HttpLambdaIntegration(`${family}Integration`, fn));
    }
    for (const route of API_ROUTES) {
      const integration = integrationsByFamily.get(route.family);
      if (!integration) continue;
      const handlerAuthorised = HANDLER_AUTHORISED_FAMILIES.has(route.family);
      const [created] = api.addRoutes({ path: route.path, methods: [apigw.HttpMethod[route.method]], integration, ...(handlerAuthorised ? { authorizer: new apigw.HttpNoneAuthorizer() } : {}) });
      if (handlerAuthorised && created) {
        Validations.of(created).acknowledge({ id: 'AwsSolutions-APIG4', reason: 'Agent routes: agents run outside AWS and present a per-Provider API key, verified by the handler against its stored hash (src/api/agent-handlers.ts).' });
      }
    }
    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', { retention: this.logRetention, encryptionKey: this.storage.key });
    const stage = api.defaultStage?.node.defaultChild as apigw.CfnStage;
    stage.accessLogSettings = {
      destinationArn: accessLogs.logGroupArn,
      format: JSON.stringify({
        requestId: '$context.requestId',
        ip: '$context.identity.sourceIp',
        caller: '$context.identity.caller',
        user: '$context.identity.user',
        requestTime: '$context.requestTime',
        routeKey: '$context.routeKey',
        status: '$context.status',
        protocol: '$context.protocol',
        responseLength: '$context.responseLength',
        integrationError: '$context.integrationErrorMessage',
        latency: '$context.responseLatency',
      }),
    };
    stage.defaultRouteSettings = { throttlingBurstLimit: 200, throttlingRateLimit: 100, detailedMetricsEnabled: true };
    return api;
  }

  private monitoring(objectives: readonly ObjectiveDefinition[], staleAfter: Duration): cloudwatch.Dashboard {
    const notify = new actions.SnsAction(this.alarmTopic);
    const add = <T extends cloudwatch.IAlarm & { addAlarmAction(...a: cloudwatch.IAlarmAction[]): void }>(alarm: T): T => {
      alarm.addAlarmAction(notify);
      this.alarms.push(alarm);
      return alarm;
    };
    const minute = Duration.minutes(1);
    const runner = [this.functions.plan, this.functions.attestShard, this.functions.summarise];

    // Runner errors: function errors (after Lambda's own handling) and failed workflow runs.
    const runnerErrors = new cloudwatch.MathExpression({
      expression: runner.map((_, i) => `e${i}`).join(' + '),
      usingMetrics: Object.fromEntries(runner.map((f, i) => [`e${i}`, f.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' })])),
      label: 'reconcile function errors',
      period: Duration.minutes(5),
    });
    add(new cloudwatch.Alarm(this, 'RunnerErrors', { metric: runnerErrors, threshold: 0, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, evaluationPeriods: 1, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, alarmDescription: 'Argus: reconcile functions (plan, attest shard, summarise) raised errors' }));
    add(new cloudwatch.Alarm(this, 'ReconcileFailed', { metric: this.stateMachine.metricFailed({ period: Duration.minutes(5), statistic: 'Sum' }), threshold: 0, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, evaluationPeriods: 1, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, alarmDescription: 'Argus: a reconcile execution failed' }));
    add(new cloudwatch.Alarm(this, 'StreamHandlerErrors', { metric: this.functions.streamHandler.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }), threshold: 0, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, evaluationPeriods: 3, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, alarmDescription: 'Argus: the change-feed handler keeps failing (records are retried, then go to the failure queue)' }));

    // DLQ depth: anything in a dead-letter queue needs a look.
    for (const [id, queue] of [['StreamFailuresDepth', this.streamFailureQueue], ['ScheduleDeadLettersDepth', this.scheduleDeadLetterQueue]] as const) {
      add(new cloudwatch.Alarm(this, id, { metric: queue.metricApproximateNumberOfMessagesVisible({ period: minute, statistic: 'Maximum' }), threshold: 0, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, evaluationPeriods: 1, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, alarmDescription: `Argus: messages in ${id.replace('Depth', '')}` }));
    }

    // Results gone stale: the oldest result of any attestation (one series per attestation, so a Metrics Insights query).
    const resultAge = new cloudwatch.MathExpression({ expression: `SELECT MAX("${METRIC.attestationResultAgeSeconds}") FROM "${CLOUDWATCH_NAMESPACE}"`, usingMetrics: {}, period: Duration.minutes(5), label: 'oldest result age (s)' });
    add(new cloudwatch.Alarm(this, 'ResultsStale', { metric: resultAge, threshold: staleAfter.toSeconds(), comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, evaluationPeriods: 3, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, alarmDescription: `Argus: some attestation has no result newer than ${staleAfter.toHumanString()}` }));

    // Objectives: below target, plus the burn-rate alarms exactly as src/core/slo/alarms.ts specifies them.
    const objectiveWidgets: cloudwatch.IWidget[] = [];
    for (const objective of objectives) {
      const name = objective.metadata.name;
      const sli = new cloudwatch.Metric({ namespace: CLOUDWATCH_NAMESPACE, metricName: METRIC.objectiveComplianceRatio, dimensionsMap: { [METRIC_LABEL.objective]: name }, statistic: 'Minimum', period: minute });
      add(new cloudwatch.Alarm(this, `Objective-${name}-below-target`, { metric: sli, threshold: objective.spec.target, comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD, evaluationPeriods: 5, datapointsToAlarm: 5, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, alarmDescription: `Objective ${name}: compliance ratio below its target ${objective.spec.target}` }));
      const spec = objectiveAlarms(objective);
      const byId = new Map<string, cloudwatch.Alarm>();
      for (const a of spec.metricAlarms) {
        const alarm = new cloudwatch.Alarm(this, `Objective-${a.id}`, {
          metric: new cloudwatch.Metric({ namespace: a.namespace, metricName: a.metricName, dimensionsMap: { ...a.dimensions }, statistic: a.statistic, period: Duration.seconds(a.periodSeconds) }),
          threshold: a.threshold,
          comparisonOperator: a.comparisonOperator === 'GreaterThanThreshold' ? cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD : cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: a.evaluationPeriods,
          datapointsToAlarm: a.datapointsToAlarm,
          treatMissingData: TREAT_MISSING[a.treatMissingData],
          alarmDescription: a.description,
        });
        byId.set(a.id, alarm);
        // Burn-rate alarms notify through their composite; the others notify themselves.
        const composite = spec.compositeAlarms.find((c) => c.allOf.includes(a.id));
        if (!composite) add(alarm);
        else {
          this.alarms.push(alarm);
          Validations.of(alarm).acknowledge({
            id: 'NIST.800.53.R5-CloudWatchAlarmAction',
            reason: `A burn-rate window of the multi-window alarm ${composite.id}: the composite alarm notifies, so one burning window alone does not page (SRE workbook).`,
          });
        }
      }
      for (const c of spec.compositeAlarms) {
        const [long, short] = c.allOf.map((aid) => byId.get(aid) as cloudwatch.Alarm) as [cloudwatch.Alarm, cloudwatch.Alarm];
        add(new cloudwatch.CompositeAlarm(this, `Objective-${c.id}`, { alarmRule: cloudwatch.AlarmRule.allOf(long, short), alarmDescription: `${c.description} [${c.severity}]` }));
      }
      objectiveWidgets.push(new cloudwatch.GraphWidget({ title: `Objective ${name}: compliance`, left: [sli], leftAnnotations: [{ value: objective.spec.target, label: 'target' }], width: 12 }));
    }

    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(24) });
    dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Argus alarms', alarms: this.alarms, width: 24 }),
      new cloudwatch.GraphWidget({ title: 'Reconcile executions', left: [this.stateMachine.metricSucceeded(), this.stateMachine.metricFailed(), this.stateMachine.metricTimedOut()], width: 12 }),
      new cloudwatch.GraphWidget({ title: 'Reconcile function errors', left: runner.map((f) => f.metricErrors()), width: 12 }),
      new cloudwatch.GraphWidget({ title: 'Runner duration (p90)', left: runner.map((f) => f.metricDuration({ statistic: 'p90' })), width: 12 }),
      new cloudwatch.GraphWidget({ title: 'Change feed', left: [this.functions.streamHandler.metricErrors(), this.functions.streamHandler.metric('IteratorAge', { statistic: 'Maximum' })], width: 12 }),
      new cloudwatch.GraphWidget({ title: 'Dead-letter queues', left: [this.streamFailureQueue.metricApproximateNumberOfMessagesVisible(), this.scheduleDeadLetterQueue.metricApproximateNumberOfMessagesVisible()], width: 12 }),
      new cloudwatch.GraphWidget({ title: 'Oldest result age (s)', left: [resultAge], leftAnnotations: [{ value: staleAfter.toSeconds(), label: 'stale' }], width: 12 }),
      ...objectiveWidgets,
    );
    return dashboard;
  }
}

const TREAT_MISSING: Readonly<Record<'notBreaching' | 'breaching' | 'missing' | 'ignore', cloudwatch.TreatMissingData>> = {
  notBreaching: cloudwatch.TreatMissingData.NOT_BREACHING,
  breaching: cloudwatch.TreatMissingData.BREACHING,
  missing: cloudwatch.TreatMissingData.MISSING,
  ignore: cloudwatch.TreatMissingData.IGNORE,
};

/** Parses a schedule with the runtime's own parser, so a typo fails at synth, not at deploy. */
function validSchedule(prop: string, expression: string): string {
  try {
    return parseSchedule(expression).expression;
  } catch (error) {
    throw new Error(`ArgusControlPlane: ${prop}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}
