/**
 * CloudFormation templates (JSON or YAML) and CDK cloud assemblies (`cdk.out`) as Resources:
 * one `AWS::CloudFormation::Stack` per template, with one child per logical resource whose
 * document is the resource's `Properties`.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { digestOf } from '../core/digest.ts';
import { API_VERSION, type Labels, type Resource } from '../core/model.ts';
import type { ResourceSource } from '../core/ports/resource-source.ts';
import { parseCloudFormationYaml } from './cfn-yaml.ts';
import { SourceError } from './source-error.ts';

export const STACK_TYPE = 'AWS::CloudFormation::Stack';
export const STACK_LABEL = 'argus.dev/stack';
export const CDK_PATH_LABEL = 'argus.dev/cdk-path';
/** Template `Metadata` key naming the stack when the file name is not the stack name. */
export const STACK_NAME_METADATA = 'argus.dev/stack-name';

const TEMPLATE_EXTENSIONS = new Set(['.json', '.yaml', '.yml', '.template']);

export interface TemplateOptions {
  /** Stack name; default the template's `Metadata['argus.dev/stack-name']`, else the file name. */
  readonly stackName?: string;
}

/** A template file, a directory of templates, or a `cdk.out` directory (has `manifest.json`). */
export type CloudFormationInput = string | { readonly path: string; readonly stackName?: string };

/** Reads one template file into its stack and resources. */
export async function readCloudFormationTemplate(file: string, options: TemplateOptions = {}): Promise<Resource[]> {
  const text = await readText(file);
  let template: unknown;
  try {
    template = extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseCloudFormationYaml(text);
  } catch (err) {
    throw new SourceError(file, `invalid template: ${errorText(err)}`, { cause: err });
  }
  const stackName = options.stackName ?? stackNameFromMetadata(template) ?? basename(file, extname(file));
  return templateToResources(stackName, template, file);
}

/** Reads every stack of a CDK cloud assembly, following nested assemblies (CDK stages). */
export async function readCdkOut(dir: string): Promise<Resource[]> {
  const manifestFile = join(dir, 'manifest.json');
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readText(manifestFile));
  } catch (err) {
    if (err instanceof SourceError) throw err;
    throw new SourceError(manifestFile, `invalid cloud assembly manifest: ${errorText(err)}`, { cause: err });
  }
  const artifacts = isRecord(manifest) ? manifest.artifacts : undefined;
  if (!isRecord(artifacts)) throw new SourceError(manifestFile, 'cloud assembly manifest has no artifacts');

  const resources: Resource[] = [];
  for (const [id, artifact] of Object.entries(artifacts)) {
    if (!isRecord(artifact)) continue;
    const properties = isRecord(artifact.properties) ? artifact.properties : {};
    if (artifact.type === 'aws:cloudformation:stack') {
      if (typeof properties.templateFile !== 'string') {
        throw new SourceError(manifestFile, `artifacts.${id}: stack artifact has no properties.templateFile`);
      }
      resources.push(...(await readCloudFormationTemplate(join(dir, properties.templateFile), { stackName: id })));
    } else if (artifact.type === 'cdk:cloud-assembly' && typeof properties.directoryName === 'string') {
      resources.push(...(await readCdkOut(join(dir, properties.directoryName))));
    }
  }
  return resources;
}

/**
 * Turns a parsed template into Resources. Throws a SourceError listing every problem when the
 * template has no `Resources` or a resource is malformed.
 */
