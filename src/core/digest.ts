import { hash } from 'node:crypto';

/**
 * Canonical JSON: object keys sorted, no whitespace, `undefined` members dropped. Two values that
 * are equal as data always encode to the same string, so their digests match.
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return quotedString(value);
    case 'number':
      // The same digits JSON.stringify writes, without its machinery.
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      break;
    default:
      return value === undefined ? 'null' : JSON.stringify(value);
  }
  // A frozen record of numbers (a result's requirement versions, shared by every run of an
  // attestation) cannot change: its text is kept. Only those: keeping the text of every frozen
  // value would hold a second copy of much of the store's data.
  const frozen = Object.isFrozen(value);
  if (frozen) {
    const known = frozenTexts.get(value);
    if (known !== undefined) return known;
  }
  let numbers = !Array.isArray(value);
  let out: string;
  // String building rather than map/join: every evidence entry and every document goes through here.
  if (Array.isArray(value)) {
    out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i]);
    out += ']';
  } else {
    const obj = value as Record<string, unknown>;
    out = '{';
    for (const key of sortedOwnKeys(obj)) {
      const member = obj[key];
      if (member === undefined) continue;
      if (typeof member !== 'number') numbers = false;
      out += (out.length === 1 ? '' : ',') + quotedKey(key) + ':' + canonicalJson(member);
    }
    out += '}';
  }
  if (frozen && numbers) frozenTexts.set(value, out);
  return out;
}

/** Texts of frozen records of numbers (data properties, as JSON data has). */
const frozenTexts = new WeakMap<object, string>();

/** What JSON.stringify escapes in a string: quotes, backslashes, control characters, and surrogates when alone. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** `JSON.stringify(text)`: most strings here (names, digests, outcomes) need no escape and are just quoted. */
function quotedString(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/** A known set of object keys, sorted, with their JSON-quoted prefixes computed once. */
export interface KnownKeys {
  readonly names: readonly string[];
  readonly prefixes: readonly string[];
  readonly set: ReadonlySet<string>;
}

export function knownKeys(names: readonly string[]): KnownKeys {
  const sorted = [...new Set(names)].sort();
  return { names: sorted, prefixes: sorted.map((k) => `${JSON.stringify(k)}:`), set: new Set(sorted) };
}

/**
 * `canonicalJson(value)` for an object whose own keys usually all come from `keys`: the same
 * text, without sorting the keys each time; an object with any other key takes the general path.
 */
export function canonicalJsonOfKnownKeys(value: object, keys: KnownKeys): string {
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (!keys.set.has(key) || !Object.hasOwn(record, key)) return canonicalJson(value);
  }
  let out = '{';
  for (let i = 0; i < keys.names.length; i++) {
    const member = record[keys.names[i] as string];
    if (member === undefined) continue;
    out += (out.length === 1 ? '' : ',') + (keys.prefixes[i] as string) + canonicalJson(member);
  }
  return `${out}}`;
}

/** Own enumerable keys in code-unit order (as `Array.prototype.sort`), by insertion: objects here are small. */
function sortedOwnKeys(obj: Record<string, unknown>): string[] {
  const keys: string[] = [];
  for (const key in obj) {
    if (!Object.hasOwn(obj, key)) continue;
    let i = keys.length;
    keys.push(key);
    while (i > 0 && (keys[i - 1] as string) > key) {
      keys[i] = keys[i - 1] as string;
      i--;
    }
    keys[i] = key;
  }
  return keys;
}

/** Keys repeat (field names of results and documents); their JSON quoting is kept, boundedly. */
const quotedKeys = new Map<string, string>();
const QUOTED_KEYS_KEPT = 10_000;

function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = quotedString(key);
    if (quotedKeys.size < QUOTED_KEYS_KEPT) quotedKeys.set(key, quoted);
  }
  return quoted;
}

export function sha256Hex(text: string | Uint8Array): string {
  // One-shot: about twice as fast as createHash().update().digest() on small inputs.
  return hash('sha256', text, 'hex');
}

/** `sha256:<hex>` of the canonical JSON of a value. */
export function digestOf(value: unknown): string {
  return `sha256:${sha256Hex(canonicalJson(value))}`;
}
