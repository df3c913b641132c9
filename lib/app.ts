/**
 * The default Argus app: data stack, control plane stack and the member-account stack, with
 * cdk-nag's AwsSolutions checks as a validation plugin. Settings come from CDK context
 * (`cdk.json` or `-c key=value`), so no lookup ever runs at synth.
 */
import { App, Validations } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import type { ApiAuthorization, ObjectiveDefinition } from './ArgusControlPlane.ts';
import { ArgusControlPlaneStack, ArgusDataStack, ArgusMemberAccountStack } from './ArgusStacks.ts';

/** Context keys the default app reads. */
export const CONTEXT = {
  reconcileSchedule: 'argus:reconcileSchedule',
  publishSchedule: 'argus:publishSchedule',
  /** `{ "issuer": "...", "audiences": ["..."] }` for a JWT authoriser; IAM (SigV4) otherwise. */
  jwt: 'argus:jwt',
  /** `[{ "name": "prod-99", "target": 0.99, "windowDays": 30 }]` */
  objectives: 'argus:objectives',
  organizationId: 'argus:organizationId',
  /** Days the control plane's logs are kept (a CloudWatch Logs retention value); 365 by default. */
  logRetentionDays: 'argus:logRetentionDays',
  /** `false` turns the cdk-nag checks off (not recommended). */
  nag: 'argus:nag',
} as const;

export interface ArgusApp {
  readonly app: App;
  readonly data: ArgusDataStack;
  readonly controlPlane: ArgusControlPlaneStack;
  readonly member: ArgusMemberAccountStack;
}

function contextValue<T>(app: App, key: string, check: (v: unknown) => v is T, what: string): T | undefined {
  let v: unknown = app.node.tryGetContext(key);
  if (v === undefined) return undefined;
  // `-c key=value` passes strings: JSON values arrive encoded.
  if (typeof v === 'string' && /^[[{]/.test(v.trim())) v = JSON.parse(v);
  if (!check(v)) throw new Error(`context ${key} must be ${what}, got ${JSON.stringify(v)}`);
  return v;
}

const isString = (v: unknown): v is string => typeof v === 'string' && v !== '';
const RETENTION_DAYS = new Set<number>(Object.values(logs.RetentionDays).filter((d): d is number => typeof d === 'number'));
// `-c argus:logRetentionDays=400` passes a string.
const isRetentionDays = (v: unknown): v is number | string => RETENTION_DAYS.has(Number(v)) && String(v).trim() !== '';
const isJwt = (v: unknown): v is { issuer: string; audiences: string[] } =>
  typeof v === 'object' && v !== null && isString((v as { issuer?: unknown }).issuer) && Array.isArray((v as { audiences?: unknown }).audiences) && (v as { audiences: unknown[] }).audiences.every(isString);
interface ObjectiveContext {
  name: string;
  target: number;
  windowDays?: number;
}
const isObjectives = (v: unknown): v is ObjectiveContext[] =>
  Array.isArray(v) &&
  v.every((o: unknown) => typeof o === 'object' && o !== null && isString((o as ObjectiveContext).name) && typeof (o as ObjectiveContext).target === 'number' && (o as ObjectiveContext).target > 0 && (o as ObjectiveContext).target <= 1);

function objective(o: ObjectiveContext): ObjectiveDefinition {
  return {
    apiVersion: 'argus.dev/v1alpha1',
    kind: 'ComplianceObjective',
    metadata: { name: o.name, labels: {} },
    spec: { requirements: [], frameworks: [], resources: {}, target: o.target, windowMs: (o.windowDays ?? 30) * 86_400_000, unknownIsCompliant: false },
  };
}

/** Builds the default stacks into `app` (a new App when none is given). */
export function buildArgusApp(app: App = new App()): ArgusApp {
  const env = process.env.CDK_DEFAULT_ACCOUNT && process.env.CDK_DEFAULT_REGION ? { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION } : undefined;
  const jwt = contextValue(app, CONTEXT.jwt, isJwt, '{ "issuer": string, "audiences": string[] }');
  const apiAuthorization: ApiAuthorization = jwt ? { type: 'jwt', issuer: jwt.issuer, audiences: jwt.audiences } : { type: 'iam' };
  const reconcileSchedule = contextValue(app, CONTEXT.reconcileSchedule, isString, 'a schedule expression');
  const publishSchedule = contextValue(app, CONTEXT.publishSchedule, isString, 'a schedule expression');
  const organizationId = contextValue(app, CONTEXT.organizationId, isString, 'an organisation id (o-...)');
  const logRetentionDays = contextValue(app, CONTEXT.logRetentionDays, isRetentionDays, `one of CloudWatch Logs' retention values (${[...RETENTION_DAYS].join(', ')})`);
  const objectives = (contextValue(app, CONTEXT.objectives, isObjectives, 'a list of { name, target (0-1], windowDays? }') ?? []).map(objective);

  const data = new ArgusDataStack(app, 'ArgusData', env ? { env } : {});
  const controlPlane = new ArgusControlPlaneStack(app, 'ArgusControlPlane', {
    ...(env ? { env } : {}),
    storage: data.storage,
    apiAuthorization,
    objectives,
    ...(reconcileSchedule ? { reconcileSchedule } : {}),
    ...(publishSchedule ? { publishSchedule } : {}),
    ...(organizationId ? { organizationId } : {}),
    ...(logRetentionDays !== undefined ? { logRetention: Number(logRetentionDays) as logs.RetentionDays } : {}),
  });
  const member = new ArgusMemberAccountStack(app, 'ArgusMemberAccount');
  if (app.node.tryGetContext(CONTEXT.nag) !== false && app.node.tryGetContext(CONTEXT.nag) !== 'false') {
    // Argus attests NIST 800-53 controls for others: its own stacks pass the rev5 pack too.
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new NIST80053R5Checks(app));
  }
  return { app, data, controlPlane, member };
}