export function templateToResources(stackName: string, template: unknown, file: string): Resource[] {
  if (!isRecord(template)) throw new SourceError(file, 'template must be an object');
  const { Resources: entries, ...stackDocument } = template;
  if (!isRecord(entries) || Object.keys(entries).length === 0) {
    throw new SourceError(file, 'template has no Resources (CloudFormation requires at least one)');
  }

  const stack = safeName(stackName);
  const stackLabels: Labels = { [STACK_LABEL]: stack };
  const resources: Resource[] = [definition(stack, STACK_TYPE, undefined, stackLabels, stackDocument)];
  const problems: string[] = [];
  for (const [logicalId, entry] of Object.entries(entries)) {
    const where = `Resources.${logicalId}`;
    if (!/^[A-Za-z0-9]+$/.test(logicalId)) problems.push(`${where}: logical ID must be alphanumeric`);
    if (!isRecord(entry)) {
      problems.push(`${where}: must be an object`);
      continue;
    }
    if (typeof entry.Type !== 'string' || entry.Type === '') {
      problems.push(`${where}: missing Type`);
      continue;
    }
    if (entry.Properties !== undefined && !isRecord(entry.Properties)) {
      problems.push(`${where}.Properties: must be an object`);
      continue;
    }
    const cdkPath = isRecord(entry.Metadata) ? entry.Metadata['aws:cdk:path'] : undefined;
    const labels: Labels = typeof cdkPath === 'string' ? { ...stackLabels, [CDK_PATH_LABEL]: cdkPath } : stackLabels;
    resources.push(definition(`${stack}/${logicalId}`, entry.Type, stack, labels, entry.Properties ?? {}));
  }
  if (problems.length > 0) throw new SourceError(file, problems.join('; '));
  return resources;
}

/** Resources from template files, directories of templates and `cdk.out` directories. */
export class CloudFormationSource implements ResourceSource {
  readonly name = 'cloudformation';
  private readonly inputs: readonly CloudFormationInput[];

  constructor(inputs: readonly CloudFormationInput[]) {
    this.inputs = inputs;
  }

  async discover(): Promise<Resource[]> {
    const resources: Resource[] = [];
    const stackFiles = new Map<string, string>();
    for (const input of this.inputs) {
      const { path, stackName } = typeof input === 'string' ? { path: input, stackName: undefined } : input;
      const found = await readPath(path, stackName);
      for (const r of found) {
        if (r.spec.type !== STACK_TYPE || r.spec.parent !== undefined) continue;
        const previous = stackFiles.get(r.metadata.name);
        if (previous !== undefined) {
          throw new SourceError(path, `stack "${r.metadata.name}" is also defined by ${previous}`);
        }
        stackFiles.set(r.metadata.name, path);
      }
      resources.push(...found);
    }
    return resources;
  }
}

async function readPath(path: string, stackName: string | undefined): Promise<Resource[]> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(path)).isDirectory();
  } catch (err) {
    throw new SourceError(path, `cannot read: ${errorText(err)}`, { cause: err });
  }
  if (!isDirectory) return readCloudFormationTemplate(path, { stackName });
  const names = (await readdir(path)).sort();
  if (names.includes('manifest.json')) return readCdkOut(path);
  const templates = names.filter((n) => TEMPLATE_EXTENSIONS.has(extname(n).toLowerCase()));
  if (templates.length === 0) throw new SourceError(path, 'no templates (*.json, *.yaml, *.yml, *.template) and no manifest.json');
  const resources: Resource[] = [];
  for (const name of templates) resources.push(...(await readCloudFormationTemplate(join(path, name))));
  return resources;
}

function definition(name: string, type: string, parent: string | undefined, labels: Labels, document: unknown): Resource {
  return {
    apiVersion: API_VERSION,
    kind: 'Resource',
    metadata: { name, labels },
    spec: { type, ...(parent === undefined ? {} : { parent }), classes: [], document, digest: digestOf(document) },
  };
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new SourceError(file, `cannot read: ${errorText(err)}`, { cause: err });
  }
}

function stackNameFromMetadata(template: unknown): string | undefined {
  if (!isRecord(template) || !isRecord(template.Metadata)) return undefined;
  const name = template.Metadata[STACK_NAME_METADATA];
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/** Metadata names allow `[A-Za-z0-9._:/-]` after an alphanumeric start (docs/manifests.md). */
function safeName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._:/-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return cleaned === '' ? 'stack' : cleaned;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
