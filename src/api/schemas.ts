/**
 * One description per definition kind: its spec fields, their types, defaults and whether they are
 * required. The manifest validator (src/core/manifest/validate.ts) is hand-written for its
 * messages (did-you-mean, nearest valid value), so this table is the schema the API publishes:
 * the OpenAPI document is generated from it and the request check reads it (which kinds a route
 * takes, read-only fields). test/unit/api-schemas.test.ts proves the table and the validator
 * agree field by field, so what /openapi.json says is what a request is checked against.
 */
import { API_VERSION, DEFINITION_KINDS, type DefinitionKind } from '../core/model.ts';

export type FieldSchema =
  | { readonly type: 'string'; readonly pattern?: string; readonly format?: string }
  | { readonly type: 'integer'; readonly minimum: number }
  | { readonly type: 'number'; readonly exclusiveMinimum?: number; readonly maximum?: number }
  | { readonly type: 'boolean' }
  | { readonly type: 'enum'; readonly values: readonly string[] }
  | { readonly type: 'stringList'; readonly unique?: boolean; readonly minItems?: number }
  | { readonly type: 'stringMap' }
  | { readonly type: 'freeMap' }
  | { readonly type: 'document' }
  | { readonly type: 'selector' }
  | { readonly type: 'duration' }
  | { readonly type: 'timestamp' }
  | { readonly type: 'attestationRefs' };

export type Field = FieldSchema & {
  readonly description: string;
  readonly required?: boolean;
  readonly default?: string | number | boolean | readonly string[] | Readonly<Record<string, never>>;
};

export interface KindSchema {
  /** Path segment of the kind's collection, e.g. `requirements`. */
  readonly plural: string;
  readonly description: string;
  readonly spec: Readonly<Record<string, Field>>;
}

/** Fields a response adds and a request may send back; they are dropped before validation. */
export const READ_ONLY_FIELDS = ['status'] as const;

export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:/-]*$';
export const NAME_MAX_LENGTH = 253;

const durationOf = (description: string, def?: string): Field => ({ type: 'duration', description, ...(def ? { default: def } : {}) });

