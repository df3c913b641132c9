/**
 * The API Gateway routes of the deployed API, as data: method, path template and the Lambda
 * function family that serves each. lib/ cannot import src/api/routes.ts (runtime code), so the
 * table is repeated here and test/integration/cdk-control-plane.test.ts proves it equals every
 * non-local route of src/api/routes.ts.
 */

/** One Lambda function per family (the local-only routes, /metrics, /evidence and /healthz, are not deployed). */
export type ApiFamily = 'definitions' | 'compliance' | 'operations' | 'openapi';

export const API_FAMILIES: readonly ApiFamily[] = ['definitions', 'compliance', 'operations', 'openapi'];

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
];
