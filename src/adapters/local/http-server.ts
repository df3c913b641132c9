/**
 * The API on one machine: node:http turns each request into an API Gateway HTTP API (v2) event
 * and calls the same handlers the Lambda functions export. /metrics and /healthz are served here
 * (on AWS metrics go to CloudWatch and remote-write). An optional bearer token guards every route
 * but /healthz.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { ApiHandler, ApiHandlers } from '../../api/handlers.ts';
import type { ErrorBody } from '../../api/errors.ts';
import { matchRoute, routeKey } from '../../api/routes.ts';
import { silentLogger, type Logger } from './api-logger.ts';

export interface ApiServerOptions {
  readonly handlers: ApiHandlers;
  /** Serves the `agents` (provider-key auth, no admin token) and `agentAdmin` routes (src/api/agent-handlers.ts). */
  readonly agents?: ApiHandler;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** 0 picks a free port. @default 8080 */
  readonly port?: number;
  /** When set, every route but /healthz needs `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** Prometheus text for GET /metrics. */
  readonly metrics?: () => Promise<{ readonly contentType: string; readonly body: string }>;
  /** The stored output for GET /evidence/{digest} (`sha256:<hex>` or `<hex>`), undefined when unknown. */
  readonly evidence?: (hex: string) => Promise<string | undefined>;
  /** Extra fields for GET /healthz. */
  readonly health?: () => Record<string, unknown>;
  readonly logger?: Logger;
  /** @default 10 MiB */
  readonly maxBodyBytes?: number;
}

const DEFAULT_MAX_BODY = 10 * 1024 * 1024;
const TEXT_BODY = /^(application\/(.+\+)?json|application\/(x-)?yaml|text\/.*|application\/x-www-form-urlencoded)(;|$)/i;

export class ApiServer {
  private constructor(
    private readonly server: Server,
    readonly host: string,
    readonly port: number,
  ) {}

  get url(): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `http://${host}:${this.port}`;
  }

  static async start(options: ApiServerOptions): Promise<ApiServer> {
    const host = options.host ?? '127.0.0.1';
    const logger = options.logger ?? silentLogger;
    const tokenDigest = options.token === undefined ? undefined : sha256(options.token);
    const server = createServer((req, res) => {
      const started = performance.now();
      handle(req, res, options, tokenDigest)
        .catch((error: unknown) => {
          logger.log('error', 'request failed', { error: error instanceof Error ? error.message : String(error) });
          if (!res.headersSent) sendJson(res, 500, { error: { code: 'INTERNAL', message: 'internal error' } });
          else res.destroy();
        })
        .finally(() => {
          logger.log('info', 'request', { method: req.method, path: (req.url ?? '').split('?')[0], status: res.statusCode, ms: Math.round(performance.now() - started) });
        });
    });
    // Idle keep-alive sockets must not hold up a shutdown for long.
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 8080, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    return new ApiServer(server, host, address.port);
  }

  /** Stops accepting, lets requests in flight finish for up to `graceMs`, then cuts the rest. */
  async close(graceMs = 5_000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const timer = setTimeout(() => this.server.closeAllConnections(), graceMs);
    try {
      await closed;
    } finally {
      clearTimeout(timer);
    }
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function sendJson(res: ServerResponse, status: number, body: ErrorBody | Record<string, unknown>, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function authorized(req: IncomingMessage, tokenDigest: Buffer | undefined): boolean {
  if (!tokenDigest) return true;
  const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  // Digests have equal length, so the comparison time says nothing about the token.
  return m !== null && timingSafeEqual(sha256((m[1] ?? '').trim()), tokenDigest);
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > max) return 'too-large';
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

async function handle(req: IncomingMessage, res: ServerResponse, options: ApiServerOptions, tokenDigest: Buffer | undefined): Promise<void> {
  const method = (req.method ?? 'GET').toUpperCase();
  const url = new URL(req.url ?? '/', 'http://localhost');
  const rawPath = url.pathname;
  const match = matchRoute(method, rawPath);
  if (match === undefined) return sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${method} ${rawPath}` } });
  if (!('route' in match)) {
    return sendJson(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: `${method} not allowed on ${rawPath}` } }, { allow: match.allowed.join(', ') });
  }
  const { route, pathParameters } = match;
  if (route.operation.op === 'healthz') return sendJson(res, 200, { status: 'ok', ...(options.health?.() ?? {}) });
  // Agent routes authenticate with the provider's own key, checked by their handler.
  if (route.family !== 'agents' && !authorized(req, tokenDigest)) {
    return sendJson(res, 401, { error: { code: 'UNAUTHORIZED', message: 'missing or wrong bearer token' } }, { 'www-authenticate': 'Bearer' });
  }
  if (route.operation.op === 'metrics') {
    if (!options.metrics) return sendJson(res, 404, { error: { code: 'NOT_FOUND', message: 'metrics are not enabled' } });
    const { contentType, body } = await options.metrics();
    res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  if (route.operation.op === 'evidence' && options.evidence) {
    const hex = (pathParameters.digest ?? '').replace(/^sha256:/, '');
    const text = /^[0-9a-f]{64}$/.test(hex) ? await options.evidence(hex) : undefined;
    if (text === undefined) return sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `no evidence ${pathParameters.digest ?? ''}` } });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
    return;
  }
  if (route.family === 'local') return sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${method} ${rawPath}` } });

  const body = await readBody(req, options.maxBodyBytes ?? DEFAULT_MAX_BODY);
  if (body === 'too-large') {
    sendJson(res, 413, { error: { code: 'TOO_LARGE', message: 'request body too large' } }, { connection: 'close' });
    return;
  }
  const event = toEvent(req, url, routeKey(route), pathParameters, body);
  const handler = route.family === 'agents' || route.family === 'agentAdmin' ? options.agents : options.handlers[route.family];
  if (!handler) return sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${method} ${rawPath}` } });
  const result = await handler(event, lambdaContext(event.requestContext.requestId));
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k.toLowerCase()] = String(v);
  const payload = result.body === undefined ? Buffer.alloc(0) : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8');
  if (payload.length > 0) headers['content-length'] = String(payload.length);
  res.writeHead(result.statusCode ?? 200, headers);
  if (result.cookies && result.cookies.length > 0) res.setHeader('set-cookie', result.cookies);
  res.end(payload);
}

/** An API Gateway HTTP API payload 2.0 event, as API Gateway would build it. */
export function toEvent(req: IncomingMessage, url: URL, key: string, pathParameters: Record<string, string>, body: Buffer): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (name === 'cookie') cookies.push(...String(value).split(/;\s*/).filter(Boolean));
    else headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = k in query ? `${query[k]},${v}` : v;
  const now = Date.now();
  const requestId = randomUUID();
  const isText = TEXT_BODY.test(headers['content-type'] ?? 'application/json');
  const method = (req.method ?? 'GET').toUpperCase();
  return {
    version: '2.0',
    routeKey: key,
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    ...(cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    ...(Object.keys(pathParameters).length > 0 ? { pathParameters } : {}),
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: (headers.host ?? 'localhost').split('.')[0] ?? 'localhost',
      http: { method, path: url.pathname, protocol: `HTTP/${req.httpVersion}`, sourceIp: req.socket.remoteAddress ?? '', userAgent: headers['user-agent'] ?? '' },
      requestId,
      routeKey: key,
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    ...(body.length > 0 ? { body: isText ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: body.length > 0 && !isText,
  };
}

function lambdaContext(requestId: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'argus-local-api',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:argus-local-api',
    memoryLimitInMB: '0',
    awsRequestId: requestId,
    logGroupName: 'local',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
