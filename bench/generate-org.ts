import { digestOf } from '../src/core/digest.ts';
import { API_VERSION, type AnyDefinition, type Attestation, type Resource } from '../src/core/model.ts';

export interface OrgShape {
  /** Leaf resources (the attested ones). */
  readonly resources: number;
  /** Requirements; each applies to its own resource type, so each holds 1/M of the pairs. */
  readonly requirements: number;
  /** Attestations per requirement. */
  readonly attestationsPerRequirement: number;
  readonly accounts: number;
  readonly servicesPerAccount: number;
  /** Fraction of leaf resources that fail each rule (deterministic). */
  readonly failureRate: number;
}

export const DEFAULT_SHAPE: OrgShape = {
  resources: 10_000,
  requirements: 100,
  attestationsPerRequirement: 10,
  accounts: 10,
  servicesPerAccount: 10,
  failureRate: 0.1,
};

const meta = (name: string, labels: Record<string, string> = {}) => ({ name, labels });

function resource(name: string, type: string, parent: string | undefined, document: unknown, labels: Record<string, string> = {}): Resource {
  return { apiVersion: API_VERSION, kind: 'Resource', metadata: meta(name, labels), spec: { type, parent, classes: [], document, digest: digestOf(document) } };
}

/** CEL rules of the shapes real catalogs use: field presence, comparisons, list quantifiers. */
function rule(i: number, k: number): string {
  switch (k % 5) {
    case 0: return `has(resource.encryption) && resource.encryption.enabled == true`;
    case 1: return `resource.retentionDays >= ${30 + (i % 5)}`;
    case 2: return `resource.tags.exists(t, t.key == "owner")`;
    case 3: return `!(resource.policy.actions.exists(a, a == "*"))`;
    default: return `resource.tls in ["TLSv1.2", "TLSv1.3"] && resource.public == false`;
  }
}

/**
 * A synthetic organisation: org → accounts → services → leaf resources (depth 4), M requirements
 * each on its own resource type with K CEL attestations, each implemented once at the org root
 * (so it cascades to every resource).
 */
export function generateOrganisation(shape: OrgShape = DEFAULT_SHAPE): { definitions: AnyDefinition[]; pairs: number } {
  const defs: AnyDefinition[] = [];
  defs.push(resource('org', 'Org', undefined, { id: 'o-1' }));
  const services: string[] = [];
  for (let a = 0; a < shape.accounts; a++) {
    const account = `org/acct-${a}`;
    defs.push(resource(account, 'AWS::Account', 'org', { id: String(100000000000 + a) }));
    for (let s = 0; s < shape.servicesPerAccount; s++) {
      const service = `${account}/svc-${s}`;
      services.push(service);
      defs.push(resource(service, 'Service', account, { name: `svc-${s}` }));
    }
  }
  const failEvery = shape.failureRate > 0 ? Math.round(1 / shape.failureRate) : Number.POSITIVE_INFINITY;
  for (let i = 0; i < shape.resources; i++) {
    // Resource i has type i mod M: counting within its type, every rule fails on 1 in `failEvery`
    // of its resources, spread among those that pass (not on every resource of some types).
    const fails = Math.floor(i / shape.requirements) % failEvery === 0;
    const document = {
      encryption: { enabled: !fails, kmsKeyId: `key-${i % 97}` },
      retentionDays: fails ? 7 : 365,
      tags: [{ key: fails ? 'team' : 'owner', value: `team-${i % 13}` }, { key: 'env', value: i % 2 === 0 ? 'prod' : 'dev' }],
      policy: { actions: fails ? ['*'] : ['s3:GetObject', 's3:PutObject'] },
      tls: fails ? 'TLSv1.0' : 'TLSv1.2',
      public: false,
      size: i,
    };
    const service = services[i % services.length] as string;
    defs.push(resource(`${service}/r-${i}`, `Synthetic::Type${i % shape.requirements}`, service, document, { env: i % 2 === 0 ? 'prod' : 'dev' }));
  }
  for (let q = 0; q < shape.requirements; q++) {
    const type = `Synthetic::Type${q}`;
    const attestations: string[] = [];
    for (let k = 0; k < shape.attestationsPerRequirement; k++) {
      const name = `req-${q}.rule-${k}`;
      attestations.push(name);
      const att: Attestation = {
        apiVersion: API_VERSION,
        kind: 'Attestation',
        metadata: meta(name),
        spec: { provider: 'cel', params: { expression: rule(q, k), message: `rule ${k} of requirement ${q} failed` }, resourceTypes: [type], freshnessMs: 86_400_000, timeoutMs: 10_000 },
      };
      defs.push(att);
    }
    defs.push({
      apiVersion: API_VERSION,
      kind: 'Requirement',
      metadata: meta(`req-${q}`),
      spec: { title: `Synthetic requirement ${q}`, version: 1, frameworks: [`synthetic:${q}`], severity: 'medium', appliesTo: { types: [type] }, requiredImplementationClasses: [] },
    });
    defs.push({
      apiVersion: API_VERSION,
      kind: 'Implementation',
      metadata: meta(`impl-${q}`),
      spec: { requirements: [`req-${q}`], targets: { ids: ['org'] }, cascade: true, attestations, policy: 'all' },
    });
  }
  return { definitions: defs, pairs: shape.resources * shape.attestationsPerRequirement };
}
