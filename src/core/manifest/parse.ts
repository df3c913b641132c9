/**
 * Manifest text to definitions and back. YAML files may hold several documents (`---`); a file
 * ending in `.json` holds one object or an array of them. Each document is numbered from 1 in
 * issues, counting empty documents too so numbers match what the user sees between `---` lines.
 */
import { parseAllDocuments } from 'yaml';
import { formatDuration } from '../duration.ts';
import { ValidationError, type ManifestIssue } from '../errors.ts';
import type { AnyDefinition, ResourceSelector } from '../model.ts';
import { validateDocument, type ManifestOptions, type ParsedDefinition } from './validate.ts';

export type { ManifestOptions, ParsedDefinition } from './validate.ts';

export interface ManifestParse {
  readonly definitions: ParsedDefinition[];
  readonly issues: ManifestIssue[];
}

/**
 * Parses and validates every document of one file, throwing a ValidationError listing every
 * issue. References to other documents are not checked here: see `checkReferences`.
 * @example parseManifests(text, 'catalog.yaml', { providers })
 */
export function parseManifests(text: string, file: string, options: ManifestOptions): ParsedDefinition[] {
  const { definitions, issues } = collectManifests(text, file, options);
  if (issues.length > 0) throw new ValidationError(issues);
  return definitions;
}

/** Like `parseManifests` but returns the issues, so a caller can gather them over many files. */
export function collectManifests(text: string, file: string, options: ManifestOptions): ManifestParse {
  const raw = file.toLowerCase().endsWith('.json') ? readJson(text, file) : readYaml(text, file);
  const definitions: ParsedDefinition[] = [];
  const issues: ManifestIssue[] = [...raw.issues];
  for (const { doc, value } of raw.documents) {
    const result = validateDocument(value, file, doc, options);
    definitions.push(...result.definitions);
    issues.push(...result.issues);
  }
  return { definitions, issues };
}

interface RawDocuments {
  readonly documents: Array<{ doc: number; value: unknown }>;
  readonly issues: ManifestIssue[];
}

function readYaml(text: string, file: string): RawDocuments {
  const documents: RawDocuments['documents'] = [];
  const issues: ManifestIssue[] = [];
  let parsed: ReturnType<typeof parseAllDocuments>;
  try {
    // logLevel 'error': the package would otherwise print process warnings (e.g. for a mapping
    // used as a key); the validation below reports what matters about such documents.
    parsed = parseAllDocuments(text, { prettyErrors: true, logLevel: 'error' });
  } catch (err) {
    // The yaml package reports problems per document; this is only a guard against its bugs.
    return { documents, issues: [{ file, doc: 1, path: '', message: `cannot parse YAML: ${errorText(err)}` }] };
  }
  let doc = 0;
  for (const document of parsed) {
    doc++;
    if (document.errors.length > 0) {
      for (const error of document.errors) issues.push({ file, doc, path: '', message: `YAML syntax error: ${errorText(error)}` });
      continue;
    }
    let value: unknown;
    try {
      value = document.toJS();
    } catch (err) {
      // e.g. an alias to an undefined anchor, or an alias bomb.
      issues.push({ file, doc, path: '', message: `invalid YAML: ${errorText(err)}` });
      continue;
    }
    // A document that is only comments (or a stray `---`) holds nothing: skip it.
    if (value === null || value === undefined) continue;
    documents.push({ doc, value });
  }
  return { documents, issues };
}

function readJson(text: string, file: string): RawDocuments {
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    return { documents: [], issues: [{ file, doc: 1, path: '', message: `JSON syntax error: ${jsonErrorText(err, text)}` }] };
  }
  if (Array.isArray(value)) return { documents: value.map((v: unknown, i) => ({ doc: i + 1, value: v })), issues: [] };
  return { documents: [{ doc: 1, value }], issues: [] };
}

/** First line of the message (yaml appends a source excerpt), without the trailing colon. */
function errorText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return (message.split('\n')[0] ?? '').replace(/:\s*$/, '');
}

