/**
 * Definition CRUD for the API: every write validated like a manifest (validateDocument, then
 * references against what is stored), then committed in one transaction whose conditions carry
 * the version the client named (If-Match) or the version just read. Nothing is half-written:
 * an Implementation and its inline Attestations go in together, a Resource and its results go
 * out together.
 */
import { canonicalJson } from '../core/digest.ts';
import { NotFoundError, ValidationError, type ManifestIssue } from '../core/errors.ts';
import { checkedKey, definitionKey, resultsKey } from '../core/keys.ts';
import { checkReferences, indexDefinitions } from '../core/manifest/references.ts';
import { parseCloudFormationYaml } from '../sources/cfn-yaml.ts';
import { collectManifests, toManifest, type Manifest } from '../core/manifest/parse.ts';
import { INLINE_OF_LABEL, validateDocument, type ParsedDefinition } from '../core/manifest/validate.ts';
import { API_VERSION, type AnyDefinition, type DefinitionKind } from '../core/model.ts';
import type { StoredItem, WriteOp } from '../core/ports/store.ts';
import type { DefinitionIndex } from '../core/compliance/definition-index.ts';
import { applyDefinitions, type ApplyOutcome, type DefinitionRef } from '../core/use-cases/apply-definitions.ts';
import { loadEngine } from '../core/use-cases/load-engine.ts';
import { previewApply, type ApplyPreview } from '../core/use-cases/preview-apply.ts';
import { STACK_LABEL, STACK_NAME_METADATA, STACK_TYPE, templateToResources } from '../sources/cloudformation.ts';
import type { ApiContext } from './context.ts';
import { APPLY_FILE, BadRequestError, InUseError, PreconditionFailedError, REQUEST_FILE } from './errors.ts';
import { KIND_SCHEMAS, READ_ONLY_FIELDS } from './schemas.ts';

/** A definition as the API returns it: the manifest plus a read-only status. */
export type DefinitionBody = Manifest & { readonly status: { readonly version: number } };

export interface VersionedDefinition {
  readonly body: DefinitionBody;
  readonly version: number;
}

/** A parsed If-Match header: `*` (must exist) or a list of versions. */
export type IfMatch = { readonly any: true } | { readonly any: false; readonly versions: readonly number[]; readonly raw: string };

export function etagOf(version: number): string {
  return `"${version}"`;
}

/** Parses `If-Match: "3"`, `W/"3"`, `"3", "4"` or `*`; entries that are no version never match. */
export function parseIfMatch(header: string | undefined): IfMatch | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  if (header.trim() === '*') return { any: true };
  const versions: number[] = [];
  for (const part of header.split(',')) {
    const m = /^\s*(?:W\/)?"(\d{1,15})"\s*$/.exec(part);
    if (m) versions.push(Number(m[1]));
  }
  return { any: false, versions, raw: header.trim() };
}

function bodyOf(item: StoredItem<AnyDefinition>): DefinitionBody {
  return { ...toManifest(item.data), status: { version: item.version } };
}

export async function getDefinition(ctx: ApiContext, kind: DefinitionKind, name: string): Promise<VersionedDefinition> {
  const { pk, sk } = definitionKey(kind, name);
  const item = await ctx.store.get<AnyDefinition>(pk, sk);
  if (!item) throw new NotFoundError(kind, name);
  return { body: bodyOf(item), version: item.version };
}

export interface Page<T> {
  readonly items: T[];
  readonly nextToken?: string;
}

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

/** `limit` query parameter: 1..1000, default 100. */
export function parseLimit(text: string | undefined): number {
  if (text === undefined || text === '') return DEFAULT_PAGE_SIZE;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1 || n > MAX_PAGE_SIZE) {
    throw new ValidationError([{ file: REQUEST_FILE, doc: 1, path: 'limit', message: `must be a whole number from 1 to ${MAX_PAGE_SIZE}, got ${JSON.stringify(text)}` }]);
  }
  return n;
}

/** Opaque page tokens: base64url of the scope they belong to and the position in it. */
export function encodeToken(scope: string, position: string): string {
  return Buffer.from(JSON.stringify({ s: scope, p: position })).toString('base64url');
}

export function decodeToken(scope: string, token: string | undefined): string | undefined {
  if (token === undefined || token === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && 's' in parsed && 'p' in parsed && parsed.s === scope && typeof parsed.p === 'string') {
      return parsed.p;
    }
  } catch {
    // Falls through to the error below: a token is only valid as the server issued it.
  }
  throw new ValidationError([{ file: REQUEST_FILE, doc: 1, path: 'nextToken', message: 'invalid or foreign page token; start again without nextToken' }]);
}

