/**
 * The `http` attestation provider: requests a URL and checks the status code, required response
 * headers and, for https, the negotiated TLS version (and that older versions are refused) and the
 * days until the server certificate expires.
 *
 * @example
 * spec:
 *   provider: http
 *   params:
 *     url: https://orders.example.com/health   # or urlField: Url (a field of the resource's document)
 *     expectStatus: [200, 204]                 # default: any 2xx
 *     requiredHeaders: { strict-transport-security: "max-age=\\d+" }   # or a list of names
 *     minTlsVersion: TLSv1.2
 *     minCertificateDays: 14
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect, type PeerCertificate, type SecureVersion, type TLSSocket } from 'node:tls';
import type { Attestation, Resource } from '../core/model.ts';
import type { AttestationProvider, ProviderOutcome } from '../core/ports/attestation-provider.ts';

const TLS_VERSIONS: readonly SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
const PARAMS = ['url', 'urlField', 'method', 'expectStatus', 'requiredHeaders', 'minTlsVersion', 'minCertificateDays', 'caCertificate', 'rejectUnauthorized'] as const;
const DAY_MS = 86_400_000;
const DEFAULT_TIMEOUT_MS = 10_000;

type Params = Readonly<Record<string, unknown>>;

export interface HttpCheck {
  readonly url: URL;
  readonly method: 'GET' | 'HEAD';
  readonly expectStatus: readonly number[] | undefined;
  readonly requiredHeaders: ReadonlyArray<{ readonly name: string; readonly pattern?: RegExp }>;
  readonly minTlsVersion?: SecureVersion;
  readonly minCertificateDays?: number;
  readonly ca?: string;
  readonly rejectUnauthorized: boolean;
}

export interface HttpProviderOptions {
  /** @default Date.now */
  readonly now?: () => number;
}

export class HttpProvider implements AttestationProvider {
  readonly name = 'http';
  private readonly now: () => number;

