import type { JsonText } from './json-text.ts';
import { resultsItem, type ResultsItem, type StoredResult } from './results-item.ts';

/** The text of an entry up to its run times: `["name","Passed","message",`. */
interface Head {
  readonly outcome: string;
  readonly message: string;
  readonly text: string;
}

/** The text of an entry after its run times: `,"sha256:…",{"req":1},"sha256:…"]`. */
interface Tail {
  readonly attestationDigest: string;
  readonly requirementVersions: Readonly<Record<string, number>>;
  readonly evidenceDigest: string | null;
  readonly resourceDigest: string | undefined;
  readonly text: string;
}

const quote = JSON.stringify as (value: string) => string;

/**
 * Writes results items together with their JSON text, reusing the text of what repeats from one
 * run of an attestation to the next: its name, outcome, message, digests and requirement versions.
 * Only the run times are written anew. A full reconcile writes a results item for every resource,
 * and `JSON.stringify` spends most of its time there on those constant parts (two 71-character
 * digests per entry); reusing them halves the time (bench/RESULTS.md).
 *
 * The text is exactly `JSON.stringify`'s, and it is given only when `JSON.parse` of it equals the
 * item (frozen entries of finite times and frozen version records): property-tested.
 * One encoder per reconcile: it keeps a head and a tail per attestation name.
 */
export class ResultsItemEncoder {
  private readonly heads = new Map<string, Head>();
  private readonly tails = new Map<string, Tail>();

  /** The frozen results item of `entries` and, when JSON keeps it as it is, its text. */
  encode(resource: string, resourceDigest: string, entries: readonly StoredResult[]): { readonly item: ResultsItem; readonly json: JsonText | undefined } {
    const item = resultsItem(resource, resourceDigest, entries);
    let text = `{"format":${item.format},"resource":${quote(resource)},"resourceDigest":${quote(resourceDigest)},"results":[`;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as StoredResult;
      const executedAt = entry[3];
      const durationMs = entry[4];
      // NaN, Infinity and -0 would not read back as they are; a mutable entry could change after the write.
      if (!isJsonNumber(executedAt) || !isJsonNumber(durationMs) || !Object.isFrozen(entry) || !(entry.length === 8 || (entry.length === 9 && typeof entry[8] === 'string'))) {
        return { item, json: undefined };
      }
      const tail = this.tailOf(entry);
      if (tail === undefined) return { item, json: undefined };
      if (i > 0) text += ',';
      text += `${this.headOf(entry)}${executedAt},${durationMs}${tail}`;
    }
    return { item, json: `${text}]}` as JsonText };
  }

  private headOf(entry: StoredResult): string {
    const name = entry[0];
    const head = this.heads.get(name);
    if (head !== undefined && head.outcome === entry[1] && head.message === entry[2]) return head.text;
    const text = `[${quote(name)},${quote(entry[1])},${quote(entry[2])},`;
    this.heads.set(name, { outcome: entry[1], message: entry[2], text });
    return text;
  }

  /** The tail's text, or undefined when its versions are not a frozen record of finite numbers. */
  private tailOf(entry: StoredResult): string | undefined {
    const name = entry[0];
    const versions = entry[6];
    const tail = this.tails.get(name);
    if (
      tail !== undefined &&
      tail.attestationDigest === entry[5] &&
      tail.requirementVersions === versions &&
      tail.evidenceDigest === entry[7] &&
      tail.resourceDigest === entry[8]
    ) {
      return tail.text;
    }
    if (!isFrozenVersions(versions)) return undefined;
    const evidence = entry[7] === null ? 'null' : quote(entry[7]);
    const own = entry.length > 8 ? `,${quote(entry[8] as string)}` : '';
    const text = `,${quote(entry[5])},${JSON.stringify(versions)},${evidence}${own}]`;
    this.tails.set(name, { attestationDigest: entry[5], requirementVersions: versions, evidenceDigest: entry[7], resourceDigest: entry[8], text });
    return text;
  }
}

/** A frozen plain record of finite numbers: what JSON gives back as it is. */
function isFrozenVersions(versions: Readonly<Record<string, number>>): boolean {
  if (!Object.isFrozen(versions) || Object.getPrototypeOf(versions) !== Object.prototype) return false;
  for (const key in versions) {
    const v = versions[key];
    if (key === '__proto__' || typeof v !== 'number' || !isJsonNumber(v)) return false;
  }
  return true;
}

/** A number JSON writes and reads back as it is. */
function isJsonNumber(n: number): boolean {
  return Number.isFinite(n) && !Object.is(n, -0);
}
