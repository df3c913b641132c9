/**
 * The API Gateway routes of the deployed API, as data: method, path template and the Lambda
 * function family that serves each. lib/ cannot import src/api/routes.ts (runtime code), so the
 * table is repeated here and test/integration/cdk-control-plane.test.ts proves it equals every
 * non-local route of src/api/routes.ts.
 */

/** One Lambda function per family (the local-only routes, /metrics, /evidence and /healthz, are not deployed). */
export type ApiFamily = 'definitions' | 'compliance' | 'operations' | 'openapi' | 'agents' | 'agentAdmin';

/** Each family's Lambda entry under functions/. */
export const API_FAMILY_ENTRIES: Readonly<Record<ApiFamily, string>> = {
  definitions: 'api/definitions.ts',
  compliance: 'api/compliance.ts',
  operations: 'api/operations.ts',
  openapi: 'api/openapi.ts',
  agents: 'api/agents.ts',
  agentAdmin: 'api/agent-admin.ts',
};

export const API_FAMILIES = Object.keys(API_FAMILY_ENTRIES) as readonly ApiFamily[];

/**
 * Families whose callers are not AWS principals: agents run outside AWS and present a per-Provider
 * API key (`Authorization: Bearer`), which the handler verifies (src/api/agent-handlers.ts). API
 * Gateway lets them through without its authoriser.
 */
export const HANDLER_AUTHORISED_FAMILIES: ReadonlySet<ApiFamily> = new Set(['agents']);

export type ApiMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface ApiRoute {
  readonly method: ApiMethod;
  /** API Gateway path template, e.g. `/requirements/{name}`. */
  readonly path: string;
  readonly family: ApiFamily;
}

/** Collection paths of the definition kinds, in the order of DEFINITION_KINDS. */
const DEFINITION_COLLECTIONS = ['requirements', 'implementations', 'attestations', 'resources', 'providers', 'waivers', 'compliance-objectives'] as const;

function definitionRoutes(collection: string): ApiRoute[] {
  const base = `/${collection}`;
  const item = `${base}/{name}`;
  return [
    { method: 'GET', path: base, family: 'definitions' },
    { method: 'POST', path: base, family: 'definitions' },
    { method: 'GET', path: item, family: 'definitions' },
    { method: 'PUT', path: item, family: 'definitions' },
    { method: 'DELETE', path: item, family: 'definitions' },
  ];
}

export const API_ROUTES: readonly ApiRoute[] = [
  ...DEFINITION_COLLECTIONS.flatMap(definitionRoutes),
  { method: 'GET', path: '/resources/{name}/results', family: 'compliance' },
  { method: 'GET', path: '/compliance', family: 'compliance' },
  { method: 'GET', path: '/compliance/requirements/{name}', family: 'compliance' },
  { method: 'GET', path: '/compliance/resources/{name}', family: 'compliance' },
  { method: 'GET', path: '/compliance/frameworks/{framework}/controls/{control}', family: 'compliance' },
  { method: 'POST', path: '/apply', family: 'operations' },
  { method: 'POST', path: '/import/cloudformation', family: 'operations' },
  { method: 'POST', path: '/reconcile', family: 'operations' },
  { method: 'GET', path: '/openapi.json', family: 'openapi' },
  { method: 'POST', path: '/agents/{provider}/register', family: 'agents' },
  { method: 'POST', path: '/agents/{provider}/heartbeat', family: 'agents' },
  { method: 'PUT', path: '/agents/{provider}/resources', family: 'agents' },
  { method: 'POST', path: '/agents/{provider}/work/claim', family: 'agents' },
  { method: 'POST', path: '/agents/{provider}/work/{id}/start', family: 'agents' },
  { method: 'POST', path: '/agents/{provider}/work/{id}/lease', family: 'agents' },
  { method: 'GET', path: '/agents/{provider}/work/{id}', family: 'agents' },
  { method: 'POST', path: '/agents/{provider}/work/{id}/result', family: 'agents' },
  { method: 'POST', path: '/providers/{name}/keys', family: 'agentAdmin' },
  { method: 'GET', path: '/providers/{name}/keys', family: 'agentAdmin' },
  { method: 'DELETE', path: '/providers/{name}/keys/{keyId}', family: 'agentAdmin' },
  { method: 'GET', path: '/providers/{name}/status', family: 'agentAdmin' },
  { method: 'GET', path: '/providers/{name}/work', family: 'agentAdmin' },
  { method: 'DELETE', path: '/providers/{name}/observations', family: 'agentAdmin' },
  { method: 'POST', path: '/work/runs/{runId}/cancel', family: 'agentAdmin' },
];
