/**
 * Dependencies of the reconcile, change-feed and publisher Lambdas on AWS. The table store,
 * providers and clock are the per-container context the API functions use
 * (functions/api/aws-context.ts reads ARGUS_TABLE_NAME once and throws naming it when it is
 * missing); the engine is loaded from the table per invocation, because a container shares no
 * state with the stream or with the other writers. Entries import this module lazily, so the
 * local runtime that reuses their factories never loads the SDK clients.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { awsApiContext } from '../../../functions/api/aws-context.ts';
import { ArgusError } from '../../core/errors.ts';
import type { ComplianceEngine } from '../../core/compliance/engine.ts';
import type { Clock } from '../../core/ports/clock.ts';
import type { EvidenceLedger } from '../../core/ports/evidence-ledger.ts';
import type { Store } from '../../core/ports/store.ts';
import type { ProviderLookup } from '../../core/use-cases/reconcile.ts';
import { CloudWatchPublisher } from './cloudwatch-publisher.ts';
import { KmsPublicKeyVerifier, KmsSigner } from './kms-signer.ts';
import { S3EvidenceLedger, type S3EvidenceLedgerOptions } from './s3-evidence-ledger.ts';

/** Environment of the attest-shard function's evidence ledger (set by ArgusControlPlane). */
export const EVIDENCE_ENV = { bucket: 'ARGUS_EVIDENCE_BUCKET', signingKey: 'ARGUS_EVIDENCE_SIGNING_KEY' } as const;

/** What every table-backed entry gets, created once per container. */
export interface LambdaTableDeps {
  readonly store: Store;
  readonly providers: ProviderLookup;
  readonly clock: Clock;
}

export function lambdaTableDeps(env: NodeJS.ProcessEnv = process.env): LambdaTableDeps {
  const { store, providers, clock } = awsApiContext(env);
  return { store, providers, clock };
}

/** The container's deps plus an engine loaded from the table now (one per invocation). */
export async function lambdaEngineDeps(env: NodeJS.ProcessEnv = process.env): Promise<LambdaTableDeps & { readonly engine: ComplianceEngine }> {
  const context = awsApiContext(env);
  return { ...lambdaTableDeps(env), engine: await context.engine() };
}

let publisher: CloudWatchPublisher | undefined;

/** The publisher's deps; its CloudWatch client lives as long as the container. */
export function lambdaCloudWatchPublisherDeps(env: NodeJS.ProcessEnv = process.env): { readonly store: Store; readonly clock: Clock; readonly publisher: CloudWatchPublisher } {
  const { store, clock } = lambdaTableDeps(env);
  publisher ??= new CloudWatchPublisher();
  return { store, clock, publisher };
}

let evidenceOptions: S3EvidenceLedgerOptions | undefined;

/**
 * The evidence ledger of the attest-shard function: S3EvidenceLedger over the table, outputs in
 * the bucket ARGUS_EVIDENCE_BUCKET names, checkpoints signed with the KMS key
 * ARGUS_EVIDENCE_SIGNING_KEY names (its ARN). Both are required: a missing one is a CONFIG error
 * naming it. The clients, signer and verifier (with its cached public key) are created once per
 * container; the ledger is opened per invocation (one read of the head), because the shards of a
 * run and other containers advance the same chain between two invocations of this one, and a
 * ledger holding a stale head would conflict on its first append.
 */
export async function lambdaEvidence(env: NodeJS.ProcessEnv = process.env, chain?: string): Promise<EvidenceLedger> {
  if (!evidenceOptions) {
    const { store } = lambdaTableDeps(env);
    const bucket = requiredEnv(env, EVIDENCE_ENV.bucket);
    const keyArn = requiredEnv(env, EVIDENCE_ENV.signingKey);
    const kms = new KMSClient({});
    evidenceOptions = { store, s3: new S3Client({}), bucket, signer: new KmsSigner(kms, keyArn), verifier: new KmsPublicKeyVerifier(kms, [keyArn]) };
  }
  return S3EvidenceLedger.open(chain === undefined ? evidenceOptions : { ...evidenceOptions, chain });
}

function requiredEnv(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new ArgusError('CONFIG', `environment variable ${name} is required`, { name });
  return value;
}
