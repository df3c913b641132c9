/**
 * Live AWS resources through the Cloud Control API (ListResources, GetResource) as Resources, so
 * that CEL rules written against CloudFormation `Properties` apply unchanged to what is deployed:
 * Cloud Control describes a resource with the same property names as its CloudFormation type.
 *
 * One account Resource (`AWS::Account`, named `<account>`) and, under it, one Resource per live
 * resource, named `<account>/<region>/<Type>/<Identifier>` (e.g.
 * `111122223333/eu-west-1/AWS::S3::Bucket/my-bucket`), whose document is the parsed `Properties`.
 *
 * A read is per type: a type that cannot be read (access denied, throttled past the retries,
 * unsupported) is reported in `incompleteTypes` and the other types are still read. A caller that
 * deletes what vanished must only do so within fully read types (`planCloudControlImport`).
 */
import { GetResourceCommand, ListResourcesCommand, type CloudControlClient, type ResourceDescription } from '@aws-sdk/client-cloudcontrol';
import { createHash } from 'node:crypto';
import { digestOf } from '../core/digest.ts';
import { ArgusError } from '../core/errors.ts';
import { API_VERSION, type Labels, type Resource } from '../core/model.ts';
import type { ResourceSource } from '../core/ports/resource-source.ts';

export const ACCOUNT_TYPE = 'AWS::Account';
export const SOURCE_LABEL = 'argus.dev/source';
export const CLOUDCONTROL_SOURCE = 'cloudcontrol';
export const ACCOUNT_LABEL = 'argus.dev/account';
export const REGION_LABEL = 'argus.dev/region';
/** The Cloud Control primary identifier, verbatim (the name may have had characters replaced). */
export const IDENTIFIER_LABEL = 'argus.dev/identifier';

/** Why a type could not be read. */
export type CloudControlFailure = 'AccessDenied' | 'Throttled' | 'TypeNotFound' | 'Unsupported' | 'InvalidResponse' | 'Failed';

type CloudControlErrorContext = {
  readonly typeName: string;
  readonly accountId: string;
  readonly region: string;
  readonly operation: 'ListResources' | 'GetResource';
  readonly identifier?: string;
};

/** A type of one account and region could not be read through Cloud Control. */
export class CloudControlError extends ArgusError {
  readonly reason: CloudControlFailure;
  readonly typeName: string;
  readonly accountId: string;

  constructor(code: string, reason: CloudControlFailure, message: string, context: CloudControlErrorContext & { readonly [key: string]: unknown }, options?: { cause?: unknown }) {
    super(code, message, { ...context, reason }, options);
    this.name = 'CloudControlError';
    this.reason = reason;
    this.typeName = context.typeName;
    this.accountId = context.accountId;
  }
}

/** The caller may not read the type in the account (`AccessDeniedException`, or a credentials failure). */
export class CloudControlAccessDeniedError extends CloudControlError {
  constructor(context: CloudControlErrorContext, detail: string, options?: { cause?: unknown }) {
    super(
      'CLOUDCONTROL_ACCESS_DENIED',
      'AccessDenied',
      `access denied reading ${context.typeName} in account ${context.accountId} (${context.region}) with ${context.operation}: ${detail}` +
        ' (the reading role needs cloudformation:ListResources/GetResource and the read/list permissions of the type\'s handlers)',
      context,
      options,
    );
    this.name = 'CloudControlAccessDeniedError';
  }
}

/** Cloud Control kept throttling after every retry. */
export class CloudControlThrottledError extends CloudControlError {
  readonly attempts: number;

  constructor(context: CloudControlErrorContext, attempts: number, options?: { cause?: unknown }) {
    super(
      'CLOUDCONTROL_THROTTLED',
      'Throttled',
      `Cloud Control throttled ${context.operation} of ${context.typeName} in account ${context.accountId} (${context.region}) ${attempts} times; the next import retries`,
      { ...context, attempts },
      options,
    );
    this.name = 'CloudControlThrottledError';
    this.attempts = attempts;
  }
}

/** The source was asked for a complete inventory (`discover`) but some types could not be read. */
export class CloudControlIncompleteError extends ArgusError {
  readonly inventory: CloudControlInventory;

  constructor(inventory: CloudControlInventory) {
    const types = inventory.incompleteTypes.map((t) => `${t.typeName} (${t.error.reason})`).join(', ');
    super('CLOUDCONTROL_INCOMPLETE', `could not read ${types}: ${inventory.incompleteTypes.map((t) => t.error.message).join('; ')}`, {
      incompleteTypes: inventory.incompleteTypes.map((t) => t.typeName),
    });
    this.name = 'CloudControlIncompleteError';
    this.inventory = inventory;
  }
}

