import { DEFINITION_KINDS, type DefinitionKind } from './model.ts';

/**
 * Key formats of every item type, in one place (single-table style): the embedded store and the
 * DynamoDB store use the same keys, so the change-feed handlers read both the same way.
 */
export const KEY_PREFIX = {
  definition: 'DEF#',
  results: 'RESULTS',
  meta: 'META',
} as const;

export function definitionKey(kind: DefinitionKind, name: string): { pk: string; sk: string } {
  return { pk: `${KEY_PREFIX.definition}${kind}`, sk: name };
}

/** One item per resource holds the latest result of each of its attestations. */
export function resultsKey(resource: string): { pk: string; sk: string } {
  return { pk: KEY_PREFIX.results, sk: resource };
}

export type ParsedKey =
  | { readonly type: 'definition'; readonly kind: DefinitionKind; readonly name: string }
  | { readonly type: 'results'; readonly resource: string }
  | { readonly type: 'other' };

export function parseKey(pk: string, sk: string): ParsedKey {
  if (pk.startsWith(KEY_PREFIX.definition)) {
    const kind = pk.slice(KEY_PREFIX.definition.length);
    if ((DEFINITION_KINDS as readonly string[]).includes(kind)) return { type: 'definition', kind: kind as DefinitionKind, name: sk };
  }
  if (pk === KEY_PREFIX.results) return { type: 'results', resource: sk };
  return { type: 'other' };
}
