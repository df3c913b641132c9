/**
 * OSCAL catalog → Requirements. Accepts a catalog or a resolved profile catalog (an OSCAL
 * profile must be resolved first: the NIST baselines are published resolved). Each control, and
 * each enhancement, becomes a Requirement named after the control id (`ac-2`, `ac-2.1`) with:
 * the title; the statement rendered as text (parameters shown NIST-style as
 * `[Assignment: ...]` / `[Selection (one or more): ...]`) as description; the framework
 * reference `<framework>:<label>` (e.g. `nist-800-53:AC-2(1)`); and the control's parameters
 * kept in `parameters` by parameter id.
 *
 * Importing again merges with what is stored: selector, severity and required classes written by
 * people stay; when the catalog's title, statement or parameters changed, the version goes up,
 * which makes results recorded under the old version Stale.
 */
import { canonicalJson } from '../digest.ts';
import { API_VERSION, type Requirement, type RequirementSpec } from '../model.ts';
import { OscalError } from './oscal-error.ts';

export const OSCAL_SOURCE_LABEL = 'argus.dev/source';
export const OSCAL_CONTROL_LABEL = 'argus.dev/oscal-control';

export interface CatalogImportOptions {
  /** File name, for messages. */
  readonly file?: string;
  /** Framework prefix of the references. @default `nist-800-53` for SP 800-53 catalogs, else the catalog title in kebab case */
  readonly framework?: string;
  /** Prepended to control ids to form requirement names. @default '' */
  readonly namePrefix?: string;
}

export interface ImportedCatalog {
  readonly title: string;
  readonly version: string;
  readonly framework: string;
  readonly requirements: Requirement[];
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const arrayAt = (o: Json, key: string): unknown[] => (Array.isArray(o[key]) ? (o[key] as unknown[]) : []);

/** Reads an OSCAL catalog document (already parsed JSON) into Requirements (version 1). */
export function requirementsFromCatalog(doc: unknown, options: CatalogImportOptions = {}): ImportedCatalog {
  const file = options.file ?? 'catalog';
  if (!isObject(doc)) throw new OscalError(`${file}: not a JSON object`, { file, path: '' });
  if (isObject(doc.profile)) {
    throw new OscalError(`${file}: is an OSCAL profile; resolve it to a catalog first (NIST publishes the SP 800-53 baselines resolved: *-resolved-profile_catalog.json)`, { file, path: 'profile' });
  }
  const catalog = doc.catalog;
  if (!isObject(catalog)) throw new OscalError(`${file}: not an OSCAL catalog (no "catalog" object at the top)`, { file, path: 'catalog' });
  const metadata = isObject(catalog.metadata) ? catalog.metadata : {};
  const title = typeof metadata.title === 'string' ? metadata.title : 'OSCAL catalog';
  const framework = options.framework ?? defaultFramework(title);
  const prefix = options.namePrefix ?? '';
  const requirements: Requirement[] = [];
  const seen = new Set<string>();

  const visitControl = (control: unknown, path: string, family: string | undefined): void => {
    if (!isObject(control)) throw new OscalError(`${file}: ${path} is not a control object`, { file, path });
    const id = control.id;
    if (typeof id !== 'string' || id === '') throw new OscalError(`${file}: ${path}.id is missing`, { file, path: `${path}.id` });
    if (!isWithdrawn(control)) {
      const name = `${prefix}${id}`;
      if (seen.has(name)) throw new OscalError(`${file}: control id "${id}" appears twice (${path})`, { file, path });
      seen.add(name);
      requirements.push(toRequirement(control, id, name, framework, family, file, path));
    }
    arrayAt(control, 'controls').forEach((child, i) => visitControl(child, `${path}.controls[${i}]`, family));
  };
  const visitGroup = (group: unknown, path: string): void => {
    if (!isObject(group)) throw new OscalError(`${file}: ${path} is not a group object`, { file, path });
    const family = typeof group.id === 'string' ? group.id : undefined;
    arrayAt(group, 'controls').forEach((c, i) => visitControl(c, `${path}.controls[${i}]`, family));
    arrayAt(group, 'groups').forEach((g, i) => visitGroup(g, `${path}.groups[${i}]`));
  };
  arrayAt(catalog, 'groups').forEach((g, i) => visitGroup(g, `catalog.groups[${i}]`));
  arrayAt(catalog, 'controls').forEach((c, i) => visitControl(c, `catalog.controls[${i}]`, undefined));
  if (requirements.length === 0) throw new OscalError(`${file}: the catalog has no controls`, { file, path: 'catalog' });
  return { title, version: typeof metadata.version === 'string' ? metadata.version : '', framework, requirements };
}

function defaultFramework(title: string): string {
  if (/800-53/.test(title)) return 'nist-800-53';
  const slug = title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  return slug === '' ? 'oscal' : slug.slice(0, 60);
}

function isWithdrawn(control: Json): boolean {
  return arrayAt(control, 'props').some((p) => isObject(p) && p.name === 'status' && p.value === 'withdrawn');
}

/** The control's label: the `label` prop without a class (`AC-2(1)`), else its id upper-cased. */
function controlLabel(control: Json, id: string): string {
  const labels = arrayAt(control, 'props').filter((p): p is Json => isObject(p) && p.name === 'label' && typeof p.value === 'string');
  const plain = labels.find((p) => p.class === undefined) ?? labels[0];
  return typeof plain?.value === 'string' ? plain.value : id.toUpperCase();
}

function toRequirement(control: Json, id: string, name: string, framework: string, family: string | undefined, file: string, path: string): Requirement {
  const title = typeof control.title === 'string' && control.title.trim() !== '' ? control.title.trim() : id;
  const params = new Map<string, Json>();
  for (const p of arrayAt(control, 'params')) if (isObject(p) && typeof p.id === 'string') params.set(p.id, p);
  const statement = arrayAt(control, 'parts').find((p): p is Json => isObject(p) && p.name === 'statement');
  const description = statement ? renderPart(statement, params, 0).trim() : undefined;
  const parameters: Record<string, unknown> = {};
  for (const [pid, p] of params) {
    const { id: _id, ...rest } = p;
    parameters[pid] = rest;
  }
  if (name.length > 253 || !/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/.test(name)) {
    throw new OscalError(`${file}: ${path}: control id "${id}" does not make a valid requirement name "${name}"`, { file, path });
  }
  const labels: Record<string, string> = { framework, [OSCAL_SOURCE_LABEL]: 'oscal', [OSCAL_CONTROL_LABEL]: id };
  if (family) labels.family = family;
  const spec: RequirementSpec = {
    title,
    ...(description ? { description } : {}),
    version: 1,
    frameworks: [`${framework}:${controlLabel(control, id)}`],
    severity: 'medium',
    appliesTo: {},
    requiredImplementationClasses: [],
    ...(params.size > 0 ? { parameters } : {}),
  };
  return { apiVersion: API_VERSION, kind: 'Requirement', metadata: { name, labels }, spec };
}

/** A statement part as indented text: `a. prose` with its items below it. */
function renderPart(part: Json, params: ReadonlyMap<string, Json>, depth: number): string {
  const label = arrayAt(part, 'props').find((p): p is Json => isObject(p) && p.name === 'label');
  const prose = typeof part.prose === 'string' ? substituteParams(part.prose, params) : '';
  const head = [typeof label?.value === 'string' ? label.value : '', prose].filter((s) => s !== '').join(' ');
  const lines = head === '' ? [] : [`${'  '.repeat(Math.max(0, depth - 1))}${head}`];
  for (const child of arrayAt(part, 'parts')) {
    if (isObject(child) && (child.name === 'item' || child.name === 'statement')) lines.push(renderPart(child, params, head === '' ? depth : depth + 1));
  }
  return lines.join('\n');
}

const INSERT = /\{\{\s*insert:\s*param,\s*([^\s}]+)\s*\}\}/g;