export const KIND_SCHEMAS: Readonly<Record<DefinitionKind, KindSchema>> = {
  Requirement: {
    plural: 'requirements',
    description: 'A control to meet, with framework references, severity, the resources it applies to and a version.',
    spec: {
      title: { type: 'string', required: true, description: 'Short title.' },
      description: { type: 'string', description: 'Longer text.' },
      version: { type: 'integer', minimum: 1, default: 1, description: 'A new version invalidates every result recorded under an older one.' },
      frameworks: { type: 'stringList', default: [], description: 'Framework references `framework:control`, e.g. `nist-800-53:SC-28`.' },
      severity: { type: 'enum', values: ['low', 'medium', 'high', 'critical'], default: 'medium', description: 'Severity.' },
      appliesTo: { type: 'selector', default: {}, description: 'Resources the requirement applies to (empty: all).' },
      requiredImplementationClasses: { type: 'stringList', default: [], description: 'Every class listed must be covered by a valid implementation of that class.' },
      parameters: { type: 'freeMap', description: 'Control parameters kept from the catalog (informational).' },
    },
  },
  Implementation: {
    plural: 'implementations',
    description: 'How requirements are met on target resources, proven by attestations.',
    spec: {
      requirements: { type: 'stringList', unique: true, minItems: 1, required: true, description: 'Names of the Requirements it implements.' },
      targets: { type: 'selector', required: true, description: 'Target resources.' },
      cascade: { type: 'boolean', default: true, description: 'Applies to every descendant of a target too.' },
      class: { type: 'string', description: 'Implementation class, e.g. PreventativeControl.' },
      policy: { type: 'enum', values: ['all', 'any'], default: 'all', description: 'How its attestation results combine on a resource.' },
      attestations: { type: 'attestationRefs', required: true, description: 'Attestation names, or inline attestations (stored as `<implementation>.<name>`).' },
    },
  },
  Attestation: {
    plural: 'attestations',
    description: 'One automated check run by a provider.',
    spec: {
      provider: { type: 'string', required: true, description: 'A registered provider name (`cel`, `http`).' },
      params: { type: 'freeMap', default: {}, description: 'Provider specific, checked when applied.' },
      resourceTypes: { type: 'stringList', default: [], description: 'Resource types it can check (empty: any; trailing `*` is a prefix match).' },
      freshness: durationOf('How long a result stays valid.', '24h'),
      timeout: durationOf('How long one run may take.', '10s'),
    },
  },
  Resource: {
    plural: 'resources',
    description: 'Anything that can be attested.',
    spec: {
      type: { type: 'string', required: true, description: 'Resource type, e.g. AWS::S3::Bucket.' },
      parent: { type: 'string', description: 'Name of the parent Resource.' },
      classes: { type: 'stringList', default: [], description: 'Resource classes.' },
      provider: { type: 'string', description: 'Name of the Provider that observed it.' },
      document: { type: 'document', default: {}, description: 'Configuration document the attestations look at.' },
      digest: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$', description: 'Digest of the document; computed when absent.' },
    },
  },
  Provider: {
    plural: 'providers',
    description: 'Where resources live and who runs attestations there.',
    spec: {
      type: { type: 'enum', values: ['local', 'aws-account', 'agent'], required: true, description: 'Provider type.' },
      description: { type: 'string', description: 'Free text.' },
      accountId: { type: 'string', pattern: '^\\d{12}$', description: 'aws-account: the 12-digit account id (a string).' },
      roleArn: { type: 'string', pattern: '^arn:aws[a-z-]*:iam::\\d{12}:role\\/[\\w+=,.@/-]+$', description: 'aws-account: the role Argus assumes.' },
      externalId: { type: 'string', description: 'aws-account: external id for the role.' },
      heartbeatTimeout: durationOf('agent: how long an agent may be silent (default 5m).'),
    },
  },
  Waiver: {
    plural: 'waivers',
    description: 'An approved exception for a requirement on some resources, until it expires.',
    spec: {
      requirement: { type: 'string', required: true, description: 'Name of the waived Requirement.' },
      resources: { type: 'selector', required: true, description: 'Resources the waiver covers.' },
      reason: { type: 'string', required: true, description: 'Why.' },
      approver: { type: 'string', required: true, description: 'Who approved it.' },
      expires: { type: 'timestamp', required: true, description: 'ISO 8601 instant after which the waiver no longer counts.' },
    },
  },
  ComplianceObjective: {
    plural: 'compliance-objectives',
    description: 'A compliance SLO: selected pairs, target ratio and window.',
    spec: {
      description: { type: 'string', description: 'Free text.' },
      requirements: { type: 'stringList', unique: true, default: [], description: 'Requirement names (empty: all).' },
      frameworks: { type: 'stringList', default: [], description: 'Framework prefixes (empty: all).' },
      resources: { type: 'selector', default: {}, description: 'Resources (empty: all).' },
      target: { type: 'number', exclusiveMinimum: 0, maximum: 1, required: true, description: 'Target ratio, e.g. 0.99.' },
      window: durationOf('SLO window.', '30d'),
      unknownIsCompliant: { type: 'boolean', default: false, description: 'Count Unknown pairs as compliant.' },
    },
  },
};

export function kindOfPlural(plural: string): DefinitionKind | undefined {
  return DEFINITION_KINDS.find((k) => KIND_SCHEMAS[k].plural === plural);
}

/** A JSON Schema (draft 2020-12 subset that OpenAPI 3.1 shares). */
export type JsonSchema = { readonly [key: string]: unknown };

const SELECTOR_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'Every given field must match; an empty selector matches every resource.',
  properties: {
    ids: { type: 'array', items: { type: 'string', minLength: 1 } },
    types: { type: 'array', items: { type: 'string', minLength: 1 } },
    classes: { type: 'array', items: { type: 'string', minLength: 1 } },
    matchLabels: { type: 'object', additionalProperties: { type: 'string' } },
  },
};

const DURATION_SCHEMA: JsonSchema = { type: 'string', pattern: '^\\s*[0-9]*[1-9][0-9]*(ms|s|m|h|d)\\s*$', description: 'A whole number and one unit: ms, s, m, h, d (e.g. 90s, 24h).' };