  constructor(options: HttpProviderOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  validateParams(params: Params): Array<[path: string, message: string]> {
    const problems: Array<[string, string]> = [];
    for (const key of Object.keys(params)) {
      if (!(PARAMS as readonly string[]).includes(key)) problems.push([key, `unknown parameter (expected ${PARAMS.join(', ')})`]);
    }
    const { url, urlField, method, expectStatus, requiredHeaders, minTlsVersion, minCertificateDays, caCertificate, rejectUnauthorized } = params;
    if (url === undefined && urlField === undefined) problems.push(['url', 'required (or urlField, naming a field of the resource document)']);
    if (url !== undefined && urlField !== undefined) problems.push(['urlField', 'give url or urlField, not both']);
    if (url !== undefined) {
      const parsed = typeof url === 'string' ? parseUrl(url) : undefined;
      if (typeof url !== 'string') problems.push(['url', `must be a string, got ${typeName(url)}`]);
      else if (!parsed) problems.push(['url', `must be an absolute http:// or https:// URL, got ${JSON.stringify(url)}`]);
      else if (parsed.protocol !== 'https:' && (minTlsVersion !== undefined || minCertificateDays !== undefined)) {
        problems.push(['url', 'minTlsVersion and minCertificateDays need an https:// URL']);
      }
    }
    if (urlField !== undefined && (typeof urlField !== 'string' || urlField === '')) problems.push(['urlField', 'must be a non-empty string']);
    if (method !== undefined && method !== 'GET' && method !== 'HEAD') problems.push(['method', `must be GET or HEAD, got ${JSON.stringify(method)}`]);
    if (expectStatus !== undefined) {
      const list = Array.isArray(expectStatus) ? expectStatus : [expectStatus];
      if (list.length === 0) problems.push(['expectStatus', 'must list at least one status code']);
      list.forEach((s: unknown, i) => {
        if (typeof s !== 'number' || !Number.isInteger(s) || s < 100 || s > 599) {
          problems.push([Array.isArray(expectStatus) ? `expectStatus[${i}]` : 'expectStatus', `must be an HTTP status code (100-599), got ${JSON.stringify(s)}`]);
        }
      });
    }
    if (requiredHeaders !== undefined) {
      if (Array.isArray(requiredHeaders)) {
        requiredHeaders.forEach((h: unknown, i) => {
          if (typeof h !== 'string' || !isHeaderName(h)) problems.push([`requiredHeaders[${i}]`, `must be a header name, got ${JSON.stringify(h)}`]);
        });
      } else if (typeof requiredHeaders === 'object' && requiredHeaders !== null) {
        for (const [name, pattern] of Object.entries(requiredHeaders)) {
          const path = `requiredHeaders[${JSON.stringify(name)}]`;
          if (!isHeaderName(name)) problems.push([path, 'not a valid header name']);
          if (typeof pattern !== 'string') problems.push([path, `must be a regular expression string, got ${typeName(pattern)}`]);
          else {
            try {
              new RegExp(pattern);
            } catch (error) {
              problems.push([path, `invalid regular expression: ${error instanceof Error ? error.message : String(error)}`]);
            }
          }
        }
      } else problems.push(['requiredHeaders', `must be a list of header names or a mapping of name to regular expression, got ${typeName(requiredHeaders)}`]);
    }
    if (minTlsVersion !== undefined && !TLS_VERSIONS.includes(minTlsVersion as SecureVersion)) {
      problems.push(['minTlsVersion', `must be one of ${TLS_VERSIONS.join(', ')}, got ${JSON.stringify(minTlsVersion)}`]);
    }
    if (minCertificateDays !== undefined && (typeof minCertificateDays !== 'number' || !Number.isFinite(minCertificateDays) || minCertificateDays < 0)) {
      problems.push(['minCertificateDays', `must be a number of days >= 0, got ${JSON.stringify(minCertificateDays)}`]);
    }
    if (caCertificate !== undefined && (typeof caCertificate !== 'string' || !caCertificate.includes('-----BEGIN CERTIFICATE-----'))) {
      problems.push(['caCertificate', 'must be a PEM certificate (-----BEGIN CERTIFICATE-----)']);
    }
    if (rejectUnauthorized !== undefined && typeof rejectUnauthorized !== 'boolean') problems.push(['rejectUnauthorized', `must be true or false, got ${typeName(rejectUnauthorized)}`]);
    return problems;
  }

  async attest(attestation: Attestation, resource: Resource): Promise<ProviderOutcome> {
    const check = toCheck(attestation.spec.params, resource);
    if (typeof check === 'string') return { outcome: 'Errored', message: check, output: { error: check } };
    const timeoutMs = attestation.spec.timeoutMs > 0 ? attestation.spec.timeoutMs : DEFAULT_TIMEOUT_MS;
    return this.run(check, AbortSignal.timeout(timeoutMs));
  }

  /** Runs a check; never throws (an unreachable target or a timeout is Errored). */
  async run(check: HttpCheck, signal: AbortSignal): Promise<ProviderOutcome> {
    const url = check.url.toString();
    let response: Observed;
    try {
      response = await fetchOnce(check, signal);
    } catch (error) {
      const why = signal.aborted ? 'timed out' : error instanceof Error ? error.message : String(error);
      return { outcome: 'Errored', message: `${check.method} ${url}: ${why}`, output: { url, error: why } };
    }
    const problems: string[] = [];
    const ok = check.expectStatus ? check.expectStatus.includes(response.status) : response.status >= 200 && response.status < 300;
    if (!ok) problems.push(`status ${response.status}, expected ${check.expectStatus ? check.expectStatus.join(' or ') : '2xx'}`);
    const headers: Record<string, string | null> = {};
    for (const h of check.requiredHeaders) {
      const value = response.headers[h.name];
      headers[h.name] = value ?? null;
      if (value === undefined) problems.push(`header ${h.name} missing`);
      else if (h.pattern && !h.pattern.test(value)) problems.push(`header ${h.name} is ${JSON.stringify(value)}, expected /${h.pattern.source}/`);
    }
    let tls: Record<string, unknown> | undefined;
    if (response.tls) {
      const { protocol, certificate } = response.tls;
      const daysLeft = certificate ? Math.floor((Date.parse(certificate.valid_to) - this.now()) / DAY_MS) : undefined;
      tls = { protocol, ...(certificate ? { certificate: { subject: certificate.subject?.CN, issuer: certificate.issuer?.CN, validTo: new Date(Date.parse(certificate.valid_to)).toISOString(), daysLeft } } : {}) };
      if (check.minTlsVersion) {
        if (!protocol || rank(protocol) < rank(check.minTlsVersion)) problems.push(`negotiated ${protocol ?? 'no TLS'}, below ${check.minTlsVersion}`);
        else {
          const older = TLS_VERSIONS[rank(check.minTlsVersion) - 1];
          if (older && (await acceptsVersion(check, older, signal))) problems.push(`server accepts ${older}, below ${check.minTlsVersion}`);
        }
      }
      if (check.minCertificateDays !== undefined && daysLeft !== undefined && daysLeft < check.minCertificateDays) {
        problems.push(`certificate expires in ${daysLeft} day(s), fewer than ${check.minCertificateDays}`);
      }
    }
    const output = { url, method: check.method, status: response.status, headers, ...(tls ? { tls } : {}) };
    if (problems.length > 0) return { outcome: 'Failed', message: problems.join('; '), output };
    return { outcome: 'Passed', message: `${check.method} ${url}: ${response.status}`, output };
  }
}

function rank(version: string): number {
  return TLS_VERSIONS.indexOf(version as SecureVersion);
}

function parseUrl(text: string): URL | undefined {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

function isHeaderName(name: string): boolean {
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'list' : typeof value;
}

/** The check a run makes, or why it cannot be made. */
export function toCheck(params: Params, resource: Resource): HttpCheck | string {
  let urlText = params.url;
  if (typeof params.urlField === 'string') {
    const doc = resource.spec.document;
    urlText = typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? (doc as Record<string, unknown>)[params.urlField] : undefined;
    if (typeof urlText !== 'string') return `resource document has no string field ${JSON.stringify(params.urlField)}`;
  }
  const url = typeof urlText === 'string' ? parseUrl(urlText) : undefined;
  if (!url) return `not an http(s) URL: ${JSON.stringify(urlText)}`;
  const raw = params.expectStatus;
  const expectStatus = raw === undefined ? undefined : (Array.isArray(raw) ? raw : [raw]).filter((s): s is number => typeof s === 'number');
  const rh = params.requiredHeaders;
  const requiredHeaders = Array.isArray(rh)
    ? rh.filter((h): h is string => typeof h === 'string').map((name) => ({ name: name.toLowerCase() }))
    : typeof rh === 'object' && rh !== null
      ? Object.entries(rh).map(([name, p]) => ({ name: name.toLowerCase(), ...(typeof p === 'string' ? { pattern: new RegExp(p) } : {}) }))
      : [];
  return {
    url,
    method: params.method === 'HEAD' ? 'HEAD' : 'GET',
    expectStatus,
    requiredHeaders,
    ...(typeof params.minTlsVersion === 'string' ? { minTlsVersion: params.minTlsVersion as SecureVersion } : {}),
    ...(typeof params.minCertificateDays === 'number' ? { minCertificateDays: params.minCertificateDays } : {}),
    ...(typeof params.caCertificate === 'string' ? { ca: params.caCertificate } : {}),
    rejectUnauthorized: params.rejectUnauthorized !== false,
  };
}

interface Observed {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly tls?: { readonly protocol: string | null; readonly certificate?: PeerCertificate };
}

/** One request on a fresh connection (no agent), so the TLS details are this server's. */
function fetchOnce(check: HttpCheck, signal: AbortSignal): Promise<Observed> {
  return new Promise((resolve, reject) => {
    const https = check.url.protocol === 'https:';
    const options = {
      method: check.method,
      agent: false as const,
      signal,
      headers: { 'user-agent': 'argus-http-attestation', accept: '*/*' },
      ...(https ? { rejectUnauthorized: check.rejectUnauthorized, ...(check.ca ? { ca: check.ca } : {}), minVersion: 'TLSv1' as SecureVersion } : {}),
    };
    const onResponse = (res: IncomingMessage): void => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      let tls: Observed['tls'];
      if (https) {
        const socket = res.socket as TLSSocket;
        const certificate = socket.getPeerCertificate();
        tls = { protocol: socket.getProtocol(), ...(certificate && certificate.valid_to ? { certificate } : {}) };
      }
      // The body is not evidence; drain it so the socket closes.
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers, ...(tls ? { tls } : {}) }));
      res.on('error', reject);
    };
    const req = https ? httpsRequest(check.url, options, onResponse) : httpRequest(check.url, options, onResponse);
    req.on('error', reject);
    req.end();
  });
}

/** Whether the server completes a handshake capped at `version`. */
function acceptsVersion(check: HttpCheck, version: SecureVersion, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: check.url.hostname.replace(/^\[|\]$/g, ''),
      port: Number(check.url.port || 443),
      servername: /^[\d.]+$|:/.test(check.url.hostname) ? undefined : check.url.hostname,
      minVersion: version,
      maxVersion: version,
      // Old protocols need the lowest security level to be offered at all.
      ciphers: 'DEFAULT@SECLEVEL=0',
      rejectUnauthorized: false,
    });
    const done = (accepted: boolean): void => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(accepted);
    };
    const onAbort = (): void => done(false);
    signal.addEventListener('abort', onAbort);
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
  });
}
