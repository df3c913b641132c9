/**
 * Credentials for member accounts: the runner assumes each account's provider role
 * (lib/ArgusMemberAccount.ts: trusts only the runner role, only with the ExternalId) with STS
 * AssumeRole, and keeps the credentials until shortly before they expire. A role that cannot be
 * assumed makes the attestations of that account's resources Errored with the reason, never
 * Failed: nothing was checked.
 */
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { ArgusError } from '../../core/errors.ts';
import type { Attestation, AttestationOutcome, Provider, Resource } from '../../core/model.ts';
import type { AttestationProvider, ProviderOutcome } from '../../core/ports/attestation-provider.ts';
import { systemClock, type Clock } from '../../core/ports/clock.ts';

/** Why a role could not be assumed, as the runner reports it. */
export type AssumeRoleFailure = 'AccessDenied' | 'Throttled' | 'RegionDisabled' | 'InvalidRequest' | 'NoCredentials' | 'Unavailable';

/** The role could not be assumed (or gave no credentials). */
export class CrossAccountAccessError extends ArgusError {
  readonly reason: AssumeRoleFailure;

  constructor(roleArn: string, reason: AssumeRoleFailure, detail: string, options?: { cause?: unknown }) {
    super('CROSS_ACCOUNT_ACCESS', `cannot assume ${roleArn}: ${reason}: ${detail}${HINTS[reason]}`, { roleArn, reason }, options);
    this.name = 'CrossAccountAccessError';
    this.reason = reason;
  }
}

const HINTS: Readonly<Record<AssumeRoleFailure, string>> = {
  AccessDenied: ' (check that the member account deployed the ArgusMemberAccount stack with this control plane\'s RunnerRoleArn and ExternalId)',
  Throttled: ' (STS throttled the request; the next reconcile retries)',
  RegionDisabled: ' (activate STS in this region for the account, or use a regional endpoint that is enabled)',
  InvalidRequest: '',
  NoCredentials: '',
  Unavailable: ' (STS could not be reached; the next reconcile retries)',
};

/** Classifies an STS error by its name (the SDK's exception class names). */
export function assumeRoleFailure(error: unknown): AssumeRoleFailure {
  const name = typeof error === 'object' && error !== null && typeof (error as { name?: unknown }).name === 'string' ? (error as { name: string }).name : '';
  if (name === 'AccessDenied' || name === 'AccessDeniedException') return 'AccessDenied';
  if (name === 'RegionDisabledException') return 'RegionDisabled';
  if (name === 'Throttling' || name === 'ThrottlingException' || name === 'TooManyRequestsException') return 'Throttled';
  if (name === 'MalformedPolicyDocumentException' || name === 'PackedPolicyTooLargeException' || name === 'ValidationError' || name === 'ExpiredTokenException') return 'InvalidRequest';
  return 'Unavailable';
}

/** The part of STSClient this module uses (aws-sdk-client-mock or a stub stands in for tests). */
export interface StsSender {
  send(command: AssumeRoleCommand): Promise<{ Credentials?: { AccessKeyId?: string; SecretAccessKey?: string; SessionToken?: string; Expiration?: Date } }>;
}

export interface CrossAccountCredentialsOptions {
  /** @default a new STSClient (the runner's own credentials, the Lambda's region) */
  readonly sts?: StsSender;
  /** ExternalId passed when a Provider does not name its own (the control plane's ARGUS_PROVIDER_EXTERNAL_ID). */
  readonly externalId?: string;
  /** @default 'argus-runner' */
  readonly sessionName?: string;
  /** Session length asked for; the member role allows at most one hour. @default 3600 */
  readonly durationSeconds?: number;
  /** Credentials are renewed this long before they expire. @default 300000 (5 minutes) */
  readonly refreshBeforeMs?: number;
  /** @default systemClock */
  readonly clock?: Clock;
  /**
   * Told of every AssumeRole call and how it went (not of cache hits): a successful assumption
   * is the heartbeat of an aws-account Provider. Awaited; its own errors are ignored.
   */
  readonly onAssume?: (event: AssumeEvent) => void | Promise<void>;
}

/** One AssumeRole call, as `onAssume` sees it. */
export type AssumeEvent =
  | { readonly roleArn: string; readonly ok: true }
  | { readonly roleArn: string; readonly ok: false; readonly reason: AssumeRoleFailure; readonly message: string };

interface CacheEntry {
  readonly promise: Promise<AwsCredentialIdentity>;
  /** Epoch ms after which the entry is renewed; Infinity while the request is in flight. */
  renewAt: number;
}

/**
 * Assumes member roles and caches their credentials per (role, ExternalId) until shortly before
 * expiry. Concurrent requests for the same role share one AssumeRole call; a failure is not
 * cached, so the next request tries again.
 *
 * @example
 * const accounts = new CrossAccountCredentials({ externalId: process.env.ARGUS_PROVIDER_EXTERNAL_ID });
 * const s3 = new S3Client({ credentials: accounts.provider('arn:aws:iam::111122223333:role/argus/argus-provider') });
 */
export class CrossAccountCredentials {
  private readonly sts: StsSender;
  private readonly clock: Clock;
  private readonly cache = new Map<string, CacheEntry>();