/** Adds the line and column when V8's message gives only a character position. */
function jsonErrorText(err: unknown, text: string): string {
  const message = errorText(err);
  const position = /at position (\d+)/.exec(message);
  if (!position) return message;
  const before = text.slice(0, Number(position[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `${message} (line ${line}, column ${column})`;
}

// ---------------------------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------------------------

/** A definition as a manifest would write it, ready for YAML or JSON output. */
export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly labels?: Readonly<Record<string, string>> };
  readonly spec: Readonly<Record<string, unknown>>;
}

/**
 * The inverse of parsing one definition: durations back to strings, timestamps to ISO 8601,
 * defaults written out. Expanded inline attestations print as Attestations under their full names
 * (`<implementation>.<name>`), and the Implementation lists those names, so the output re-applies.
 */
export function toManifest(def: AnyDefinition): Manifest {
  const labels = def.metadata.labels;
  const metadata = Object.keys(labels).length > 0 ? { name: def.metadata.name, labels: { ...labels } } : { name: def.metadata.name };
  return { apiVersion: def.apiVersion, kind: def.kind, metadata, spec: specToManifest(def) };
}

function specToManifest(def: AnyDefinition): Record<string, unknown> {
  switch (def.kind) {
    case 'Requirement': {
      const s = def.spec;
      return withoutUndefined({
        title: s.title,
        description: s.description,
        version: s.version,
        frameworks: [...s.frameworks],
        severity: s.severity,
        appliesTo: selectorToManifest(s.appliesTo),
        requiredImplementationClasses: [...s.requiredImplementationClasses],
        parameters: s.parameters,
      });
    }
    case 'Implementation': {
      const s = def.spec;
      return withoutUndefined({
        requirements: [...s.requirements],
        targets: selectorToManifest(s.targets),
        cascade: s.cascade,
        class: s.class,
        policy: s.policy,
        attestations: [...s.attestations],
      });
    }
    case 'Attestation': {
      const s = def.spec;
      return {
        provider: s.provider,
        params: s.params,
        resourceTypes: [...s.resourceTypes],
        freshness: formatDuration(s.freshnessMs),
        timeout: formatDuration(s.timeoutMs),
      };
    }
    case 'Resource': {
      const s = def.spec;
      return withoutUndefined({
        type: s.type,
        parent: s.parent,
        classes: [...s.classes],
        provider: s.provider,
        document: s.document,
        digest: s.digest,
      });
    }
    case 'Provider': {
      const s = def.spec;
      return withoutUndefined({
        type: s.type,
        description: s.description,
        accountId: s.accountId,
        roleArn: s.roleArn,
        externalId: s.externalId,
        heartbeatTimeout: s.heartbeatTimeoutMs === undefined ? undefined : formatDuration(s.heartbeatTimeoutMs),
      });
    }
    case 'Waiver': {
      const s = def.spec;
      return {
        requirement: s.requirement,
        resources: selectorToManifest(s.resources),
        reason: s.reason,
        approver: s.approver,
        expires: new Date(s.expiresAt).toISOString(),
      };
    }
    case 'ComplianceObjective': {
      const s = def.spec;
      return withoutUndefined({
        description: s.description,
        requirements: [...s.requirements],
        frameworks: [...s.frameworks],
        resources: selectorToManifest(s.resources),
        target: s.target,
        window: formatDuration(s.windowMs),
        unknownIsCompliant: s.unknownIsCompliant,
      });
    }
  }
}

function selectorToManifest(selector: ResourceSelector): Record<string, unknown> {
  return withoutUndefined({
    ids: selector.ids && [...selector.ids],
    types: selector.types && [...selector.types],
    classes: selector.classes && [...selector.classes],
    matchLabels: selector.matchLabels && { ...selector.matchLabels },
  });
}

/** YAML would print `undefined` members as `null`, which reads back as a different thing. */
function withoutUndefined(obj: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}
