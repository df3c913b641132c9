/**
 * Thin handlers: parse the event, call one use case, map the result. One handler per route
 * family (one Lambda each on AWS); each dispatches on the API Gateway route key.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type middy from '@middy/core';
import type { ApiContext } from './context.ts';
import { complianceOverview, controlCompliance, requirementCompliance, resourceCompliance, resourceResults } from './compliance.ts';
import {
  applyManifests,
  createDefinition,
  deleteDefinition,
  etagOf,
  getDefinition,
  importTemplate,
  listDefinitions,
  parseIfMatch,
  replaceDefinition,
  requireBody,
} from './definitions.ts';
import { isAgentOp } from './agent-routes.ts';
import { BadRequestError } from './errors.ts';
import { json, withApiMiddleware, type ApiEvent, type ApiResult, type HandlerOptions } from './middleware.ts';
import { openApiDocument } from './openapi.ts';
import { routeByKey, type RouteFamily } from './routes.ts';
import { KIND_SCHEMAS } from './schemas.ts';

export type ApiHandler = middy.MiddyfiedHandler<APIGatewayProxyEventV2, ApiResult>;

/** The context is resolved per request so a Lambda can create it lazily, once per module. */
export type ContextSource = () => Promise<ApiContext> | ApiContext;

function param(event: ApiEvent, name: string): string {
  const value = event.pathParameters?.[name];
  if (value === undefined || value === '') throw new BadRequestError(`missing path parameter ${name}`);
  // Names never contain '%', so decoding is safe whether or not the gateway already did.
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    throw new BadRequestError(`path parameter ${name} is not valid percent-encoding`);
  }
}

function query(event: ApiEvent): { limit?: string; nextToken?: string } {
  const q = event.queryStringParameters ?? {};
  return { ...(q.limit === undefined ? {} : { limit: q.limit }), ...(q.nextToken === undefined ? {} : { nextToken: q.nextToken }) };
}

function contentType(event: ApiEvent): string {
  return (event.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** A parsed JSON body; any other media type is refused. */
function jsonBody(event: ApiEvent): unknown {
  requireBody(event.body);
  if (typeof event.body === 'string') throw new BadRequestError('send the manifest as JSON with Content-Type: application/json', 415);
  return event.body;
}

const TEXT_TYPES = new Set(['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml', 'text/plain']);

/** A JSON body (parsed) or YAML text. */
function jsonOrYamlBody(event: ApiEvent): unknown {
  requireBody(event.body);
  if (typeof event.body !== 'string') return event.body;
  if (!TEXT_TYPES.has(contentType(event))) throw new BadRequestError('send application/json or application/yaml', 415);
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

async function route(event: ApiEvent, family: RouteFamily, context: ContextSource, options: CreateOptions): Promise<ApiResult> {
  const r = routeByKey(event.routeKey);
  if (!r || r.family !== family) throw new BadRequestError(`no route ${event.routeKey}`, 404);
  const o = r.operation;
  if (isAgentOp(o)) throw new BadRequestError(`${event.routeKey} is served by the agents handler (src/api/agent-handlers.ts)`, 404);
  if (o.op === 'openapi') return json(200, openApiDocument({ version: options.version }));
  const ctx = await context();
  switch (o.op) {
    case 'list':
      return json(200, await listDefinitions(ctx, o.kind, query(event)));
    case 'create': {
      const created = await createDefinition(ctx, o.kind, jsonBody(event));
      const location = `/${KIND_SCHEMAS[o.kind].plural}/${encodeURIComponent(created.body.metadata.name)}`;
      return json(201, created.body, { etag: etagOf(created.version), location });
    }
    case 'get': {
      const found = await getDefinition(ctx, o.kind, param(event, 'name'));
      return json(200, found.body, { etag: etagOf(found.version) });
    }
    case 'replace': {
      const done = await replaceDefinition(ctx, o.kind, param(event, 'name'), jsonBody(event), parseIfMatch(event.headers['if-match']));
      return json(done.created ? 201 : 200, done.body, { etag: etagOf(done.version) });
    }
    case 'delete':
      await deleteDefinition(ctx, o.kind, param(event, 'name'), parseIfMatch(event.headers['if-match']));
      return { statusCode: 204 };
    case 'results':
      return json(200, await resourceResults(ctx, param(event, 'name')));
    case 'complianceOverview':
      return json(200, await complianceOverview(ctx));
    case 'requirementCompliance':
      return json(200, await requirementCompliance(ctx, param(event, 'name'), query(event)));
    case 'resourceCompliance':
      return json(200, await resourceCompliance(ctx, param(event, 'name')));
    case 'controlCompliance':
      return json(200, await controlCompliance(ctx, param(event, 'framework'), param(event, 'control'), query(event)));
    case 'apply': {
      const dryRun = event.queryStringParameters?.dryRun === 'true';
      return json(200, await applyManifests(ctx, jsonOrYamlBody(event), { dryRun }));
    }
    case 'importCloudFormation':
      return json(200, await importTemplate(ctx, jsonOrYamlBody(event), event.queryStringParameters?.stackName));
    case 'reconcile': {
      if (!ctx.requestReconcile) throw new BadRequestError('this runtime reconciles on its schedule only', 404);
      return json(202, ctx.requestReconcile());
    }
    case 'metrics':
    case 'healthz':
    case 'evidence':
      throw new BadRequestError(`${event.routeKey} is served by the local server`, 404);
  }
}

export interface CreateOptions extends HandlerOptions {
  /** Version shown in the OpenAPI document. */
  readonly version?: string;
}

export interface ApiHandlers {
  readonly definitions: ApiHandler;
  readonly compliance: ApiHandler;
  readonly operations: ApiHandler;
  readonly openapi: ApiHandler;
}

/** The API's handlers over one context source (one Lambda per family on AWS, all four locally). */
export function createApiHandlers(context: ContextSource, options: CreateOptions = {}): ApiHandlers {
  const make = (family: RouteFamily) => withApiMiddleware((event) => route(event, family, context, options), options);
  return { definitions: make('definitions'), compliance: make('compliance'), operations: make('operations'), openapi: make('openapi') };
}
