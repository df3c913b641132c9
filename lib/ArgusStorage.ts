import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { TABLE_ATTR, TABLE_INDEX } from '../src/core/table-design.ts';

/** Denied on the evidence bucket to every principal: evidence is put, never deleted or unlocked. */
export const EVIDENCE_DENIED_ACTIONS = [
  's3:DeleteObject',
  's3:DeleteObjectVersion',
  's3:PutObjectRetention',
  's3:PutObjectLegalHold',
  's3:BypassGovernanceRetention',
  's3:PutBucketObjectLockConfiguration',
];

/** How S3 Object Lock protects evidence objects by default. */
export interface EvidenceRetention {
  /**
   * `GOVERNANCE`: users with `s3:BypassGovernanceRetention` can still delete early.
   * `COMPLIANCE`: nobody can, the account root included, until the retention passes.
   * @default 'COMPLIANCE'
   */
  readonly mode?: 'GOVERNANCE' | 'COMPLIANCE';
  /** @default Duration.days(365) */
  readonly duration?: Duration;
}

export interface ArgusStorageProps {
  /**
   * What happens to the table, key and buckets when they leave the stack. Keep RETAIN for real
   * deployments: the table and the evidence are the system of record.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * DynamoDB deletion protection on the table.
   * @default true
   */
  readonly deletionProtection?: boolean;
  /** @default { mode: 'COMPLIANCE', duration: Duration.days(365) } */
  readonly evidenceRetention?: EvidenceRetention;
  /**
   * Back the table up with AWS Backup (daily, kept 35 days, in a vault encrypted with the key), on
   * top of point-in-time recovery.
   * @default true
   */
  readonly backup?: boolean;
}

/**
 * Argus's stateful resources: the single DynamoDB table (stream NEW_AND_OLD_IMAGES, point-in-time
 * recovery, customer managed KMS key, deletion protection), the S3 evidence bucket with Object
 * Lock, and the bucket that receives the evidence bucket's access logs. Put it in a stack of its
 * own (see ArgusDataStack) so that the stateless control plane can be replaced freely.
 *
 * @example
 * const storage = new ArgusStorage(dataStack, 'Storage');
 * new ArgusControlPlane(appStack, 'Argus', { storage });
 */
export class ArgusStorage extends Construct {
  /** Encrypts the table, the evidence bucket and the stream's on-failure queue. */
  readonly key: kms.Key;
  readonly table: dynamodb.Table;
  /** Evidence (provider outputs, ledger checkpoints): versioned, Object Lock on. */
  readonly evidenceBucket: s3.Bucket;
  /** Server access logs of the evidence bucket. */
  readonly accessLogsBucket: s3.Bucket;
  /** Signs evidence ledger checkpoints (ECC_NIST_P256, SIGN_VERIFY): the private key never leaves KMS. */
  readonly signingKey: kms.Key;

