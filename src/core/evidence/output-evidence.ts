import { sha256Hex } from '../digest.ts';

/** An output as the evidence ledger stores it: its JSON text and `sha256:` + the text's SHA-256. */
export interface OutputEvidence {
  readonly bytes: string;
  readonly digest: string;
}

/**
 * Outputs that many runs share and nobody changes (a provider's canned outputs, such as CEL's
 * `{expression, value}` per rule), described once when they are made: a reconcile then neither
 * serialises nor hashes them per run.
 */
const sharedOutputs = new WeakMap<object, OutputEvidence>();

/** Other outputs repeat across resources too; their digests are kept by text, boundedly. */
const digestsByText = new Map<string, string>();
const DIGESTS_BY_TEXT_KEPT = 4096;

/**
 * Deep-freezes an output and registers it as shared: every run that returns this very object
 * gets its bytes and digest without recomputing them.
 */
export function sharedOutput<T extends object>(output: T): Readonly<T> {
  deepFreeze(output);
  sharedOutputs.set(output, describe(JSON.stringify(output)));
  return output;
}

/** The stored bytes and digest of an output; undefined when there is none. */
export function outputEvidence(output: unknown): OutputEvidence | undefined {
  if (output === undefined) return undefined;
  if (typeof output === 'object' && output !== null) {
    const known = sharedOutputs.get(output);
    if (known !== undefined) return known;
  }
  return describe(JSON.stringify(output));
}

function describe(bytes: string): OutputEvidence {
  let digest = digestsByText.get(bytes);
  if (digest === undefined) {
    digest = `sha256:${sha256Hex(bytes)}`;
    if (digestsByText.size >= DIGESTS_BY_TEXT_KEPT) digestsByText.clear();
    digestsByText.set(bytes, digest);
  }
  return { bytes, digest };
}

function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
  for (const member of Object.values(value)) deepFreeze(member);
  Object.freeze(value);
}
