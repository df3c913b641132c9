/**
 * A small HTTP client for the REST API (src/api/routes.ts, docs/api.md), used by
 * `argus get|apply|report --api URL`. A deployed API (API Gateway with IAM authorisation) is
 * called with SigV4 (service `execute-api`) signed from the caller's AWS credentials; the local
 * runtime (`argus serve`, a loopback URL) is called without them, with `ARGUS_API_TOKEN` as a
 * bearer token when set.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { parseAllDocuments, stringify } from 'yaml';
import { KIND_SCHEMAS } from '../api/schemas.ts';
import { ArgusError } from '../core/errors.ts';
import type { DefinitionKind } from '../core/model.ts';
import type { ComplianceReport, ReportFinding, RequirementSummary } from '../core/report.ts';
import type { ApplyOutcome } from '../core/use-cases/apply-definitions.ts';
import type { ApplyPreview } from '../core/use-cases/preview-apply.ts';
import { printReport, type ReportCommandOptions } from './report-command.ts';
import { renderTable } from './table.ts';

/** The API answered with an error status, or could not be reached. */
export class RemoteApiError extends ArgusError {
  readonly status: number;

  constructor(message: string, status: number, context: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('REMOTE_API', message, { status, ...context }, options);
    this.name = 'RemoteApiError';
    this.status = status;
  }
}

