/**
 * Loads manifests from files and directories for `argus apply -f` and the local runtime: every
 * file is read and checked, references are checked across all of them, and every problem from
 * every file comes back in one ValidationError, so an apply is all or nothing.
 */
import type { Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { ValidationError, type ManifestIssue } from '#core/errors.ts';
import { collectManifests } from '#core/manifest/parse.ts';
import { checkReferences, type ExistingDefinitions } from '#core/manifest/references.ts';
import type { ManifestOptions, ParsedDefinition } from '#core/manifest/validate.ts';

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

export interface LoadManifestOptions extends ManifestOptions {
  /** Definitions already stored; the loaded ones are checked merged over them. */
  readonly existing?: ExistingDefinitions;
}

/**
 * Reads `paths` (files, or directories searched recursively for .yaml, .yml and .json files in
 * sorted order). File names in issues are as given, so relative paths stay relative. Issues about
 * a file as a whole (unreadable, empty directory) use doc 0.
 * @example await loadManifestPaths(['manifests/'], { providers })
 */
export async function loadManifestPaths(paths: readonly string[], options: LoadManifestOptions): Promise<ParsedDefinition[]> {
  const issues: ManifestIssue[] = [];
  const files = await listFiles(paths, issues);
  const definitions: ParsedDefinition[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      issues.push(fileIssue(file, `cannot read: ${errorMessage(err)}`));
      continue;
    }
    const parsed = collectManifests(text, file, options);
    definitions.push(...parsed.definitions);
    issues.push(...parsed.issues);
  }
  issues.push(...checkReferences(definitions, options.existing));
  if (issues.length > 0) throw new ValidationError(issues);
  return definitions;
}

/** Expands directories; each file once (by resolved path) under the first name it was given as. */
async function listFiles(paths: readonly string[], issues: ManifestIssue[]): Promise<string[]> {
  const files: string[] = [];
  const seen = new Set<string>();
  const addFile = (file: string): void => {
    const key = resolve(file);
    if (seen.has(key)) return;
    seen.add(key);
    files.push(file);
  };
  for (const path of paths) {
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(path)).isDirectory();
    } catch (err) {
      issues.push(fileIssue(path, `cannot read: ${errorMessage(err)}`));
      continue;
    }
    if (!isDirectory) {
      // A file named explicitly is read whatever its extension (YAML unless it ends in .json).
      addFile(path);
      continue;
    }
    const found = await walk(path, issues);
    if (found.length === 0) issues.push(fileIssue(path, 'no .yaml, .yml or .json files found'));
    found.forEach(addFile);
  }
  return files;
}

/**
 * Manifest files under `dir`, depth first in name order. Hidden entries are skipped, and
 * symlinks are followed to files only, so a link cycle cannot recurse forever.
 */
async function walk(dir: string, issues: ManifestIssue[]): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = (await readdir(dir, { withFileTypes: true })).filter((e) => !e.name.startsWith('.'));
  } catch (err) {
    issues.push(fileIssue(dir, `cannot read directory: ${errorMessage(err)}`));
    return [];
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path, issues)));
    else if (MANIFEST_EXTENSIONS.has(extname(entry.name).toLowerCase()) && (entry.isFile() || (await isLinkToFile(path)))) out.push(path);
  }
  return out;
}

async function isLinkToFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false; // a dangling link is not a manifest
  }
}

function fileIssue(file: string, message: string): ManifestIssue {
  return { file, doc: 0, path: '', message };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
