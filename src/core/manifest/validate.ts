/**
 * Turns one raw parsed document (plain data from YAML or JSON) into typed definitions, following
 * docs/manifests.md. Every problem is collected, never just the first, so one apply shows the user
 * everything to fix. Cross-document checks (does the referenced Requirement exist?) live in
 * references.ts; this module only looks at one document at a time.
 */
import { digestOf } from '../digest.ts';
import { parseDuration } from '../duration.ts';
import type { ManifestIssue } from '../errors.ts';
import {
  API_VERSION,
  DEFINITION_KINDS,
  type AnyDefinition,
  type Attestation,
  type AttestationSpec,
  type ComplianceObjectiveSpec,
  type DefinitionKind,
  type ImplementationPolicy,
  type ImplementationSpec,
  type Labels,
  type ObjectMeta,
  type ProviderSpec,
  type ProviderType,
  type RequirementSpec,
  type ResourceSelector,
  type ResourceSpec,
  type Severity,
  type WaiverSpec,
} from '../model.ts';
import type { AttestationProvider } from '../ports/attestation-provider.ts';
import { didYouMean } from './suggest.ts';

/** What validation needs from the outside world: the attestation providers that exist. */
export interface ManifestOptions {
  readonly providers: ReadonlyMap<string, Pick<AttestationProvider, 'validateParams'>>;
}

/**
 * A definition with where it came from, so later checks (references, duplicates) can point the
 * user at the right file and document.
 */
export interface ParsedDefinition {
  readonly def: AnyDefinition;
  readonly file: string;
  /** 1-based document number within the file. */
  readonly doc: number;
  /** '' when the document is the definition; `spec.attestations[i]` for an expanded inline one. */
  readonly path: string;
}

export interface DocumentValidation {
  /**
   * The document's definitions (an Implementation is followed by its inline Attestations).
   * Only trustworthy when `issues` is empty; given anyway when kind and name are readable so
   * reference checks over other documents do not report a bad document's name as missing.
   */
  readonly definitions: ParsedDefinition[];
  readonly issues: ManifestIssue[];
}

/** The label an expanded inline Attestation carries, naming the Implementation that holds it. */
export const INLINE_OF_LABEL = 'argus.dev/implementation';

/** `[a-z0-9A-Z]` start, then `[A-Za-z0-9._:/-]`, at most 253 characters. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/;
const MAX_NAME = 253;

const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];
const POLICIES: readonly ImplementationPolicy[] = ['all', 'any'];
const PROVIDER_TYPES: readonly ProviderType[] = ['local', 'aws-account', 'agent'];

const TOP_FIELDS = ['apiVersion', 'kind', 'metadata', 'spec'] as const;
const META_FIELDS = ['name', 'labels'] as const;
const SELECTOR_FIELDS = ['ids', 'types', 'classes', 'matchLabels'] as const;
const SPEC_FIELDS: Readonly<Record<DefinitionKind, readonly string[]>> = {
  Requirement: ['title', 'description', 'version', 'frameworks', 'severity', 'appliesTo', 'requiredImplementationClasses', 'parameters'],
  Implementation: ['requirements', 'targets', 'cascade', 'class', 'policy', 'attestations'],
  Attestation: ['provider', 'params', 'resourceTypes', 'freshness', 'timeout'],
  Resource: ['type', 'parent', 'classes', 'provider', 'document', 'digest'],
  Provider: ['type', 'description', 'accountId', 'roleArn', 'externalId', 'heartbeatTimeout'],
  Waiver: ['requirement', 'resources', 'reason', 'approver', 'expires'],
  ComplianceObjective: ['description', 'requirements', 'frameworks', 'resources', 'target', 'window', 'unknownIsCompliant'],
};
const INLINE_ATTESTATION_FIELDS = ['name', ...SPEC_FIELDS.Attestation];

const DEFAULT_FRESHNESS = '24h';
const DEFAULT_TIMEOUT = '10s';
const DEFAULT_HEARTBEAT = '5m';
const DEFAULT_WINDOW = '30d';

type Obj = Readonly<Record<string, unknown>>;

/** Collects issues for one document. */
class Issues {
  readonly list: ManifestIssue[] = [];
  constructor(
    readonly file: string,
    readonly doc: number,
  ) {}
  add(path: string, message: string): void {
    this.list.push({ file: this.file, doc: this.doc, path, message });
  }
}