export interface IncompleteType {
  readonly typeName: string;
  readonly error: CloudControlError;
}

/**
 * What one read saw. `resources` holds the account Resource and every resource of the types in
 * `completeTypes`; nothing of a type in `incompleteTypes` (a half-read type is dropped whole).
 * A caller must treat resources of incomplete types as unknown: keep what it stored for them,
 * never delete them for being absent.
 */
export interface CloudControlInventory {
  readonly accountId: string;
  readonly region: string;
  readonly resources: readonly Resource[];
  readonly completeTypes: readonly string[];
  readonly incompleteTypes: readonly IncompleteType[];
}

export interface RetryOptions {
  /** Attempts per call, the first included. @default 5 */
  readonly maxAttempts?: number;
  /** Backoff cap of the first retry; doubles per retry. @default 250 */
  readonly baseDelayMs?: number;
  /** @default 10000 */
  readonly maxDelayMs?: number;
}

export interface CloudControlSourceOptions {
  readonly accountId: string;
  readonly region: string;
  /** CloudFormation type names, e.g. `AWS::S3::Bucket`. */
  readonly types: readonly string[];
  /**
   * The client (or a factory called once per read), configured with the account's region and
   * credentials, e.g. `new CloudControlClient({ region, credentials: accounts.provider(roleArn) })`.
   */
  readonly client: CloudControlClient | (() => CloudControlClient);
  /** Name of the Provider (`aws-account`) set as each Resource's `spec.provider`. */
  readonly provider?: string;
  /**
   * Types whose ListResources answer carries every property. For all other types each resource
   * is read with GetResource: list handlers may return only some properties (AWS::S3::Bucket's
   * returns only `BucketName`), and a rule on a missing property would fail a compliant resource.
   * Resources listed without `Properties` are always read with GetResource.
   * @default []
   */
  readonly listPropertiesComplete?: readonly string[];
  readonly retry?: RetryOptions;
  /** GetResource calls in flight per type. @default 4 */
  readonly concurrency?: number;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1). @default Math.random */
  readonly random?: () => number;
}

/**
 * Resources of one account and region through Cloud Control.
 *
 * @example
 * const source = new CloudControlSource({
 *   accountId: '111122223333', region: 'eu-west-1', types: ['AWS::S3::Bucket'],
 *   client: () => new CloudControlClient({ region: 'eu-west-1', credentials: accounts.provider(roleArn) }),
 * });
 * const { resources, incompleteTypes } = await source.read();
 */
export class CloudControlSource implements ResourceSource {
  readonly name = CLOUDCONTROL_SOURCE;

  constructor(private readonly options: CloudControlSourceOptions) {
    if (!/^\d{12}$/.test(options.accountId)) throw new ArgusError('CLOUDCONTROL_CONFIG', `account id must be 12 digits, got "${options.accountId}"`, { accountId: options.accountId });
    if (options.types.length === 0) throw new ArgusError('CLOUDCONTROL_CONFIG', 'no resource types to read', {});
    for (const t of options.types) {
      if (!/^[A-Za-z0-9]+::[A-Za-z0-9]+::[A-Za-z0-9]+$/.test(t)) throw new ArgusError('CLOUDCONTROL_CONFIG', `"${t}" is not a CloudFormation type name (Vendor::Service::Resource)`, { typeName: t });
    }
  }

  /** A complete inventory, or CloudControlIncompleteError (carrying the partial one) when a type could not be read. */
  async discover(): Promise<Resource[]> {
    const inventory = await this.read();
    if (inventory.incompleteTypes.length > 0) throw new CloudControlIncompleteError(inventory);
    return [...inventory.resources];
  }

  /** Reads every type; a type that fails is reported, not thrown, and the others are still read. */
  async read(): Promise<CloudControlInventory> {
    const { accountId, region } = this.options;
    const client = typeof this.options.client === 'function' ? this.options.client() : this.options.client;
    const resources: Resource[] = [accountResource(accountId, this.options.provider)];
    const completeTypes: string[] = [];
    const incompleteTypes: IncompleteType[] = [];
    for (const typeName of [...new Set(this.options.types)]) {
      try {
        resources.push(...(await this.readType(client, typeName)));
        completeTypes.push(typeName);
      } catch (error) {
        if (!(error instanceof CloudControlError)) throw error;
        incompleteTypes.push({ typeName, error });
      }
    }
    return { accountId, region, resources, completeTypes, incompleteTypes };
  }

