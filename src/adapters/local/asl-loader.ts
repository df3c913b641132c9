/**
 * Loads ASL definitions from `statemachines/`, the single source for AWS and local runs, and
 * validates them with asl-validator. The `${...}` Resource strings stay as they are: the CDK
 * replaces them through DefinitionSubstitutions, the local runner binds those Task states to
 * handler functions by state name.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import aslValidator from 'asl-validator';
import { ArgusError } from '../../core/errors.ts';
import { deepFreeze } from './deep-freeze.ts';

export const STATEMACHINES_DIR = fileURLToPath(new URL('../../../statemachines/', import.meta.url));

/** A definition that does not parse or does not validate. */
export class StateMachineDefinitionError extends ArgusError {
  constructor(message: string, context: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('STATE_MACHINE_DEFINITION', message, context, options);
    this.name = 'StateMachineDefinitionError';
  }
}

/** A parsed ASL document (validated, otherwise opaque here). */
export type AslDefinition = Readonly<Record<string, unknown>> & { readonly StartAt: string; readonly States: Readonly<Record<string, unknown>> };

/** Problems asl-validator finds, one line each; empty when the definition is valid. */
export function validateAsl(definition: unknown): string[] {
  // asl-validator writes defaults (QueryLanguage) into what it checks: give it a copy.
  const result = aslValidator(structuredClone(definition), { checkArn: true, checkPaths: true });
  return result.isValid ? [] : result.errors.map((e) => `${e['Error code']}: ${e.Message}`);
}

const loaded = new Map<string, AslDefinition>();

export interface LoadAslOptions {
  /** @default STATEMACHINES_DIR */
  readonly dir?: string;
  /** Run asl-validator (compiling its schemas takes a second or two). @default true */
  readonly validate?: boolean;
}

/** Reads and (by default) validates `statemachines/<name>.asl.json`, once per process. */
export function loadAsl(name: string, options: LoadAslOptions = {}): AslDefinition {
  const dir = options.dir ?? STATEMACHINES_DIR;
  const validate = options.validate ?? true;
  const file = `${dir.endsWith('/') ? dir : `${dir}/`}${name}.asl.json`;
  const cacheKey = `${validate}:${file}`;
  const cached = loaded.get(cacheKey);
  if (cached) return cached;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new StateMachineDefinitionError(`cannot read state machine ${file}: ${cause instanceof Error ? cause.message : String(cause)}`, { file }, { cause });
  }
  const problems = validate ? validateAsl(parsed) : [];
  if (problems.length > 0) throw new StateMachineDefinitionError(`${file} is not a valid state machine:\n${problems.join('\n')}`, { file, problems });
  // Frozen because every caller shares it.
  const definition = deepFreeze(parsed) as AslDefinition;
  loaded.set(cacheKey, definition);
  return definition;
}

/** `${Name}` placeholders in a definition (what the CDK must substitute). */
export function substitutionNames(definition: unknown): string[] {
  const names = new Set<string>();
  for (const m of JSON.stringify(definition).matchAll(/"\$\{([A-Za-z0-9_]+)\}"/g)) names.add(m[1] as string);
  return [...names].sort();
}

/** Replaces `${Name}` placeholders, as Step Functions DefinitionSubstitutions do. */
export function substitute(definition: AslDefinition, values: Readonly<Record<string, string>>): AslDefinition {
  const missing = substitutionNames(definition).filter((n) => values[n] === undefined);
  if (missing.length > 0) throw new StateMachineDefinitionError(`no value for substitution(s) ${missing.join(', ')}`, { missing });
  const text = JSON.stringify(definition).replace(/"\$\{([A-Za-z0-9_]+)\}"/g, (_, n: string) => JSON.stringify(values[n]));
  return JSON.parse(text) as AslDefinition;
}

/** Names of the Task states of a definition, nested Map and Parallel states included. */
export function taskStateNames(definition: unknown): string[] {
  const out: string[] = [];
  const visit = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    const obj = node as Record<string, unknown>;
    const states = obj.States;
    if (states && typeof states === 'object' && !Array.isArray(states)) {
      for (const [name, state] of Object.entries(states as Record<string, unknown>)) {
        if (state && typeof state === 'object' && (state as Record<string, unknown>).Type === 'Task') out.push(name);
      }
    }
    for (const value of Object.values(obj)) visit(value);
  };
  visit(definition);
  return out.sort();
}