/** Validates one document; `doc` is its 1-based number in `file`. */
export function validateDocument(raw: unknown, file: string, doc: number, options: ManifestOptions): DocumentValidation {
  const issues = new Issues(file, doc);
  const definitions = readDocument(raw, issues, options).map(({ def, path }) => ({ def, file, doc, path }));
  return { definitions, issues: issues.list };
}

interface Located {
  readonly def: AnyDefinition;
  readonly path: string;
}

/** Returns the definitions (the document's own first) or [] when kind or name are unreadable. */
function readDocument(raw: unknown, issues: Issues, options: ManifestOptions): Located[] {
  if (!isObj(raw)) {
    issues.add('', `expected a mapping with apiVersion, kind, metadata and spec, got ${typeName(raw)}`);
    return [];
  }
  rejectUnknown(raw, '', TOP_FIELDS, issues);

  const apiVersion = get(raw, 'apiVersion');
  if (apiVersion === undefined) issues.add('apiVersion', `required; expected ${JSON.stringify(API_VERSION)}`);
  else if (apiVersion !== API_VERSION) {
    issues.add('apiVersion', `unsupported apiVersion ${describe(apiVersion)}; expected ${JSON.stringify(API_VERSION)}`);
  }

  const kind = readKind(raw, issues);
  const metadata = readMetadata(raw, issues);
  const rawSpec = get(raw, 'spec');
  let spec: Obj = {};
  if (rawSpec === undefined) issues.add('spec', 'required');
  else if (!isObj(rawSpec)) issues.add('spec', `must be a mapping, got ${typeName(rawSpec)}`);
  else spec = rawSpec;
  if (kind === undefined) return [];

  rejectUnknown(spec, 'spec', SPEC_FIELDS[kind], issues);
  const r = new Reader(spec, 'spec', issues);
  // The spec is read even without a usable name, so its issues are reported too.
  const own = (def: AnyDefinition): Located[] => (metadata ? [{ def, path: '' }] : []);
  switch (kind) {
    case 'Requirement':
      return own({ apiVersion: API_VERSION, kind, metadata: metadata ?? NO_META, spec: readRequirement(r) });
    case 'Implementation': {
      const { spec: implSpec, inline } = readImplementation(r, metadata?.name, options);
      return metadata ? [...own({ apiVersion: API_VERSION, kind, metadata, spec: implSpec }), ...inline] : [];
    }
    case 'Attestation':
      return own({ apiVersion: API_VERSION, kind, metadata: metadata ?? NO_META, spec: readAttestation(r, options) });
    case 'Resource':
      return own({ apiVersion: API_VERSION, kind, metadata: metadata ?? NO_META, spec: readResource(r) });
    case 'Provider':
      return own({ apiVersion: API_VERSION, kind, metadata: metadata ?? NO_META, spec: readProvider(r) });
    case 'Waiver':
      return own({ apiVersion: API_VERSION, kind, metadata: metadata ?? NO_META, spec: readWaiver(r) });
    case 'ComplianceObjective':
      return own({ apiVersion: API_VERSION, kind, metadata: metadata ?? NO_META, spec: readObjective(r) });
  }
}

const NO_META: ObjectMeta = { name: '', labels: {} };

function readKind(raw: Obj, issues: Issues): DefinitionKind | undefined {
  const kind = get(raw, 'kind');
  if (kind === undefined) {
    issues.add('kind', `required; one of ${DEFINITION_KINDS.join(', ')}`);
    return undefined;
  }
  if (typeof kind !== 'string') {
    issues.add('kind', `must be a string, got ${typeName(kind)}`);
    return undefined;
  }
  const known = DEFINITION_KINDS.find((k) => k === kind);
  if (known === undefined) {
    const hint = didYouMean(kind, DEFINITION_KINDS) || `; expected one of ${DEFINITION_KINDS.join(', ')}`;
    issues.add('kind', `unknown kind ${JSON.stringify(kind)}${hint}`);
  }
  return known;
}