  constructor(scope: Construct, id: string, props: ArgusStorageProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const autoDelete = removalPolicy === RemovalPolicy.DESTROY;

    this.key = new kms.Key(this, 'Key', {
      description: 'Argus: table, evidence and queue encryption',
      enableKeyRotation: true,
      removalPolicy,
    });

    const stack = Stack.of(this);
    // CloudWatch Logs encrypts the functions' log groups with this key; CloudWatch alarms publish to the encrypted alarm topic.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchLogs',
        principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) } },
      }),
    );
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsToEncryptedTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE_ATTR.pk, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_ATTR.sk, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      deletionProtection: props.deletionProtection ?? true,
      timeToLiveAttribute: TABLE_ATTR.ttl,
      removalPolicy,
    });
    for (const index of [TABLE_INDEX.byParent, TABLE_INDEX.byDue]) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.pk, type: dynamodb.AttributeType.STRING },
        sortKey: { name: index.sk, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.KEYS_ONLY,
      });
    }

    if (props.backup ?? true) {
      const vault = new backup.BackupVault(this, 'BackupVault', { encryptionKey: this.key, removalPolicy });
      const plan = backup.BackupPlan.daily35DayRetention(this, 'BackupPlan', vault);
      const selection = plan.addSelection('Table', { resources: [backup.BackupResource.fromDynamoDbTable(this.table)] });
      Validations.of(selection).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]',
        reason: 'The AWS-maintained service role policy AWS Backup needs to back up the selected table; AWS keeps it current with the services Backup supports.',
      });
    }

    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      // S3 server access logging delivers to SSE-S3 buckets only, not SSE-KMS.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(400), noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy,
      autoDeleteObjects: autoDelete,
    });
    Validations.of(this.accessLogsBucket).acknowledge(
      { id: 'AwsSolutions-S1', reason: 'This bucket is the server access log destination of the evidence bucket; logging it into itself would loop.' },
      { id: 'NIST.800.53.R5-S3DefaultEncryptionKMS', reason: 'S3 server access logging delivers only to buckets encrypted with SSE-S3, not SSE-KMS.' },
      { id: 'NIST.800.53.R5-S3BucketReplicationEnabled', reason: 'Access logs of the evidence bucket; replicating them to a second region is a deployment decision (a second region and key), not a default.' },
    );

    const retention = props.evidenceRetention ?? {};
    const duration = retention.duration ?? Duration.days(365);
    this.evidenceBucket = new s3.Bucket(this, 'Evidence', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      objectLockEnabled: true,
      objectLockDefaultRetention: retention.mode === 'GOVERNANCE' ? s3.ObjectLockRetention.governance(duration) : s3.ObjectLockRetention.compliance(duration),
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'evidence/',
      removalPolicy,
      // Object Lock forbids early deletion: autoDeleteObjects could never empty this bucket.
      autoDeleteObjects: false,
    });
    // COMPLIANCE mode already blocks deleting or shortening the retention of a locked version;
    // this deny makes the intent explicit for every principal (the account root included) and
    // also refuses delete markers, legal-hold changes and changes to the lock configuration.
    // Changing evidenceRetention later therefore needs this statement removed first.
    this.evidenceBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyEvidenceDeletionAndRetentionChanges',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: EVIDENCE_DENIED_ACTIONS,
        resources: [this.evidenceBucket.bucketArn, this.evidenceBucket.arnForObjects('*')],
      }),
    );
    Validations.of(this.evidenceBucket).acknowledge({
      id: 'NIST.800.53.R5-S3BucketReplicationEnabled',
      reason: 'Evidence is protected in-region by versioning and Object Lock; cross-region replication needs a second region and key, a deployment decision left to the operator.',
    });

    // Checkpoint signatures in retained evidence must stay verifiable: the key is retained
    // whatever removalPolicy says (deleting it would only schedule deletion, but losing it
    // would leave the public key available only where someone exported it).
    this.signingKey = new kms.Key(this, 'EvidenceSigningKey', {
      description: 'Argus: signs evidence ledger checkpoints',
      keySpec: kms.KeySpec.ECC_NIST_P256,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /** Read access to the table (and its indexes, and the key to decrypt). */
  grantReadData(grantee: iam.IGrantable): iam.Grant {
    return this.table.grantReadData(grantee);
  }

  /** Read and write access to the table's items. */
  grantReadWriteData(grantee: iam.IGrantable): iam.Grant {
    return this.table.grantReadWriteData(grantee);
  }

  /** Writes evidence objects (and their retention) into the evidence bucket, under `objectsKeyPattern` (e.g. `outputs/*`). @default '*' */
  grantEvidenceWrite(grantee: iam.IGrantable, objectsKeyPattern?: string): iam.Grant {
    return this.evidenceBucket.grantPut(grantee, objectsKeyPattern);
  }

  /** Reads evidence objects under `objectsKeyPattern`. @default '*' */
  grantEvidenceRead(grantee: iam.IGrantable, objectsKeyPattern?: string): iam.Grant {
    return this.evidenceBucket.grantRead(grantee, objectsKeyPattern);
  }

  /** Signs checkpoints with the signing key and reads its public key (that key only). */
  grantEvidenceSign(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['kms:Sign', 'kms:GetPublicKey'], resourceArns: [this.signingKey.keyArn] });
  }
}
