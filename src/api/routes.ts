/**
 * Every route of the API, once: API Gateway route keys, the handler family that serves each
 * (one Lambda per family on AWS), and what the OpenAPI document says about it.
 */
import { DEFINITION_KINDS, type DefinitionKind } from '../core/model.ts';
import { KIND_SCHEMAS } from './schemas.ts';
import { AGENT_ROUTES, type AgentOp } from './agent-routes.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** One Lambda function per family on AWS; locally the server calls the same handlers. */
export type RouteFamily = 'definitions' | 'compliance' | 'operations' | 'openapi' | 'local' | 'agents' | 'agentAdmin';

export type Operation =
  | { readonly op: 'list' | 'create'; readonly kind: DefinitionKind }
  | { readonly op: 'get' | 'replace' | 'delete'; readonly kind: DefinitionKind }
  | { readonly op: 'results' | 'complianceOverview' | 'requirementCompliance' | 'resourceCompliance' | 'controlCompliance' }
  | { readonly op: 'apply' | 'importCloudFormation' | 'reconcile' | 'openapi' | 'metrics' | 'healthz' | 'evidence' }
  | { readonly op: AgentOp };

export interface Route {
  readonly method: HttpMethod;
  /** API Gateway path template, e.g. `/requirements/{name}`. */
  readonly path: string;
  readonly family: RouteFamily;
  readonly operation: Operation;
  readonly summary: string;
}

export function routeKey(route: Pick<Route, 'method' | 'path'>): string {
  return `${route.method} ${route.path}`;
}

function definitionRoutes(kind: DefinitionKind): Route[] {
  const base = `/${KIND_SCHEMAS[kind].plural}`;
  const item = `${base}/{name}`;
  return [
    { method: 'GET', path: base, family: 'definitions', operation: { op: 'list', kind }, summary: `List ${kind} definitions (paginated: limit, nextToken)` },
    { method: 'POST', path: base, family: 'definitions', operation: { op: 'create', kind }, summary: `Create a ${kind} (409 when the name exists)` },
    { method: 'GET', path: item, family: 'definitions', operation: { op: 'get', kind }, summary: `Read a ${kind}; the ETag header is its version` },
    { method: 'PUT', path: item, family: 'definitions', operation: { op: 'replace', kind }, summary: `Replace or create a ${kind}; If-Match makes it conditional (412 on mismatch)` },
    { method: 'DELETE', path: item, family: 'definitions', operation: { op: 'delete', kind }, summary: `Delete a ${kind} (409 while others refer to it)` },
  ];
}

export const ROUTES: readonly Route[] = [
  ...DEFINITION_KINDS.flatMap(definitionRoutes),
  { method: 'GET', path: '/resources/{name}/results', family: 'compliance', operation: { op: 'results' }, summary: 'Attestation results of a resource with status, stale reason and evidence digest' },
  { method: 'GET', path: '/compliance', family: 'compliance', operation: { op: 'complianceOverview' }, summary: 'Totals and the SLI of every requirement' },
  { method: 'GET', path: '/compliance/requirements/{name}', family: 'compliance', operation: { op: 'requirementCompliance' }, summary: 'Compliance of one requirement and its (resource, requirement) pairs' },
  { method: 'GET', path: '/compliance/resources/{name}', family: 'compliance', operation: { op: 'resourceCompliance' }, summary: 'Own and effective (rolled-up) compliance of a resource, with its children' },
  {
    method: 'GET',
    path: '/compliance/frameworks/{framework}/controls/{control}',
    family: 'compliance',
    operation: { op: 'controlCompliance' },
    summary: 'Compliance of a framework control (requirements listing framework:control)',
  },
  { method: 'POST', path: '/apply', family: 'operations', operation: { op: 'apply' }, summary: 'Apply manifests all or nothing (JSON array or YAML documents); ?dryRun=true writes nothing and previews the change' },
  { method: 'POST', path: '/import/cloudformation', family: 'operations', operation: { op: 'importCloudFormation' }, summary: 'Import a CloudFormation template (JSON or YAML) as Resources; ?stackName=' },
  { method: 'POST', path: '/reconcile', family: 'operations', operation: { op: 'reconcile' }, summary: 'Ask for a reconcile soon (202)' },
  { method: 'GET', path: '/openapi.json', family: 'openapi', operation: { op: 'openapi' }, summary: 'This document' },
  { method: 'GET', path: '/metrics', family: 'local', operation: { op: 'metrics' }, summary: 'Prometheus metrics (local runtime)' },
  { method: 'GET', path: '/evidence/{digest}', family: 'local', operation: { op: 'evidence' }, summary: 'The stored provider output a result\'s evidence digest names (local evidence ledger)' },
  { method: 'GET', path: '/healthz', family: 'local', operation: { op: 'healthz' }, summary: 'Liveness (no authentication)' },
  ...AGENT_ROUTES,
];

const BY_KEY = new Map(ROUTES.map((r) => [routeKey(r), r]));

export function routeByKey(key: string): Route | undefined {
  return BY_KEY.get(key);
}

export interface RouteMatch {
  readonly route: Route;
  readonly pathParameters: Record<string, string>;
}

/**
 * Matches a raw path (segments percent-encoded, so a name with `/` arrives as `%2F`) against the
 * templates, as API Gateway does. Returns the route, or the allowed methods when only the path matches.
 */
export function matchRoute(method: string, rawPath: string): RouteMatch | { readonly allowed: HttpMethod[] } | undefined {
  const segments = rawPath.split('/').slice(1);
  const allowed: HttpMethod[] = [];
  for (const route of ROUTES) {
    const template = route.path.split('/').slice(1);
    if (template.length !== segments.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < template.length && ok; i++) {
      const t = template[i] ?? '';
      const s = segments[i] ?? '';
      if (t.startsWith('{') && t.endsWith('}')) {
        let value: string;
        try {
          value = decodeURIComponent(s);
        } catch {
          ok = false;
          break;
        }
        if (value === '') ok = false;
        else params[t.slice(1, -1)] = value;
      } else if (t !== s) ok = false;
    }
    if (!ok) continue;
    if (route.method === method) return { route, pathParameters: params };
    allowed.push(route.method);
  }
  return allowed.length > 0 ? { allowed } : undefined;
}
