/**
 * The OpenAPI 3.1 document, generated from the route table (routes.ts) and the kind schema table
 * (schemas.ts) — the same tables the handlers and the request check use.
 */
import { DEFINITION_KINDS, type DefinitionKind } from '../core/model.ts';
import { ROUTES, type Route } from './routes.ts';
import { manifestSchema, sharedSchemas, type JsonSchema } from './schemas.ts';

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const jsonContent = (schema: JsonSchema) => ({ 'application/json': { schema } });

function errorResponse(description: string) {
  return { description, content: jsonContent(ref('Error')) };
}

function pageSchema(items: JsonSchema): JsonSchema {
  return { type: 'object', required: ['items'], properties: { items: { type: 'array', items }, nextToken: { type: 'string', description: 'Pass back as ?nextToken= for the next page; absent on the last page.' } } };
}

const PAGE_PARAMS = [
  { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
  { name: 'nextToken', in: 'query', required: false, schema: { type: 'string' }, description: 'Opaque token from the previous page.' },
];

function pathParams(route: Route) {
  return [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
    ...(m[1] === 'name' ? { description: 'metadata.name, percent-encoded (a `/` in a name is sent as `%2F`).' } : {}),
  }));
}

const ETAG_HEADER = { ETag: { description: 'The stored version in quotes, for If-Match.', schema: { type: 'string' } } };
const IF_MATCH = { name: 'If-Match', in: 'header', required: false, schema: { type: 'string' }, description: 'ETag of the version this change is based on, or `*`.' };

function operation(route: Route): Record<string, unknown> {
  const id = `${route.operation.op}${'kind' in route.operation ? route.operation.kind : ''}`;
  const parameters: unknown[] = pathParams(route);
  const responses: Record<string, unknown> = {};
  let requestBody: unknown;
  const o = route.operation;
  const kindRef = (k: DefinitionKind) => ref(k);
  switch (o.op) {
    case 'list':
      parameters.push(...PAGE_PARAMS);
      responses['200'] = { description: 'A page of definitions', content: jsonContent(pageSchema(kindRef(o.kind))) };
      responses['400'] = errorResponse('Bad limit or nextToken');
      break;
    case 'create':
      requestBody = { required: true, content: jsonContent(kindRef(o.kind)) };
      responses['201'] = { description: 'Created', headers: ETAG_HEADER, content: jsonContent(kindRef(o.kind)) };
      responses['400'] = errorResponse('Invalid manifest: `issues` lists every field problem');
      responses['409'] = errorResponse('A definition with this name exists');
      break;
    case 'get':
      responses['200'] = { description: 'The definition', headers: ETAG_HEADER, content: jsonContent(kindRef(o.kind)) };
      responses['404'] = errorResponse('Unknown');
      break;
    case 'replace':
      parameters.push(IF_MATCH);
      requestBody = { required: true, content: jsonContent(kindRef(o.kind)) };
      responses['200'] = { description: 'Replaced (or unchanged)', headers: ETAG_HEADER, content: jsonContent(kindRef(o.kind)) };
      responses['201'] = { description: 'Created', headers: ETAG_HEADER, content: jsonContent(kindRef(o.kind)) };
      responses['400'] = errorResponse('Invalid manifest');
      responses['404'] = errorResponse('Unknown (with If-Match)');
      responses['409'] = errorResponse('A concurrent write won');
      responses['412'] = errorResponse('If-Match does not name the stored version');
      break;
    case 'delete':
      parameters.push(IF_MATCH);
      responses['204'] = { description: 'Deleted' };
      responses['404'] = errorResponse('Unknown');
      responses['409'] = errorResponse('Still referenced, or a concurrent write won');
      responses['412'] = errorResponse('If-Match does not name the stored version');
      break;
    case 'results':
      responses['200'] = { description: 'Results', content: jsonContent(ref('ResourceResults')) };
      responses['404'] = errorResponse('Unknown resource');
      break;
    case 'complianceOverview':
      responses['200'] = { description: 'Overview', content: jsonContent({ type: 'object' }) };
      break;
    case 'requirementCompliance':
    case 'controlCompliance':
      parameters.push(...PAGE_PARAMS);
      responses['200'] = { description: 'Summary and a page of pairs', content: jsonContent({ type: 'object' }) };
      responses['404'] = errorResponse('Unknown');
      break;
    case 'resourceCompliance':
      responses['200'] = { description: 'Own and effective status per requirement, and the children', content: jsonContent({ type: 'object' }) };
      responses['404'] = errorResponse('Unknown resource');
      break;
    case 'apply':
      parameters.push({ name: 'dryRun', in: 'query', required: false, schema: { type: 'boolean' } });
      requestBody = {
        required: true,
        content: {
          'application/json': { schema: { type: 'array', items: { oneOf: DEFINITION_KINDS.map(kindRef) } } },
          'application/yaml': { schema: { type: 'string', description: 'Manifests separated by ---' } },
        },
      };
      responses['200'] = { description: 'What was (with dryRun: would be) created, configured, unchanged, and with dryRun what it would do to the pairs', content: jsonContent(ref('ApplyOutcome')) };
      responses['400'] = errorResponse('Invalid manifests: nothing written; issues carry doc numbers');
      break;
    case 'importCloudFormation':
      parameters.push({ name: 'stackName', in: 'query', required: false, schema: { type: 'string' } });
      requestBody = { required: true, content: { 'application/json': { schema: { type: 'object' } }, 'application/yaml': { schema: { type: 'string' } } } };
      responses['200'] = { description: 'Resources created, configured, unchanged, deleted', content: jsonContent(ref('ApplyOutcome')) };
      responses['400'] = errorResponse('Invalid template');
      break;
    case 'reconcile':
      responses['202'] = { description: 'A reconcile will run (or is running)' };
      break;
    case 'openapi':
      responses['200'] = { description: 'OpenAPI 3.1 document', content: jsonContent({ type: 'object' }) };
      break;
    case 'metrics':
      responses['200'] = { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } };
      break;
    case 'evidence':
      responses['200'] = { description: 'The output exactly as stored; its SHA-256 is the digest', content: jsonContent({}) };
      responses['404'] = errorResponse('No output with this digest');
      break;
    case 'healthz':
      responses['200'] = { description: 'Alive', content: jsonContent({ type: 'object' }) };
      break;
  }
  if (o.op !== 'healthz') responses['401'] = errorResponse('Missing or wrong bearer token (when the server has one)');
  return {
    operationId: id,
    summary: route.summary,
    tags: [route.family],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses,
    ...(o.op === 'healthz' ? { security: [] } : {}),
  };
}

