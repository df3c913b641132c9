import { Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { PROVIDER_ROLE_PATH } from './ArgusControlPlane.ts';

/**
 * Read-only actions the providers need in a member account: the Cloud Control API (the live
 * resource source reads configuration through ListResources/GetResource) and the describe/list
 * permissions its read handlers call for the resource types Argus's catalogs check. No data-plane
 * reads: see DENIED_DATA_READS.
 */
export const PROVIDER_READ_ACTIONS: readonly string[] = [
  'cloudformation:ListResources',
  'cloudformation:GetResource',
  'cloudformation:DescribeStacks',
  'cloudformation:ListStackResources',
  'cloudformation:GetTemplate',
  's3:ListAllMyBuckets',
  's3:GetBucketLocation',
  's3:GetBucketTagging',
  's3:GetEncryptionConfiguration',
  's3:GetBucketVersioning',
  's3:GetBucketLogging',
  's3:GetBucketPolicy',
  's3:GetBucketPublicAccessBlock',
  's3:GetBucketOwnershipControls',
  's3:GetBucketObjectLockConfiguration',
  's3:GetLifecycleConfiguration',
  's3:GetReplicationConfiguration',
  'dynamodb:ListTables',
  'dynamodb:DescribeTable',
  'dynamodb:DescribeContinuousBackups',
  'dynamodb:DescribeTimeToLive',
  'dynamodb:ListTagsOfResource',
  'kms:ListKeys',
  'kms:DescribeKey',
  'kms:GetKeyRotationStatus',
  'kms:GetKeyPolicy',
  'kms:ListResourceTags',
  'lambda:ListFunctions',
  'lambda:GetFunction',
  'lambda:GetFunctionConfiguration',
  'lambda:ListTags',
  'sqs:ListQueues',
  'sqs:GetQueueAttributes',
  'sqs:ListQueueTags',
  'sns:ListTopics',
  'sns:GetTopicAttributes',
  'sns:ListTagsForResource',
  'logs:DescribeLogGroups',
  'logs:ListTagsForResource',
  'iam:ListRoles',
  'iam:GetRole',
  'iam:ListRolePolicies',
  'iam:ListAttachedRolePolicies',
  'cloudtrail:DescribeTrails',
  'cloudtrail:GetTrailStatus',
  'ec2:DescribeVpcs',
  'ec2:DescribeSecurityGroups',
  'ec2:DescribeFlowLogs',
  'rds:DescribeDBInstances',
  'rds:DescribeDBClusters',
];

/** Data-plane reads denied outright, whatever else the role is given later. */
export const DENIED_DATA_READS: readonly string[] = [
  's3:GetObject',
  's3:GetObjectVersion',
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:Scan',
  'secretsmanager:GetSecretValue',
  'ssm:GetParameter',
  'ssm:GetParameters',
  'ssm:GetParametersByPath',
  'kms:Decrypt',
  'sqs:ReceiveMessage',
];

export interface ArgusMemberAccountRoleProps {
  /** ARN of the control plane's runner role (ArgusControlPlane.runnerRole, output RunnerRoleArn): the only principal trusted. */
  readonly runnerRoleArn: string;
  /** The ExternalId the runner passes (ArgusControlPlane.providerExternalId, output ProviderExternalId). */
  readonly externalId: string;
  /**
   * The role's name under the /argus/ path. Fixed rather than generated, on purpose: a Provider
   * definition names `arn:aws:iam::<account>:role/argus/<roleName>` in every member account.
   * @default 'argus-provider'
   */
  readonly roleName?: string;
  /** More read-only actions, for resource types the default list does not cover. @default none */
  readonly additionalReadActions?: readonly string[];
}

/**
 * The cross-account provider role of one member account: trusts only the control plane's runner
 * role, only with the ExternalId, and may only read configuration. Deploy it to every member
 * account with CloudFormation StackSets (see ArgusMemberAccountStack and docs/deploy.md).
 *
 * @example
 * new ArgusMemberAccountRole(stack, 'Provider', { runnerRoleArn, externalId });
 */
export class ArgusMemberAccountRole extends Construct {
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: ArgusMemberAccountRoleProps) {
    super(scope, id);
    this.role = new iam.Role(this, 'Role', {
      roleName: props.roleName ?? 'argus-provider',
      path: PROVIDER_ROLE_PATH,
      description: 'Argus provider role: read-only configuration access for the Argus control plane',
      assumedBy: new iam.ArnPrincipal(props.runnerRoleArn).withConditions({ StringEquals: { 'sts:ExternalId': props.externalId } }),
      maxSessionDuration: Duration.hours(1),
    });
    const policy = new iam.Policy(this, 'ReadConfiguration', {
      statements: [
        new iam.PolicyStatement({
          sid: 'ReadConfiguration',
          actions: [...PROVIDER_READ_ACTIONS, ...(props.additionalReadActions ?? [])],
          // Describe/List/Get-configuration actions; many (List*, Describe* of a service) have no resource-level permissions.
          resources: ['*'],
        }),
        new iam.PolicyStatement({ sid: 'NoDataReads', effect: iam.Effect.DENY, actions: [...DENIED_DATA_READS], resources: ['*'] }),
      ],
    });
    policy.attachToRole(this.role);
    Validations.of(policy).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'Read-only configuration actions across the account (the resources to attest are not known in advance; List/Describe actions take no resource ARNs); data-plane reads are denied explicitly.',
      },
      { id: 'NIST.800.53.R5-IAMNoInlinePolicy', reason: 'One policy attached to this one role, kept beside it so that the StackSet template is self-contained.' },
    );
  }
}