  constructor(private readonly options: CrossAccountCredentialsOptions = {}) {
    this.sts = options.sts ?? new STSClient({});
    this.clock = options.clock ?? systemClock;
  }

  /** Credentials of `roleArn`, from the cache while they are fresh. Throws CrossAccountAccessError. */
  async credentials(roleArn: string, externalId = this.options.externalId): Promise<AwsCredentialIdentity> {
    const key = `${roleArn}\u0000${externalId ?? ''}`;
    const cached = this.cache.get(key);
    if (cached && this.clock.now() < cached.renewAt) return cached.promise;
    const entry: CacheEntry = { promise: this.assume(roleArn, externalId), renewAt: Number.POSITIVE_INFINITY };
    this.cache.set(key, entry);
    try {
      const creds = await entry.promise;
      entry.renewAt = (creds.expiration?.getTime() ?? this.clock.now()) - (this.options.refreshBeforeMs ?? 300_000);
      return creds;
    } catch (error) {
      if (this.cache.get(key) === entry) this.cache.delete(key);
      throw error;
    }
  }

  /** An SDK credential provider for `roleArn` (pass it as a client's `credentials`). */
  provider(roleArn: string, externalId?: string): AwsCredentialIdentityProvider {
    return () => this.credentials(roleArn, externalId ?? this.options.externalId);
  }

  private async assume(roleArn: string, externalId: string | undefined): Promise<AwsCredentialIdentity> {
    try {
      const creds = await this.assumeOnce(roleArn, externalId);
      await this.notify({ roleArn, ok: true });
      return creds;
    } catch (error) {
      if (error instanceof CrossAccountAccessError) await this.notify({ roleArn, ok: false, reason: error.reason, message: error.message });
      throw error;
    }
  }

  private async notify(event: AssumeEvent): Promise<void> {
    try {
      await this.options.onAssume?.(event);
    } catch {
      // A heartbeat that can't be recorded must not stop the attestation.
    }
  }

  private async assumeOnce(roleArn: string, externalId: string | undefined): Promise<AwsCredentialIdentity> {
    let out: Awaited<ReturnType<StsSender['send']>> | undefined;
    try {
      out = await this.sts.send(
        new AssumeRoleCommand({
          RoleArn: roleArn,
          RoleSessionName: this.options.sessionName ?? 'argus-runner',
          DurationSeconds: this.options.durationSeconds ?? 3600,
          ...(externalId ? { ExternalId: externalId } : {}),
        }),
      );
    } catch (error) {
      const reason = assumeRoleFailure(error);
      throw new CrossAccountAccessError(roleArn, reason, error instanceof Error ? error.message : String(error), { cause: error });
    }
    const c = out?.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw new CrossAccountAccessError(roleArn, 'NoCredentials', 'AssumeRole answered without complete credentials');
    }
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
  }
}

/** What a check that reads a member account gets besides the resource. */
export interface AccountAccess {
  readonly provider: Provider;
  readonly credentials: AwsCredentialIdentityProvider;
}

/** An attestation check that calls AWS APIs in the resource's account. */
export interface AccountCheck {
  readonly name: string;
  validateParams(params: Readonly<Record<string, unknown>>): Array<[path: string, message: string]>;
  attest(attestation: Attestation, resource: Resource, access: AccountAccess): Promise<ProviderOutcome>;
}

export interface CrossAccountProviderOptions {
  readonly check: AccountCheck;
  readonly credentials: CrossAccountCredentials;
  /** The Provider definition a resource was observed by (its `spec.provider`). */
  readonly providerOf: (resource: Resource) => Provider | undefined;
}

function errored(message: string): ProviderOutcome {
  const outcome: AttestationOutcome = 'Errored';
  return { outcome, message };
}

/**
 * Wraps an AccountCheck as an AttestationProvider: resolves the resource's `aws-account`
 * Provider, assumes its role, then runs the check. A resource without such a Provider, or whose
 * role cannot be assumed, is Errored with the reason (never Failed: nothing was checked).
 */
export function crossAccountProvider(options: CrossAccountProviderOptions): AttestationProvider {
  const { check, credentials, providerOf } = options;
  return {
    name: check.name,
    validateParams: (params) => check.validateParams(params),
    async attest(attestation, resource) {
      const provider = providerOf(resource);
      if (!provider) return errored(`resource ${resource.metadata.name} names no Provider (spec.provider), so no account role to read it with`);
      if (provider.spec.type !== 'aws-account') return errored(`Provider ${provider.metadata.name} is of type ${provider.spec.type}, not aws-account`);
      const roleArn = provider.spec.roleArn;
      if (!roleArn) return errored(`Provider ${provider.metadata.name} has no spec.roleArn`);
      try {
        // Resolve once up front: an account we cannot enter is reported as such, not as a failing check.
        await credentials.credentials(roleArn, provider.spec.externalId);
      } catch (error) {
        if (error instanceof CrossAccountAccessError) return { outcome: 'Errored', message: error.message, output: { roleArn, reason: error.reason } };
        throw error;
      }
      return check.attest(attestation, resource, { provider, credentials: credentials.provider(roleArn, provider.spec.externalId) });
    },
  };
}