  private async readType(client: CloudControlClient, typeName: string): Promise<Resource[]> {
    const listed: ResourceDescription[] = [];
    let nextToken: string | undefined;
    const seenTokens = new Set<string>();
    do {
      const token = nextToken;
      const page = await this.call({ typeName, operation: 'ListResources' }, () =>
        client.send(new ListResourcesCommand({ TypeName: typeName, ...(token === undefined ? {} : { NextToken: token }) })),
      );
      listed.push(...(page.ResourceDescriptions ?? []));
      nextToken = page.NextToken === null || page.NextToken === '' ? undefined : page.NextToken;
      if (nextToken !== undefined) {
        // A service answering the same token again would loop forever.
        if (seenTokens.has(nextToken)) throw this.invalid({ typeName, operation: 'ListResources' }, 'ListResources repeated a NextToken');
        seenTokens.add(nextToken);
      }
    } while (nextToken !== undefined);

    const trustList = (this.options.listPropertiesComplete ?? []).includes(typeName);
    const out: Array<Resource | undefined> = new Array<Resource | undefined>(listed.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < listed.length) {
        const i = next++;
        out[i] = await this.describe(client, typeName, listed[i], trustList);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(this.options.concurrency ?? 4, listed.length)) }, worker));
    return out.filter((r): r is Resource => r !== undefined);
  }

  /** One resource; undefined when it vanished between ListResources and GetResource. */
  private async describe(client: CloudControlClient, typeName: string, listed: ResourceDescription | undefined, trustList: boolean): Promise<Resource | undefined> {
    const identifier = listed?.Identifier;
    if (identifier === undefined || identifier === '') throw this.invalid({ typeName, operation: 'ListResources' }, 'a resource description has no Identifier');
    let properties = trustList ? listed?.Properties : undefined;
    if (properties === undefined) {
      const context = { typeName, operation: 'GetResource' as const, identifier };
      try {
        const got = await this.call(context, () => client.send(new GetResourceCommand({ TypeName: typeName, Identifier: identifier })));
        properties = got.ResourceDescription?.Properties;
      } catch (error) {
        if (error instanceof CloudControlError && error.context.awsError === 'ResourceNotFoundException') return undefined;
        throw error;
      }
      if (properties === undefined) throw this.invalid(context, 'GetResource answered without Properties');
    }
    let document: unknown;
    try {
      document = JSON.parse(properties);
    } catch (error) {
      throw this.invalid({ typeName, operation: trustList ? 'ListResources' : 'GetResource', identifier }, `Properties is not JSON: ${error instanceof Error ? error.message : String(error)}`, error);
    }
    if (typeof document !== 'object' || document === null || Array.isArray(document)) {
      throw this.invalid({ typeName, operation: trustList ? 'ListResources' : 'GetResource', identifier }, 'Properties is not a JSON object');
    }
    return liveResource(this.options.accountId, this.options.region, typeName, identifier, document, this.options.provider);
  }

  /** Runs one call, retrying throttling with capped exponential backoff and full jitter; maps errors. */
  private async call<T>(where: Omit<CloudControlErrorContext, 'accountId' | 'region'>, send: () => Promise<T>): Promise<T> {
    const context: CloudControlErrorContext = { ...where, accountId: this.options.accountId, region: this.options.region };
    const maxAttempts = Math.max(1, this.options.retry?.maxAttempts ?? 5);
    const base = this.options.retry?.baseDelayMs ?? 250;
    const cap = this.options.retry?.maxDelayMs ?? 10_000;
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    const random = this.options.random ?? Math.random;
    for (let attempt = 1; ; attempt++) {
      try {
        return await send();
      } catch (error) {
        const name = errorName(error);
        if (THROTTLING.has(name)) {
          if (attempt >= maxAttempts) throw new CloudControlThrottledError(context, attempt, { cause: error });
          await sleep(Math.floor(random() * Math.min(cap, base * 2 ** (attempt - 1))));
          continue;
        }
        throw classify(context, error);
      }
    }
  }

  private invalid(where: Omit<CloudControlErrorContext, 'accountId' | 'region'>, detail: string, cause?: unknown): CloudControlError {
    const context: CloudControlErrorContext = { ...where, accountId: this.options.accountId, region: this.options.region };
    return new CloudControlError('CLOUDCONTROL_READ', 'InvalidResponse', `${where.operation} of ${where.typeName} in account ${context.accountId} (${context.region}): ${detail}`, context, { cause });
  }
}

