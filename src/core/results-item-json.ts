import type { JsonBytes } from './json-bytes.ts';
import { resultsItem, type ResultsItem, type StoredResult } from './results-item.ts';

/**
 * The bytes of one attestation's entry apart from its run times, as its last run had them:
 * `["name","Passed","message",` before the times and `,"sha256:…",{"req":1},"sha256:…"]` after.
 */
interface EntryBytes {
  readonly outcome: string;
  readonly message: string;
  readonly head: Buffer;
  readonly attestationDigest: string;
  readonly requirementVersions: Readonly<Record<string, number>>;
  readonly evidenceDigest: string | null;
  readonly resourceDigest: string | undefined;
  readonly tail: Buffer;
}

const COMMA = 0x2c;
const CLOSE_ITEM = Buffer.from(']}');
/** Bytes of the longest number text (`-1.7976931348623157e+308`). */
const MAX_NUMBER_BYTES = 24;
/** Items are written one after the other into slabs of this size (a bigger item gets its own). */
const SLAB_BYTES = 256 * 1024;

const quote = JSON.stringify as (value: string) => string;

/**
 * Writes results items together with the bytes of their JSON text, reusing the bytes of what
 * repeats from one run of an attestation to the next: its name, outcome, message, digests and
 * requirement versions. Only the run times are written anew. A full reconcile writes a results
 * item for every resource, and `JSON.stringify` spends most of its time there on those constant
 * parts (two 71-character digests per entry); this takes a fraction of it (bench/RESULTS.md).
 *
 * The text is exactly `JSON.stringify`'s, and it is given only when `JSON.parse` of it equals the
 * item (frozen entries of finite times and frozen version records): property-tested.
 * One encoder per reconcile: it keeps the bytes of each attestation's last entry, and writes the
 * items into shared slabs, each item a view of its own part.
 */
export class ResultsItemEncoder {
  private readonly byAttestation = new Map<string, EntryBytes>();
  /** The entries' bytes of the item being written (reused from item to item). */
  private readonly row: EntryBytes[] = [];
  private slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  private used = 0;

  /** The frozen results item of `entries` and, when JSON keeps it as it is, its JSON bytes. */
  encode(resource: string, resourceDigest: string, entries: readonly StoredResult[]): { readonly item: ResultsItem; readonly json: JsonBytes | undefined } {
    const item = resultsItem(resource, resourceDigest, entries);
    const header = `{"format":${item.format},"resource":${quote(resource)},"resourceDigest":${quote(resourceDigest)},"results":[`;
    const row = this.row;
    row.length = 0;
    // UTF-8 takes at most 3 bytes per UTF-16 unit; the times at most MAX_NUMBER_BYTES each.
    let bound = 3 * header.length + entries.length + CLOSE_ITEM.length;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as StoredResult;
      // NaN, Infinity and -0 would not read back as they are; a mutable entry could change after the write.
      if (!isJsonNumber(entry[3]) || !isJsonNumber(entry[4]) || !Object.isFrozen(entry) || !(entry.length === 8 || (entry.length === 9 && typeof entry[8] === 'string'))) {
        return { item, json: undefined };
      }
      const bytes = this.bytesOf(entry);
      if (bytes === undefined) return { item, json: undefined };
      row.push(bytes);
      bound += bytes.head.length + 2 * MAX_NUMBER_BYTES + bytes.tail.length;
    }
    if (this.used + bound > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, bound));
      this.used = 0;
    }
    const out = this.slab;
    const start = this.used;
    let at = start + out.write(header, start, 'utf8');
    for (let i = 0; i < row.length; i++) {
      const bytes = row[i] as EntryBytes;
      const entry = entries[i] as StoredResult;
      if (i > 0) out[at++] = COMMA;
      out.set(bytes.head, at);
      at = writeNumber(out, at + bytes.head.length, entry[3]);
      out[at++] = COMMA;
      at = writeNumber(out, at, entry[4]);
      out.set(bytes.tail, at);
      at += bytes.tail.length;
    }
    out.set(CLOSE_ITEM, at);
    at += CLOSE_ITEM.length;
    this.used = at;
    return { item, json: out.subarray(start, at) as JsonBytes };
  }

  /** The entry's bytes apart from its times, or undefined when its versions are not a frozen record of finite numbers. */
  private bytesOf(entry: StoredResult): EntryBytes | undefined {
    const name = entry[0];
    const last = this.byAttestation.get(name);
    const versions = entry[6];
    const sameHead = last !== undefined && last.outcome === entry[1] && last.message === entry[2];
    const sameTail =
      last !== undefined &&
      last.attestationDigest === entry[5] &&
      last.requirementVersions === versions &&
      last.evidenceDigest === entry[7] &&
      last.resourceDigest === entry[8];
    if (sameHead && sameTail) return last;
    if (!sameTail && !isFrozenVersions(versions)) return undefined;
    const evidence = entry[7] === null ? 'null' : quote(entry[7]);
    const own = entry.length > 8 ? `,${quote(entry[8] as string)}` : '';
    const bytes: EntryBytes = {
      outcome: entry[1],
      message: entry[2],
      head: sameHead ? last.head : Buffer.from(`[${quote(name)},${quote(entry[1])},${quote(entry[2])},`, 'utf8'),
      attestationDigest: entry[5],
      requirementVersions: versions,
      evidenceDigest: entry[7],
      resourceDigest: entry[8],
      tail: sameTail ? last.tail : Buffer.from(`,${quote(entry[5])},${JSON.stringify(versions)},${evidence}${own}]`, 'utf8'),
    };
    this.byAttestation.set(name, bytes);
    return bytes;
  }
}

/** Writes a number as JSON writes it (`String(n)`); digit by digit for safe non-negative integers (run times). */
function writeNumber(out: Buffer, at: number, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) return at + out.write(String(n), at, 'latin1');
  let digits = 1;
  for (let p = 10; p <= n; p *= 10) digits++;
  const end = at + digits;
  let i = end;
  let rest = n;
  while (rest >= 10) {
    const q = Math.floor(rest / 10);
    out[--i] = 0x30 + (rest - q * 10);
    rest = q;
  }
  out[--i] = 0x30 + rest;
  return end;
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