export async function listDefinitions(ctx: ApiContext, kind: DefinitionKind, query: { limit?: string; nextToken?: string }): Promise<Page<DefinitionBody>> {
  const limit = parseLimit(query.limit);
  const scope = `definitions/${kind}`;
  const cursor = decodeToken(scope, query.nextToken);
  const page = await ctx.store.query<AnyDefinition>(definitionKey(kind, '').pk, { limit, ...(cursor === undefined ? {} : { cursor }) });
  return { items: page.items.map(bodyOf), ...(page.cursor === undefined ? {} : { nextToken: encodeToken(scope, page.cursor) }) };
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(path: string, message: string, file = REQUEST_FILE, doc = 1): never {
  throw new ValidationError([{ file, doc, path, message }]);
}

/**
 * A request body as a manifest: read-only fields dropped, `apiVersion` and `kind` filled in when
 * absent, and the kind (and on PUT the name) checked against the route.
 */
export function requestManifest(kind: DefinitionKind, body: unknown, pathName?: string): Obj {
  if (!isObj(body)) fail('', `expected a ${kind} manifest as a JSON object (apiVersion, kind, metadata, spec)`);
  const copy: Obj = { ...body };
  for (const field of READ_ONLY_FIELDS) delete copy[field];
  copy.apiVersion ??= API_VERSION;
  copy.kind ??= kind;
  if (copy.kind !== kind) fail('kind', `must be ${JSON.stringify(kind)} on /${KIND_SCHEMAS[kind].plural}, got ${JSON.stringify(copy.kind)}`);
  if (pathName !== undefined) {
    const meta = copy.metadata;
    if (meta === undefined || meta === null) copy.metadata = { name: pathName };
    else if (isObj(meta)) {
      if (meta.name === undefined || meta.name === null) copy.metadata = { ...meta, name: pathName };
      else if (meta.name !== pathName) fail('metadata.name', `must match the name in the path (${JSON.stringify(pathName)}), got ${JSON.stringify(meta.name)}`);
    }
  }
  return copy;
}

/** Validates one manifest and its references; returns the definition first, then inline attestations. */
async function validateOne(ctx: ApiContext, raw: Obj): Promise<ParsedDefinition[]> {
  const { definitions, issues } = validateDocument(raw, REQUEST_FILE, 1, { providers: ctx.providers });
  if (issues.length > 0) throw new ValidationError(issues);
  const engine = await ctx.engine();
  const refIssues = checkReferences(definitions, indexDefinitions(engine.index.all()));
  if (refIssues.length > 0) throw new ValidationError(refIssues);
  return definitions;
}

/** Puts for inline attestations (each conditioned on what was read), skipping unchanged ones. */
async function inlineOps(ctx: ApiContext, parsed: readonly ParsedDefinition[]): Promise<WriteOp[]> {
  const ops: WriteOp[] = [];
  for (const p of parsed.slice(1)) {
    const key = definitionKey(p.def.kind, p.def.metadata.name);
    const current = await ctx.store.get<AnyDefinition>(key.pk, key.sk);
    if (current && canonicalJson(current.data) === canonicalJson(p.def)) continue;
    ops.push({ type: 'put', ...key, data: p.def, ifVersion: current ? current.version : 'absent' });
  }
  return ops;
}

/** Deletes of an Implementation's inline attestations that its new spec no longer lists. */
async function droppedInlineOps(ctx: ApiContext, index: DefinitionIndex, impl: string, keep: ReadonlySet<string>): Promise<WriteOp[]> {
  const ops: WriteOp[] = [];
  for (const att of index.attestations.values()) {
    if (att.metadata.labels[INLINE_OF_LABEL] !== impl || keep.has(att.metadata.name)) continue;
    if (referencedBy(index, 'Attestation', att.metadata.name).some((r) => r !== `Implementation/${impl}`)) continue;
    const key = definitionKey('Attestation', att.metadata.name);
    const current = await ctx.store.get(key.pk, key.sk);
    if (current) ops.push({ type: 'delete', ...key, ifVersion: current.version });
  }
  return ops;
}

/** POST: creates a definition; 409 when one with that name exists. */
export async function createDefinition(ctx: ApiContext, kind: DefinitionKind, body: unknown): Promise<VersionedDefinition> {
  const parsed = await validateOne(ctx, requestManifest(kind, body));
  const own = parsed[0];
  if (!own) fail('metadata', 'required; needs at least a name');
  const key = definitionKey(kind, own.def.metadata.name);
  const ops: WriteOp[] = [{ type: 'put', ...key, data: own.def, ifVersion: 'absent' }, ...(await inlineOps(ctx, parsed))];
  await ctx.store.transact(ops);
  return { body: { ...toManifest(own.def), status: { version: 1 } }, version: 1 };
}

/**
 * PUT: replaces (or creates) a definition. With If-Match the stored version must be one named
 * (412 otherwise, 404 when absent); without it the write is conditioned on the version just read,
 * so a concurrent writer still gets a 409 rather than a lost update.
 */
export async function replaceDefinition(
  ctx: ApiContext,
  kind: DefinitionKind,
  name: string,
  body: unknown,
  ifMatch: IfMatch | undefined,
): Promise<VersionedDefinition & { readonly created: boolean; readonly changed: boolean }> {
  const parsed = await validateOne(ctx, requestManifest(kind, body, name));
  const own = parsed[0];
  if (!own) fail('metadata', 'required; needs at least a name');
  const key = definitionKey(kind, name);
  const current = await ctx.store.get<AnyDefinition>(key.pk, key.sk);
  checkPrecondition(kind, name, current?.version, ifMatch);
  const ops: WriteOp[] = [];
  const changed = !current || canonicalJson(current.data) !== canonicalJson(own.def);
  if (changed) ops.push({ type: 'put', ...key, data: own.def, ifVersion: current ? current.version : 'absent' });
  ops.push(...(await inlineOps(ctx, parsed)));
  if (own.def.kind === 'Implementation' && current) {
    const engine = await ctx.engine();
    ops.push(...(await droppedInlineOps(ctx, engine.index, name, new Set(own.def.spec.attestations))));
  }
  if (ops.length > 0) await ctx.store.transact(ops);
  const version = changed ? (current?.version ?? 0) + 1 : (current?.version ?? 1);
  return { body: { ...toManifest(own.def), status: { version } }, version, created: !current, changed };
}

function checkPrecondition(kind: DefinitionKind, name: string, actual: number | undefined, ifMatch: IfMatch | undefined): void {
  if (!ifMatch) return;
  if (actual === undefined) throw new NotFoundError(kind, name);
  if (ifMatch.any || ifMatch.versions.includes(actual)) return;
  throw new PreconditionFailedError(`${kind} "${name}" is at version ${actual}, not ${ifMatch.raw}; read it again and retry`, {
    kind,
    name,
    expected: ifMatch.raw,
    actual,
  });
}

/** Names (`Kind/name`) of the definitions that refer to this one. */
export function referencedBy(index: DefinitionIndex, kind: DefinitionKind, name: string): string[] {
  const out: string[] = [];
  switch (kind) {
    case 'Requirement':
      for (const i of index.implementations.values()) if (i.spec.requirements.includes(name)) out.push(`Implementation/${i.metadata.name}`);
      for (const w of index.waivers.values()) if (w.spec.requirement === name) out.push(`Waiver/${w.metadata.name}`);
      for (const o of index.objectives.values()) if (o.spec.requirements.includes(name)) out.push(`ComplianceObjective/${o.metadata.name}`);
      break;
    case 'Attestation':
      for (const i of index.implementations.values()) if (i.spec.attestations.includes(name)) out.push(`Implementation/${i.metadata.name}`);
      break;
    case 'Resource':
      for (const r of index.resources.values()) if (r.spec.parent === name) out.push(`Resource/${r.metadata.name}`);
      break;
    case 'Provider':
      for (const r of index.resources.values()) if (r.spec.provider === name) out.push(`Resource/${r.metadata.name}`);
      break;
    case 'Implementation':
    case 'Waiver':
    case 'ComplianceObjective':
      break;
  }
  return out.sort();
}

/**
 * DELETE: removes a definition (409 while others refer to it). A Resource takes its results
 * along, an Implementation its inline Attestations.
 */
export async function deleteDefinition(ctx: ApiContext, kind: DefinitionKind, name: string, ifMatch: IfMatch | undefined): Promise<void> {
  const key = definitionKey(kind, name);
  const current = await ctx.store.get<AnyDefinition>(key.pk, key.sk);
  if (!current) throw new NotFoundError(kind, name);
  checkPrecondition(kind, name, current.version, ifMatch);
  const engine = await ctx.engine();
  const users = referencedBy(engine.index, kind, name);
  if (users.length > 0) throw new InUseError(kind, name, users);
  const ops: WriteOp[] = [{ type: 'delete', ...key, ifVersion: current.version }];
  if (kind === 'Resource') {
    const rk = resultsKey(name);
    const results = await ctx.store.get(rk.pk, rk.sk);
    if (results) ops.push({ type: 'delete', ...rk, ifVersion: results.version });
    const ck = checkedKey(name);
    const checked = await ctx.store.get(ck.pk, ck.sk);
    if (checked) ops.push({ type: 'delete', ...ck, ifVersion: checked.version });
  }
  if (kind === 'Implementation') ops.push(...(await droppedInlineOps(ctx, engine.index, name, new Set())));
  await ctx.store.transact(ops);
}

/**
 * POST /apply: many manifests all or nothing, exactly like `argus apply`. The body is a JSON
 * array (or one object) or YAML text with `---` between documents.
 */
export async function applyManifests(ctx: ApiContext, body: unknown, options: { dryRun: boolean }): Promise<ApplyOutcome | ApplyPreview> {
  let definitions: ParsedDefinition[];
  const issues: ManifestIssue[] = [];
  if (typeof body === 'string') {
    const parsed = collectManifests(body, APPLY_FILE, { providers: ctx.providers });
    definitions = parsed.definitions;
    issues.push(...parsed.issues);
  } else {
    const docs = Array.isArray(body) ? body : [body];
    if (docs.length === 0) fail('', 'expected at least one manifest', APPLY_FILE);
    definitions = [];
    docs.forEach((doc: unknown, i) => {
      const result = validateDocument(doc, APPLY_FILE, i + 1, { providers: ctx.providers });
      definitions.push(...result.definitions);
      issues.push(...result.issues);
    });
  }
  if (definitions.length === 0 && issues.length === 0) fail('', 'expected at least one manifest', APPLY_FILE);
  const engine = await ctx.engine();
  issues.push(...checkReferences(definitions, indexDefinitions(engine.index.all())));
  if (issues.length > 0) throw new ValidationError(issues);
  const defs = definitions.map((p) => p.def);
  if (options.dryRun) {
    // A scratch engine: the live one (local) must not see definitions that were never written.
    const now = ctx.clock.now();
    return previewApply(ctx.store, await loadEngine(ctx.store, now), defs, [], now);
  }
  return applyDefinitions(ctx.store, defs);
}

/**
 * POST /import/cloudformation: one template (JSON object, or YAML text with CloudFormation tags)
 * as a stack Resource and its children. Resources of that stack missing from the template are
 * deleted with their results, as `argus import cloudformation` does.
 */
export async function importTemplate(ctx: ApiContext, body: unknown, stackNameParam: string | undefined): Promise<ApplyOutcome> {
  let template: unknown = body;
  if (typeof body === 'string') {
    try {
      template = parseCloudFormationYaml(body);
    } catch (error) {
      fail('', `invalid template: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    }
  }
  const fromMetadata = isObj(template) && isObj(template.Metadata) ? template.Metadata[STACK_NAME_METADATA] : undefined;
  const stackName = stackNameParam ?? (typeof fromMetadata === 'string' ? fromMetadata : undefined);
  if (stackName === undefined || stackName === '') {
    fail('stackName', `required: give ?stackName= or the template's Metadata["${STACK_NAME_METADATA}"]`);
  }
  const resources = templateToResources(stackName, template, 'template');
  const issues: ManifestIssue[] = [];
  resources.forEach((r, i) => {
    const { issues: found } = validateDocument(toManifest(r), 'template', i + 1, { providers: ctx.providers });
    issues.push(...found);
  });
  if (issues.length > 0) throw new ValidationError(issues);
  const engine = await ctx.engine();
  const stacks = new Set(resources.filter((r) => r.spec.type === STACK_TYPE).map((r) => r.metadata.name));
  const present = new Set(resources.map((r) => r.metadata.name));
  const deletes: DefinitionRef[] = [];
  for (const r of engine.index.resources.values()) {
    const stack = r.metadata.labels[STACK_LABEL];
    if (stack !== undefined && stacks.has(stack) && !present.has(r.metadata.name)) deletes.push({ kind: 'Resource', name: r.metadata.name });
  }
  return applyDefinitions(ctx.store, resources, { deletes });
}

export function requireBody(body: unknown): void {
  if (body === undefined || body === null || body === '') throw new BadRequestError('a request body is required');
}