function readMetadata(raw: Obj, issues: Issues): ObjectMeta | undefined {
  const meta = get(raw, 'metadata');
  if (meta === undefined) {
    issues.add('metadata', 'required; needs at least a name');
    return undefined;
  }
  if (!isObj(meta)) {
    issues.add('metadata', `must be a mapping, got ${typeName(meta)}`);
    return undefined;
  }
  rejectUnknown(meta, 'metadata', META_FIELDS, issues);
  const r = new Reader(meta, 'metadata', issues);
  const name = r.string('name', { required: true });
  const labels = r.stringMap('labels') ?? {};
  if (name === undefined || !checkName(name, 'metadata.name', issues)) return undefined;
  return { name, labels };
}

function checkName(name: string, path: string, issues: Issues): boolean {
  if (name.length > MAX_NAME) {
    issues.add(path, `name is ${name.length} characters; at most ${MAX_NAME} allowed`);
    return false;
  }
  if (!NAME.test(name)) {
    issues.add(path, `invalid name ${JSON.stringify(name)}: must start with a letter or digit, then letters, digits, ".", "_", ":", "/" or "-"`);
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Kinds
// ---------------------------------------------------------------------------------------------

function readRequirement(r: Reader): RequirementSpec {
  const description = r.string('description');
  const parameters = r.freeMap('parameters');
  return {
    title: r.string('title', { required: true }) ?? '',
    ...(description === undefined ? {} : { description }),
    version: r.integer('version', { min: 1 }) ?? 1,
    frameworks: r.stringList('frameworks') ?? [],
    severity: r.oneOf('severity', SEVERITIES) ?? 'medium',
    appliesTo: r.selector('appliesTo') ?? {},
    requiredImplementationClasses: r.stringList('requiredImplementationClasses') ?? [],
    ...(parameters === undefined ? {} : { parameters }),
  };
}

function readImplementation(
  r: Reader,
  implName: string | undefined,
  options: ManifestOptions,
): { spec: ImplementationSpec; inline: Located[] } {
  const requirements = r.stringList('requirements', { required: true, unique: true }) ?? [];
  const targets = r.selector('targets', { required: true }) ?? {};
  const cascade = r.boolean('cascade') ?? true;
  const cls = r.string('class');
  const policy = r.oneOf('policy', POLICIES) ?? 'all';

  const names: string[] = [];
  const inline: Located[] = [];
  const entries = r.list('attestations', { required: true }) ?? [];
  const seen = new Set<string>();
  entries.forEach((entry, i) => {
    const path = `spec.attestations[${i}]`;
    let name: string | undefined;
    if (typeof entry === 'string') {
      if (entry === '') r.issues.add(path, 'must not be empty');
      else name = entry;
    } else if (isObj(entry)) {
      const att = readInlineAttestation(entry, path, i, implName, r.issues, options);
      if (att) {
        inline.push({ def: att, path });
        name = att.metadata.name;
      }
    } else {
      r.issues.add(path, `must be an Attestation name or an inline attestation, got ${typeName(entry)}`);
    }
    if (name === undefined) return;
    if (seen.has(name)) r.issues.add(path, `duplicate attestation ${JSON.stringify(name)}`);
    seen.add(name);
    names.push(name);
  });

  const spec: ImplementationSpec = {
    requirements,
    targets,
    cascade,
    ...(cls === undefined ? {} : { class: cls }),
    attestations: names,
    policy,
  };
  return { spec, inline };
}

/** Expands an inline attestation into Attestation `<impl>.<name or index>`. */
function readInlineAttestation(
  entry: Obj,
  path: string,
  index: number,
  implName: string | undefined,
  issues: Issues,
  options: ManifestOptions,
): Attestation | undefined {
  rejectUnknown(entry, path, INLINE_ATTESTATION_FIELDS, issues);
  const r = new Reader(entry, path, issues);
  const local = r.string('name');
  const localOk = local === undefined || checkName(local, `${path}.name`, issues);
  const spec = readAttestation(r, options);
  if (implName === undefined || !localOk) return undefined;
  const name = `${implName}.${local ?? index}`;
  if (!checkName(name, local === undefined ? path : `${path}.name`, issues)) return undefined;
  return {
    apiVersion: API_VERSION,
    kind: 'Attestation',
    metadata: { name, labels: { [INLINE_OF_LABEL]: implName } },
    spec,
  };
}

function readAttestation(r: Reader, options: ManifestOptions): AttestationSpec {
  const provider = r.string('provider', { required: true });
  const params = r.freeMap('params') ?? {};
  if (provider !== undefined) checkProvider(provider, params, r, options);
  return {
    provider: provider ?? '',
    params,
    resourceTypes: r.stringList('resourceTypes') ?? [],
    freshnessMs: r.duration('freshness', DEFAULT_FRESHNESS),
    timeoutMs: r.duration('timeout', DEFAULT_TIMEOUT),
  };
}

function checkProvider(name: string, params: Obj, r: Reader, options: ManifestOptions): void {
  const provider = options.providers.get(name);
  const path = r.at('provider');
  if (provider === undefined) {
    const names = [...options.providers.keys()];
    const hint = didYouMean(name, names) || (names.length === 0 ? ' (no providers registered)' : `; registered: ${names.join(', ')}`);
    r.issues.add(path, `unknown provider ${JSON.stringify(name)}${hint}`);
    return;
  }
  const paramsPath = r.at('params');
  let problems: Array<[string, string]>;
  try {
    problems = provider.validateParams(params);
  } catch (err) {
    // A provider bug must not escape as anything but a validation issue.
    r.issues.add(paramsPath, `provider ${JSON.stringify(name)} could not check params: ${err instanceof Error ? err.message : String(err)}`);
    return;
  }
  for (const [sub, message] of problems) {
    const full = sub === '' ? paramsPath : sub.startsWith('[') ? `${paramsPath}${sub}` : `${paramsPath}.${sub}`;
    r.issues.add(full, message);
  }
}

function readResource(r: Reader): ResourceSpec {
  const parent = r.string('parent');
  const provider = r.string('provider');
  const rawDocument = get(r.obj, 'document');
  const document = rawDocument === undefined || rawDocument === null ? {} : rawDocument;
  checkPlainData(document, r.at('document'), r.issues);
  const digest = r.pattern('digest', /^sha256:[0-9a-f]{64}$/, 'sha256:<64 lowercase hex digits>');
  return {
    type: r.string('type', { required: true }) ?? '',
    ...(parent === undefined ? {} : { parent }),
    classes: r.stringList('classes') ?? [],
    ...(provider === undefined ? {} : { provider }),
    document,
    digest: digest ?? digestOf(document),
  };
}

/** Which provider type each type-specific field belongs to. */
const PROVIDER_FIELD_TYPE: Readonly<Record<string, ProviderType>> = {
  accountId: 'aws-account',
  roleArn: 'aws-account',
  externalId: 'aws-account',
  heartbeatTimeout: 'agent',
};

function readProvider(r: Reader): ProviderSpec {
  const validType = r.oneOf('type', PROVIDER_TYPES, { required: true });
  const type = validType ?? 'local';
  for (const [field, owner] of Object.entries(PROVIDER_FIELD_TYPE)) {
    if (get(r.obj, field) !== undefined && validType !== undefined && validType !== owner) {
      r.issues.add(r.at(field), `only applies to type ${JSON.stringify(owner)}`);
    }
  }
  const description = r.string('description');
  const accountId = r.pattern('accountId', /^\d{12}$/, 'a 12-digit AWS account id in quotes');
  const roleArn = r.pattern('roleArn', /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, 'an IAM role ARN (arn:aws:iam::<account>:role/<name>)');
  if (accountId !== undefined && roleArn !== undefined && roleArn.split(':')[4] !== accountId) {
    r.issues.add(r.at('roleArn'), `role is in account ${roleArn.split(':')[4] ?? ''}, not ${accountId}`);
  }
  const externalId = r.string('externalId');
  const heartbeatGiven = get(r.obj, 'heartbeatTimeout') !== undefined;
  const heartbeatTimeoutMs = heartbeatGiven || type === 'agent' ? r.duration('heartbeatTimeout', DEFAULT_HEARTBEAT) : undefined;
  return {
    type,
    ...(description === undefined ? {} : { description }),
    ...(accountId === undefined ? {} : { accountId }),
    ...(roleArn === undefined ? {} : { roleArn }),
    ...(externalId === undefined ? {} : { externalId }),
    ...(heartbeatTimeoutMs === undefined ? {} : { heartbeatTimeoutMs }),
  };
}

function readWaiver(r: Reader): WaiverSpec {
  return {
    requirement: r.string('requirement', { required: true }) ?? '',
    resources: r.selector('resources', { required: true }) ?? {},
    reason: r.string('reason', { required: true }) ?? '',
    approver: r.string('approver', { required: true }) ?? '',
    expiresAt: r.timestamp('expires', { required: true }) ?? 0,
  };
}

function readObjective(r: Reader): ComplianceObjectiveSpec {
  const description = r.string('description');
  const target = r.number('target', { required: true });
  if (target !== undefined && !(target > 0 && target <= 1)) r.issues.add(r.at('target'), `must be > 0 and <= 1 (e.g. 0.99), got ${target}`);
  return {
    ...(description === undefined ? {} : { description }),
    requirements: r.stringList('requirements', { unique: true }) ?? [],
    frameworks: r.stringList('frameworks') ?? [],
    resources: r.selector('resources') ?? {},
    target: target ?? 1,
    windowMs: r.duration('window', DEFAULT_WINDOW),
    unknownIsCompliant: r.boolean('unknownIsCompliant') ?? false,
  };
}

// ---------------------------------------------------------------------------------------------
// Field readers: each returns undefined when the field is absent (null counts as absent) or bad,
// reporting bad values as issues.
// ---------------------------------------------------------------------------------------------

interface FieldOptions {
  readonly required?: boolean;
}

class Reader {
  constructor(
    readonly obj: Obj,
    readonly base: string,
    readonly issues: Issues,
  ) {}

  at(key: string): string {
    return joinPath(this.base, key);
  }

  /** The raw value, or undefined (after reporting `required`) when absent. */
  private value(key: string, opts: FieldOptions): unknown {
    const v = get(this.obj, key);
    if ((v === undefined || v === null) && opts.required) this.issues.add(this.at(key), 'required');
    return v === null ? undefined : v;
  }

  private wrongType(key: string, expected: string, v: unknown): undefined {
    this.issues.add(this.at(key), `must be ${expected}, got ${typeName(v)}`);
    return undefined;
  }

  string(key: string, opts: FieldOptions = {}): string | undefined {
    const v = this.value(key, opts);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') return this.wrongType(key, 'a string', v);
    if (v === '' && opts.required) {
      this.issues.add(this.at(key), 'must not be empty');
      return undefined;
    }
    return v;
  }

  pattern(key: string, re: RegExp, what: string): string | undefined {
    const v = this.value(key, {});
    if (v === undefined) return undefined;
    if (typeof v !== 'string') return this.wrongType(key, what, v);
    if (!re.test(v)) {
      this.issues.add(this.at(key), `must be ${what}, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }

  boolean(key: string): boolean | undefined {
    const v = this.value(key, {});
    if (v === undefined) return undefined;
    return typeof v === 'boolean' ? v : this.wrongType(key, 'true or false', v);
  }

  number(key: string, opts: FieldOptions = {}): number | undefined {
    const v = this.value(key, opts);
    if (v === undefined) return undefined;
    return typeof v === 'number' && Number.isFinite(v) ? v : this.wrongType(key, 'a finite number', v);
  }

  integer(key: string, opts: FieldOptions & { min: number }): number | undefined {
    const v = this.value(key, opts);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) return this.wrongType(key, 'a whole number', v);
    if (v < opts.min) {
      this.issues.add(this.at(key), `must be >= ${opts.min}, got ${v}`);
      return undefined;
    }
    return v;
  }

  oneOf<T extends string>(key: string, values: readonly T[], opts: FieldOptions = {}): T | undefined {
    const v = this.value(key, opts);
    if (v === undefined) return undefined;
    const found = values.find((x) => x === v);
    if (found !== undefined) return found;
    const got = typeof v === 'string' ? JSON.stringify(v) : typeName(v);
    const hint = typeof v === 'string' ? didYouMean(v, values) : '';
    this.issues.add(this.at(key), `must be one of ${values.join(', ')}, got ${got}${hint}`);
    return undefined;
  }

  list(key: string, opts: FieldOptions = {}): readonly unknown[] | undefined {
    const v = this.value(key, opts);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) return this.wrongType(key, 'a list', v);
    if (v.length === 0 && opts.required) this.issues.add(this.at(key), 'must list at least one entry');
    return v;
  }

  /** A list of non-empty strings; bad entries are reported and dropped. */
  stringList(key: string, opts: FieldOptions & { unique?: boolean } = {}): string[] | undefined {
    const items = this.list(key, opts);
    if (items === undefined) return undefined;
    const out: string[] = [];
    items.forEach((item, i) => {
      const path = `${this.at(key)}[${i}]`;
      if (typeof item !== 'string') this.issues.add(path, `must be a string, got ${typeName(item)}`);
      else if (item === '') this.issues.add(path, 'must not be empty');
      else if (opts.unique && out.includes(item)) this.issues.add(path, `duplicate ${JSON.stringify(item)}`);
      else out.push(item);
    });
    return out;
  }

  stringMap(key: string): Labels | undefined {
    const v = this.value(key, {});
    if (v === undefined) return undefined;
    if (!isObj(v)) return this.wrongType(key, 'a mapping of strings', v);
    const entries: Array<[string, string]> = [];
    for (const [k, item] of Object.entries(v)) {
      if (k === '') this.issues.add(this.at(key), 'keys must not be empty');
      else if (typeof item !== 'string') this.issues.add(joinPath(this.at(key), k), `must be a string, got ${typeName(item)}; quote it`);
      else entries.push([k, item]);
    }
    // fromEntries defines own properties, so a "__proto__" key stays a plain key.
    return Object.fromEntries(entries);
  }

  /** A free-form mapping kept as given (provider params, OSCAL parameters). */
  freeMap(key: string): Obj | undefined {
    const v = this.value(key, {});
    if (v === undefined) return undefined;
    if (!isObj(v)) return this.wrongType(key, 'a mapping', v);
    checkPlainData(v, this.at(key), this.issues);
    return v;
  }

  selector(key: string, opts: FieldOptions = {}): ResourceSelector | undefined {
    const v = this.value(key, opts);
    if (v === undefined) return undefined;
    if (!isObj(v)) return this.wrongType(key, 'a selector mapping (ids, types, classes, matchLabels)', v);
    rejectUnknown(v, this.at(key), SELECTOR_FIELDS, this.issues);
    const r = new Reader(v, this.at(key), this.issues);
    const ids = r.stringList('ids');
    const types = r.stringList('types');
    const classes = r.stringList('classes');
    const matchLabels = r.stringMap('matchLabels');
    return {
      ...(ids === undefined ? {} : { ids }),
      ...(types === undefined ? {} : { types }),
      ...(classes === undefined ? {} : { classes }),
      ...(matchLabels === undefined ? {} : { matchLabels }),
    };
  }

  /** A positive duration in ms; the default applies when absent or bad (the issue is recorded). */
  duration(key: string, fallback: string): number {
    const v = this.value(key, {});
    const fallbackMs = parseDuration(fallback);
    if (v === undefined) return fallbackMs;
    if (typeof v !== 'string') {
      this.issues.add(this.at(key), `must be a duration string like ${fallback}, got ${typeName(v)}`);
      return fallbackMs;
    }
    try {
      const ms = parseDuration(v);
      if (ms > 0) return ms;
      this.issues.add(this.at(key), `must be longer than 0, got ${JSON.stringify(v)}`);
    } catch (err) {
      this.issues.add(this.at(key), err instanceof Error ? err.message : String(err));
    }
    return fallbackMs;
  }

  timestamp(key: string, opts: FieldOptions = {}): number | undefined {
    const v = this.value(key, opts);
    if (v === undefined) return undefined;
    // A `%YAML 1.1` document turns timestamps into Dates.
    if (v instanceof Date && Number.isFinite(v.getTime())) return v.getTime();
    if (typeof v !== 'string') return this.wrongType(key, 'an ISO 8601 timestamp like 2027-03-31T00:00:00Z', v);
    const ms = parseIsoTimestamp(v);
    if (ms === undefined) {
      this.issues.add(this.at(key), `invalid timestamp ${JSON.stringify(v)}: expected ISO 8601 with a time zone, like 2027-03-31T00:00:00Z`);
    }
    return ms;
  }
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|z|[+-]\d{2}(?::?\d{2})?))?$/;

/** ISO 8601 date or date-time; a time needs a zone so the instant never depends on the host. */
export function parseIsoTimestamp(text: string): number | undefined {
  const m = ISO.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = 'Z'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  let offsetMin = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const digits = zone.slice(1).replace(':', '');
    const zh = Number(digits.slice(0, 2));
    const zm = Number(digits.slice(2) || '0');
    if (zh > 23 || zm > 59) return undefined;
    offsetMin = (zone.startsWith('-') ? -1 : 1) * (zh * 60 + zm);
  }
  const ms = Number(frac.padEnd(3, '0').slice(0, 3));
  const utc = new Date(0);
  // setUTCFullYear keeps years 0-99 literal (Date.UTC would map them to 1900-1999).
  utc.setUTCFullYear(year, month - 1, day);
  utc.setUTCHours(Number(h), Number(mi), Number(s), ms);
  const result = utc.getTime() - offsetMin * 60_000;
  return Number.isFinite(result) ? result : undefined;
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/** A plain mapping (not an array, Date, Map or other class instance). */
function isObj(v: unknown): v is Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Own properties only, so `constructor` or `toString` never read through the prototype. */
function get(obj: Obj, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

function joinPath(base: string, key: string): string {
  const part = /^[A-Za-z_$][\w$-]*$/.test(key) ? key : `[${JSON.stringify(key)}]`;
  if (base === '') return part;
  return part.startsWith('[') ? `${base}${part}` : `${base}.${part}`;
}

function rejectUnknown(obj: Obj, base: string, allowed: readonly string[], issues: Issues): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) issues.add(joinPath(base, key), `unknown field${didYouMean(key, allowed)}`);
  }
}

/** Stored definitions are JSON, so free-form values must be plain JSON data. */
function checkPlainData(value: unknown, path: string, issues: Issues): void {
  const stack: Array<[unknown, string]> = [[value, path]];
  const seen = new Set<object>();
  while (stack.length > 0) {
    const [v, p] = stack.pop() ?? [null, path];
    if (v === null || typeof v === 'string' || typeof v === 'boolean') continue;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) issues.add(p, `must be a finite number, got ${v}`);
      continue;
    }
    if (typeof v !== 'object') {
      issues.add(p, `must be plain data, got ${typeName(v)}`);
      continue;
    }
    if (seen.has(v)) {
      issues.add(p, 'must not refer to itself');
      continue;
    }
    seen.add(v);
    if (Array.isArray(v)) v.forEach((item: unknown, i) => stack.push([item, `${p}[${i}]`]));
    else if (isObj(v)) for (const [k, item] of Object.entries(v)) stack.push([item, joinPath(p, k)]);
    else issues.add(p, `must be plain data, got ${typeName(v)}`);
  }
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (isObj(v)) return 'a mapping';
  if (typeof v === 'object') return v.constructor?.name ?? 'an object';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  return typeof v;
}

function describe(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : typeName(v);
}