/** Replaces `{{ insert: param, id }}` the way NIST renders SP 800-53 statements. */
function substituteParams(text: string, params: ReadonlyMap<string, Json>, depth = 0): string {
  return text.replace(INSERT, (_m, id: string) => {
    const p = params.get(id);
    if (!p || depth > 3) return `[Assignment: ${id}]`;
    const values = arrayAt(p, 'values').filter((v): v is string => typeof v === 'string');
    if (values.length > 0) return values.join(', ');
    if (isObject(p.select)) {
      const how = p.select['how-many'] === 'one-or-more' ? 'Selection (one or more)' : 'Selection';
      const choices = arrayAt(p.select, 'choice').filter((c): c is string => typeof c === 'string').map((c) => substituteParams(c, params, depth + 1));
      return `[${how}: ${choices.join('; ')}]`;
    }
    return `[Assignment: ${typeof p.label === 'string' ? p.label : id}]`;
  });
}

export interface MergeOutcome {
  /** What to apply: new requirements, and stored ones updated from the catalog. */
  readonly definitions: Requirement[];
  /** Names whose catalog content changed, with their new version. */
  readonly bumped: Array<{ readonly name: string; readonly from: number; readonly to: number }>;
  readonly added: string[];
  readonly unchanged: string[];
}

/**
 * Merges imported requirements into the stored ones: the catalog owns title, description and
 * parameters (a change bumps the version) and adds its framework reference and labels; the
 * rest of a stored requirement (selector, severity, classes, other references) is kept.
 */
export function mergeImported(imported: readonly Requirement[], existing: (name: string) => Requirement | undefined): MergeOutcome {
  const out: MergeOutcome = { definitions: [], bumped: [], added: [], unchanged: [] };
  for (const req of imported) {
    const name = req.metadata.name;
    const current = existing(name);
    if (!current) {
      out.definitions.push(req);
      out.added.push(name);
      continue;
    }
    const catalogPart = (r: Requirement) => canonicalJson({ title: r.spec.title, description: r.spec.description, parameters: r.spec.parameters });
    const changed = catalogPart(current) !== catalogPart(req);
    const version = changed ? current.spec.version + 1 : current.spec.version;
    const frameworks = [...current.spec.frameworks];
    for (const f of req.spec.frameworks) if (!frameworks.includes(f)) frameworks.push(f);
    const merged: Requirement = {
      ...current,
      metadata: { name, labels: { ...current.metadata.labels, ...req.metadata.labels } },
      spec: {
        ...current.spec,
        title: req.spec.title,
        description: req.spec.description,
        parameters: req.spec.parameters,
        version,
        frameworks,
      },
    };
    if (canonicalJson(merged) === canonicalJson(current)) {
      out.unchanged.push(name);
      continue;
    }
    out.definitions.push(merged);
    if (changed) out.bumped.push({ name, from: current.spec.version, to: version });
  }
  return out;
}