/** Whether a URL points at this machine (no SigV4 then: the local runtime does not take it). */
export function isLoopback(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** The region of an `https://<id>.execute-api.<region>.amazonaws.com` URL, if it is one. */
export function regionOfApiUrl(url: URL): string | undefined {
  return /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(url.hostname)?.[1];
}

export interface RemoteClientOptions {
  /** Signs every request with SigV4 (execute-api). @default true unless the URL is loopback */
  readonly sign?: boolean;
  /** @default the Node provider chain (env, SSO, profile, container/instance role) */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** @default the URL's region, then $AWS_REGION, then us-east-1 */
  readonly region?: string;
  /** Bearer token for `argus serve --token`. @default $ARGUS_API_TOKEN (never sent with SigV4) */
  readonly token?: string;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Fixed signing time (tests). */
  readonly signingDate?: () => Date;
}

interface Page<T> {
  readonly items: T[];
  readonly nextToken?: string;
}

export class RemoteClient {
  readonly baseUrl: URL;
  private readonly signer: SignatureV4 | undefined;
  private readonly token: string | undefined;
  private readonly fetchFn: typeof fetch;

  constructor(
    baseUrl: string,
    private readonly options: RemoteClientOptions = {},
  ) {
    let url: URL;
    try {
      url = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
    } catch (cause) {
      throw new RemoteApiError(`--api ${baseUrl}: not a URL`, 0, { url: baseUrl }, { cause });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RemoteApiError(`--api ${baseUrl}: only http and https URLs`, 0, { url: baseUrl });
    this.baseUrl = url;
    const sign = options.sign ?? !isLoopback(url);
    this.signer = sign
      ? new SignatureV4({
          service: 'execute-api',
          region: options.region ?? regionOfApiUrl(url) ?? process.env.AWS_REGION ?? 'us-east-1',
          credentials: options.credentials ?? lazyNodeCredentials(),
          sha256: Sha256,
        })
      : undefined;
    this.token = sign ? undefined : (options.token ?? process.env.ARGUS_API_TOKEN);
    this.fetchFn = options.fetch ?? globalThis.fetch;
  }

  /** Sends one request; parses a JSON answer; throws RemoteApiError on a status of 400 or more. */
  async request<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', route: string, init: { query?: Record<string, string | undefined>; body?: unknown } = {}): Promise<T> {
    const url = new URL(route.replace(/^\//, ''), this.baseUrl);
    for (const [k, v] of Object.entries(init.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const body = init.body === undefined ? undefined : JSON.stringify(init.body);
    let headers: Record<string, string> = { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) };
    if (this.signer) headers = await this.signedHeaders(method, url, headers, body);
    else if (this.token) headers.authorization = `Bearer ${this.token}`;
    let response: Response;
    try {
      response = await this.fetchFn(url, { method, headers, ...(body !== undefined ? { body } : {}) });
    } catch (cause) {
      throw new RemoteApiError(`${method} ${url.href}: ${cause instanceof Error ? cause.message : String(cause)}`, 0, { url: url.href }, { cause });
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = text;
    }
    if (response.status >= 400) throw new RemoteApiError(`${method} ${url.pathname}: ${response.status} ${errorMessage(parsed, response.statusText)}`, response.status, { url: url.href, body: parsed });
    return parsed as T;
  }

  /** Every definition of a kind (follows nextToken). */
  async list(kind: DefinitionKind): Promise<unknown[]> {
    const out: unknown[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.request<Page<unknown>>('GET', `/${KIND_SCHEMAS[kind].plural}`, { query: { limit: '1000', nextToken } });
      out.push(...page.items);
      nextToken = page.nextToken;
    } while (nextToken);
    return out;
  }

  apply(manifests: readonly unknown[], options: { dryRun?: boolean } = {}): Promise<ApplyOutcome | ApplyPreview> {
    return this.request<ApplyOutcome | ApplyPreview>('POST', '/apply', { body: manifests, query: { dryRun: options.dryRun ? 'true' : undefined } });
  }

  /** The compliance report as `argus report` prints it: the overview plus each requirement's pairs. */
  async report(): Promise<ComplianceReport> {
    const overview = await this.request<{ generatedAt: string; totals: ComplianceReport['totals']; requirements: RequirementSummary[] }>('GET', '/compliance');
    const findings: ReportFinding[] = [];
    for (const r of overview.requirements) {
      let nextToken: string | undefined;
      do {
        const page = await this.request<{ pairs: Page<ReportFinding> }>('GET', `/compliance/requirements/${encodeURIComponent(r.requirement)}`, { query: { limit: '1000', nextToken } });
        findings.push(...page.pairs.items);
        nextToken = page.pairs.nextToken;
      } while (nextToken);
    }
    return { generatedAt: overview.generatedAt, totals: overview.totals, requirements: overview.requirements, findings };
  }

  private async signedHeaders(method: string, url: URL, headers: Record<string, string>, body: string | undefined): Promise<Record<string, string>> {
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const signed = await (this.signer as SignatureV4).sign(
      {
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port ? { port: Number(url.port) } : {}),
        path: url.pathname,
        query,
        headers: { ...headers, host: url.host },
        ...(body !== undefined ? { body } : {}),
      },
      this.options.signingDate ? { signingDate: this.options.signingDate() } : {},
    );
    const out: Record<string, string> = {};
    // fetch sets `host` from the URL itself.
    for (const [k, v] of Object.entries(signed.headers)) if (k.toLowerCase() !== 'host') out[k] = v;
    return out;
  }
}

function errorMessage(body: unknown, fallback: string): string {
  if (body && typeof body === 'object') {
    const b = body as { message?: unknown; error?: { message?: unknown } | unknown; Message?: unknown };
    if (typeof b.message === 'string') return b.message;
    if (typeof b.Message === 'string') return b.Message;
    if (b.error && typeof b.error === 'object' && typeof (b.error as { message?: unknown }).message === 'string') return (b.error as { message: string }).message;
    return JSON.stringify(body);
  }
  return typeof body === 'string' && body !== '' ? body : fallback;
}

/** The Node provider chain, loaded on first use (the AWS credential providers are only needed for SigV4). */
function lazyNodeCredentials(): AwsCredentialIdentityProvider {
  let provider: AwsCredentialIdentityProvider | undefined;
  return async () => {
    provider ??= (await import('@aws-sdk/credential-providers')).fromNodeProviderChain();
    return provider();
  };
}

/** Reads manifest files and folders (YAML or JSON, several documents per file) as plain objects for POST /apply. */
export async function readManifestDocuments(paths: readonly string[]): Promise<unknown[]> {
  const files: string[] = [];
  for (const p of paths) {
    const stat = await fs.stat(p);
    if (stat.isDirectory()) {
      for (const name of (await fs.readdir(p)).sort()) if (/\.(ya?ml|json)$/i.test(name)) files.push(path.join(p, name));
    } else files.push(p);
  }
  const out: unknown[] = [];
  for (const file of files) {
    for (const [i, doc] of parseAllDocuments(await fs.readFile(file, 'utf8')).entries()) {
      if (doc.errors.length > 0) throw new ArgusError('MANIFEST_PARSE', `${file} doc ${i + 1}: ${doc.errors[0]?.message ?? 'does not parse'}`, { file });
      const value: unknown = doc.toJS();
      if (value !== null && value !== undefined) out.push(value);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// `argus get|apply|report --api URL`: the same output as against the local store.
// ---------------------------------------------------------------------------------------------

/** The client for the command's `--api` option, when given. */
export function apiClientOf(options: { api?: string; region?: string }): RemoteClient | undefined {
  return options.api ? new RemoteClient(options.api, options.region ? { region: options.region } : {}) : undefined;
}

function withoutStatus(manifest: unknown): unknown {
  if (!manifest || typeof manifest !== 'object') return manifest;
  const { status: _status, ...rest } = manifest as Record<string, unknown>;
  return rest;
}

export async function remoteGet(client: RemoteClient, kind: DefinitionKind, output: string, print: (line: string) => void = console.log): Promise<void> {
  const items = (await client.list(kind)).map(withoutStatus) as Array<{ metadata?: { name?: string } }>;
  items.sort((a, b) => String(a.metadata?.name).localeCompare(String(b.metadata?.name)));
  if (output === 'json') print(JSON.stringify(items, null, 2));
  else if (output === 'yaml') print(items.map((i) => stringify(i)).join('---\n'));
  else print(items.length === 0 ? `No ${kind} definitions.` : renderTable(['name'], items.map((i) => [String(i.metadata?.name)])));
}

export async function remoteApply(client: RemoteClient, paths: readonly string[], print: (outcome: ApplyOutcome | ApplyPreview) => void, options: { dryRun?: boolean } = {}): Promise<void> {
  print(await client.apply(await readManifestDocuments(paths), options));
}

export async function remoteReport(client: RemoteClient, opts: ReportCommandOptions, print: (line: string) => void = console.log): Promise<void> {
  if (opts.format === 'oscal-ar') throw new ArgusError('USAGE', '--format oscal-ar reads the local evidence ledger; run it without --api');
  printReport(await client.report(), opts, print);
}