export function openApiDocument(options: { readonly version?: string; readonly serverUrl?: string } = {}): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) {
    const item = (paths[route.path] ??= {});
    item[route.method.toLowerCase()] = operation(route);
  }
  const ref2 = { type: 'object', required: ['kind', 'name'], properties: { kind: { type: 'string' }, name: { type: 'string' } } };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Argus API',
      version: options.version ?? '0.1.0',
      description: 'Definitions (the manifests of docs/manifests.md), compliance read models and operations. Errors are `{"error": {"code", "message", "issues"?}}`.',
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'Required when the server was started with a token.' } },
      schemas: {
        ...sharedSchemas(),
        ...Object.fromEntries(DEFINITION_KINDS.map((k) => [k, manifestSchema(k)])),
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string' },
                message: { type: 'string' },
                issues: { type: 'array', items: { type: 'object', required: ['path', 'message'], properties: { path: { type: 'string' }, message: { type: 'string' }, doc: { type: 'integer' } } } },
              },
            },
          },
        },
        ApplyOutcome: {
          type: 'object',
          properties: {
            ...Object.fromEntries(['created', 'configured', 'unchanged', 'deleted'].map((k) => [k, { type: 'array', items: ref2 }])),
            preview: {
              type: 'object',
              description: 'With ?dryRun=true: pairs due now and after the apply, the newly due ones by reason, and the compliance totals now and after',
              properties: {
                due: { type: 'object', properties: { now: { type: 'integer' }, after: { type: 'integer' } } },
                newlyDue: { type: 'object', additionalProperties: { type: 'integer' } },
                totals: { type: 'object', properties: { now: { type: 'object' }, after: { type: 'object' } } },
              },
            },
          },
        },
        ResourceResults: {
          type: 'object',
          properties: {
            resource: { type: 'string' },
            generatedAt: { type: 'string' },
            results: {
              type: 'array',
              items: {
                type: 'object',
                required: ['attestation', 'status'],
                properties: {
                  attestation: { type: 'string' },
                  provider: { type: 'string' },
                  status: { type: 'string', enum: ['Pending', 'Scheduled', 'Running', 'Passed', 'Failed', 'Errored', 'Aborted', 'Stale'] },
                  staleReason: { type: 'string' },
                  result: { type: 'object' },
                  evidence: { type: 'object', properties: { digest: { type: 'string' }, href: { type: 'string' } } },
                },
              },
            },
          },
        },
      },
    },
  };
}