function fieldSchema(field: Field, inline: boolean): JsonSchema {
  // null counts as absent in manifests, so every optional field also accepts null.
  const base = ((): JsonSchema => {
    switch (field.type) {
      case 'string':
        return { type: 'string', ...(field.required ? { minLength: 1 } : {}), ...(field.pattern ? { pattern: field.pattern } : {}) };
      case 'integer':
        return { type: 'integer', minimum: field.minimum };
      case 'number':
        return { type: 'number', ...(field.exclusiveMinimum === undefined ? {} : { exclusiveMinimum: field.exclusiveMinimum }), ...(field.maximum === undefined ? {} : { maximum: field.maximum }) };
      case 'boolean':
        return { type: 'boolean' };
      case 'enum':
        return { type: 'string', enum: [...field.values] };
      case 'stringList':
        return { type: 'array', items: { type: 'string', minLength: 1 }, ...(field.unique ? { uniqueItems: true } : {}), ...(field.minItems ? { minItems: field.minItems } : {}) };
      case 'stringMap':
        return { type: 'object', additionalProperties: { type: 'string' } };
      case 'freeMap':
        return { type: 'object' };
      case 'document':
        return {};
      case 'selector':
        return { $ref: '#/components/schemas/ResourceSelector' };
      case 'duration':
        return { $ref: '#/components/schemas/Duration' };
      case 'timestamp':
        return { type: 'string', description: 'ISO 8601 date, or date-time with a zone.' };
      case 'attestationRefs':
        return inline
          ? { type: 'array', minItems: 1, items: { anyOf: [{ type: 'string', minLength: 1 }, { $ref: '#/components/schemas/InlineAttestation' }] } }
          : { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } };
    }
  })();
  const withDoc: JsonSchema = { ...base, description: field.description, ...(field.default === undefined ? {} : { default: field.default }) };
  if (field.required || field.type === 'document') return withDoc;
  return { anyOf: [withDoc, { type: 'null' }] };
}

/** The JSON Schema of one kind's spec. */
export function specSchema(kind: DefinitionKind): JsonSchema {
  const { spec } = KIND_SCHEMAS[kind];
  return {
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(Object.entries(spec).map(([name, field]) => [name, fieldSchema(field, true)])),
    required: Object.entries(spec).filter(([, f]) => f.required).map(([name]) => name),
  };
}

/** The JSON Schema of one kind's manifest (what POST and PUT take; `status` is read-only). */
export function manifestSchema(kind: DefinitionKind): JsonSchema {
  return {
    type: 'object',
    additionalProperties: false,
    description: KIND_SCHEMAS[kind].description,
    required: ['metadata', 'spec'],
    properties: {
      apiVersion: { type: 'string', const: API_VERSION, description: 'Defaults to the current version when absent.' },
      kind: { type: 'string', const: kind, description: 'Defaults to the collection\'s kind when absent.' },
      metadata: { $ref: '#/components/schemas/ObjectMeta' },
      spec: specSchema(kind),
      status: { $ref: '#/components/schemas/DefinitionStatus' },
    },
  };
}

/** Shared component schemas the kind schemas refer to. */
export function sharedSchemas(): Record<string, JsonSchema> {
  const attestation = KIND_SCHEMAS.Attestation.spec;
  return {
    ResourceSelector: SELECTOR_SCHEMA,
    Duration: DURATION_SCHEMA,
    ObjectMeta: {
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      properties: {
        name: { type: 'string', pattern: NAME_PATTERN, maxLength: NAME_MAX_LENGTH },
        labels: { anyOf: [{ type: 'object', additionalProperties: { type: 'string' } }, { type: 'null' }] },
      },
    },
    InlineAttestation: {
      type: 'object',
      additionalProperties: false,
      required: Object.entries(attestation).filter(([, f]) => f.required).map(([n]) => n),
      properties: {
        name: { type: 'string', pattern: NAME_PATTERN, description: 'Local name; the stored Attestation is `<implementation>.<name>` (default: the index).' },
        ...Object.fromEntries(Object.entries(attestation).map(([n, f]) => [n, fieldSchema(f, false)])),
      },
    },
    DefinitionStatus: {
      type: 'object',
      readOnly: true,
      description: 'Set by the server; ignored in requests.',
      properties: { version: { type: 'integer', description: 'Store version; the ETag is this number in quotes.' } },
    },
  };
}