const THROTTLING = new Set(['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestLimitExceeded']);
const ACCESS_DENIED = new Set(['AccessDeniedException', 'AccessDenied', 'UnauthorizedOperation', 'InvalidCredentialsException', 'UnrecognizedClientException', 'ExpiredTokenException', 'CrossAccountAccessError']);
const UNSUPPORTED = new Set(['UnsupportedActionException', 'PrivateTypeException']);

function classify(context: CloudControlErrorContext, error: unknown): CloudControlError {
  const name = errorName(error);
  const detail = error instanceof Error ? error.message : String(error);
  if (ACCESS_DENIED.has(name)) return new CloudControlAccessDeniedError(context, `${name}: ${detail}`, { cause: error });
  const reason: CloudControlFailure = name === 'TypeNotFoundException' ? 'TypeNotFound' : UNSUPPORTED.has(name) ? 'Unsupported' : 'Failed';
  return new CloudControlError(
    'CLOUDCONTROL_READ',
    reason,
    `${context.operation} of ${context.typeName}${context.identifier === undefined ? '' : ` "${context.identifier}"`} in account ${context.accountId} (${context.region}) failed: ${name || 'Error'}: ${detail}`,
    { ...context, awsError: name },
    { cause: error },
  );
}

function errorName(error: unknown): string {
  if (typeof error !== 'object' || error === null) return '';
  const name: unknown = (error as { name?: unknown }).name;
  return typeof name === 'string' ? name : '';
}

/** The account Resource the live resources hang under (the same definition from every region). */
export function accountResource(accountId: string, provider?: string): Resource {
  const document = { AccountId: accountId };
  return {
    apiVersion: API_VERSION,
    kind: 'Resource',
    metadata: { name: accountId, labels: { [SOURCE_LABEL]: CLOUDCONTROL_SOURCE, [ACCOUNT_LABEL]: accountId } },
    spec: { type: ACCOUNT_TYPE, classes: [], ...(provider === undefined ? {} : { provider }), document, digest: digestOf(document) },
  };
}

/**
 * `<account>/<region>/<Type>/<Identifier>`. Characters a name may not hold (`|` of compound
 * identifiers, spaces, ...) become `_`; then, and when the name would pass 253 characters, a
 * short hash of the identifier keeps names unique. The identifier itself is the `argus.dev/identifier` label.
 */
export function liveResourceName(accountId: string, region: string, typeName: string, identifier: string): string {
  const prefix = `${accountId}/${region}/${typeName}/`;
  const cleaned = identifier.replace(/[^A-Za-z0-9._:/-]/g, '_');
  const name = prefix + cleaned;
  if (cleaned === identifier && name.length <= 253) return name;
  const hash = createHash('sha256').update(identifier).digest('hex').slice(0, 10);
  return `${name.slice(0, 253 - hash.length - 1)}-${hash}`;
}

function liveResource(accountId: string, region: string, typeName: string, identifier: string, document: object, provider: string | undefined): Resource {
  const labels: Labels = { [SOURCE_LABEL]: CLOUDCONTROL_SOURCE, [ACCOUNT_LABEL]: accountId, [REGION_LABEL]: region, [IDENTIFIER_LABEL]: identifier };
  return {
    apiVersion: API_VERSION,
    kind: 'Resource',
    metadata: { name: liveResourceName(accountId, region, typeName, identifier), labels },
    spec: { type: typeName, parent: accountId, classes: [], ...(provider === undefined ? {} : { provider }), document, digest: digestOf(document) },
  };
}

/**
 * Which stored Resources an import of `inventory` deletes: those this source made for the same
 * account and region, of a type it read completely, that the read no longer saw. Resources of
 * incomplete types, of other regions or accounts, and the account Resource are never deleted.
 */
export function vanishedResources(inventory: CloudControlInventory, stored: Iterable<Resource>): string[] {
  const complete = new Set(inventory.completeTypes);
  const present = new Set(inventory.resources.map((r) => r.metadata.name));
  const out: string[] = [];
  for (const r of stored) {
    const labels = r.metadata.labels;
    if (labels[SOURCE_LABEL] !== CLOUDCONTROL_SOURCE || labels[ACCOUNT_LABEL] !== inventory.accountId || labels[REGION_LABEL] !== inventory.region) continue;
    if (r.spec.type === ACCOUNT_TYPE || !complete.has(r.spec.type) || present.has(r.metadata.name)) continue;
    out.push(r.metadata.name);
  }
  return out.sort();
}
