import { writeNumber, type JsonBytes } from './json-bytes.ts';
import { RESULTS_FORMAT, resultsItem, type ResultsItem, type StoredResult } from './results-item.ts';

/** The bytes of an entry before its run times, `["name","Passed","message",`, for one outcome and message. */
interface HeadBytes {
  readonly outcome: string;
  readonly message: string;
  readonly bytes: Buffer;
}

/** The bytes of an entry after its run times, `,"sha256:…",{"req":1},"sha256:…"]`, for one run context. */
interface TailBytes {
  readonly attestationDigest: string;
  readonly requirementVersions: Readonly<Record<string, number>>;
  readonly evidenceDigest: string | null;
  readonly resourceDigest: string | undefined;
  readonly bytes: Buffer;
}

/** The heads and tails of one attestation's latest runs, most recent first. */
interface AttestationBytes {
  readonly name: string;
  readonly heads: HeadBytes[];
  readonly tails: TailBytes[];
}

/**
 * Variants kept per attestation: a rule passes on most resources and fails on some, and each
 * outcome has its own head and evidence digest (tail); with one variant each switch rebuilt both.
 */
const VARIANTS = 4;

const COMMA = 0x2c;
const HEADER_START = Buffer.from(`{"format":${RESULTS_FORMAT},"resource":`);
const HEADER_DIGEST = Buffer.from(',"resourceDigest":');
const HEADER_END = Buffer.from(',"results":[');
const CLOSE_ITEM = Buffer.from(']}');
/** Bytes of the longest number text (`-1.7976931348623157e+308`). */
const MAX_NUMBER_BYTES = 24;
/** Items are written one after the other into slabs of this size (a bigger item gets its own). */
const SLAB_BYTES = 256 * 1024;

const quote = JSON.stringify as (value: string) => string;

/** The sequence of an item without entries: never read or written. */
const NO_SEQUENCE: AttestationBytes[] = [];

/**
 * Writes results items together with the bytes of their JSON text, reusing the bytes of what
 * repeats from one run of an attestation to the next: its name, outcome, message, digests and
 * requirement versions. Only the run times are written anew. A full reconcile writes a results
 * item for every resource, and `JSON.stringify` spends most of its time there on those constant
 * parts (two 71-character digests per entry); this takes a fraction of it (bench/RESULTS.md).
 *
 * The text is exactly `JSON.stringify`'s, and it is given only when `JSON.parse` of it equals the
 * item (frozen entries of finite times and frozen version records): property-tested.
 * One encoder per reconcile: it keeps the bytes of each attestation's latest heads and tails, and writes the
 * items into shared slabs, each item a view of its own part.
 */
export class ResultsItemEncoder {
  private readonly byAttestation = new Map<string, AttestationBytes>();
  /**
   * The attestations of the last item that began with each attestation, by position: resources
   * of one type run the same attestations in the same order, so an item's entries find theirs
   * with one look-up for the whole item (each checked by name).
   */
  private readonly sequences = new Map<string, AttestationBytes[]>();
  private slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  private used = 0;
  /** The last run time written and its text: a resource's runs mostly start in the same millisecond. */
  private lastTime = Number.NaN;
  private readonly lastTimeText = Buffer.alloc(MAX_NUMBER_BYTES);
  private lastTimeLength = 0;

  /** The frozen results item of `entries` and, when JSON keeps it as it is, its JSON bytes. */
  encode(resource: string, resourceDigest: string, entries: readonly StoredResult[]): { readonly item: ResultsItem; readonly json: JsonBytes | undefined } {
    const item = resultsItem(resource, resourceDigest, entries);
    const quotedResource = quote(resource);
    const quotedDigest = quote(resourceDigest);
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    let out = this.room(HEADER_START.length + HEADER_DIGEST.length + HEADER_END.length + 3 * (quotedResource.length + quotedDigest.length));
    let start = this.used;
    let at = put(out, start, HEADER_START);
    at += out.write(quotedResource, at, 'utf8');
    at = put(out, at, HEADER_DIGEST);
    at += out.write(quotedDigest, at, 'utf8');
    at = put(out, at, HEADER_END);
    const sequence = entries.length === 0 ? NO_SEQUENCE : this.sequenceOf((entries[0] as StoredResult)[0]);
    // One pass: an entry JSON would not give back leaves the item without text (nothing is kept
    // of what was written; the slab's next item starts where this one did).
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as StoredResult;
      const executedAt = entry[3];
      const durationMs = entry[4];
      // NaN, Infinity and -0 would not read back as they are; a mutable entry could change after the write.
      if (!isJsonNumber(executedAt) || !isJsonNumber(durationMs) || !Object.isFrozen(entry) || !(entry.length === 8 || (entry.length === 9 && typeof entry[8] === 'string'))) {
        return { item, json: undefined };
      }
      let known = sequence[i];
      if (known === undefined || known.name !== entry[0]) {
        known = this.byAttestation.get(entry[0]) ?? this.added(entry[0]);
        sequence[i] = known;
      }
      const head = headOf(known.heads, entry);
      const tail = tailOf(known.tails, entry);
      if (tail === undefined) return { item, json: undefined };
      const need = 1 + head.length + 2 * MAX_NUMBER_BYTES + 1 + tail.length + CLOSE_ITEM.length;
      if (at + need > out.length) {
        // The item outgrew the slab: what is written of it moves to a new one.
        const fresh = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, 2 * (at - start + need)));
        out.copy(fresh, 0, start, at);
        at -= start;
        start = 0;
        this.slab = out = fresh;
        this.used = 0;
      }
      if (i > 0) out[at++] = COMMA;
      at = put(out, at, head);
      at = this.writeTime(out, at, executedAt);
      out[at++] = COMMA;
      at = writeNumber(out, at, durationMs);
      at = put(out, at, tail);
    }
    at = put(out, at, CLOSE_ITEM);
    this.used = at;
    return { item, json: out.subarray(start, at) as JsonBytes };
  }

  /** The slab with `bytes` free after what it holds, a new one when it has not. */
  private room(bytes: number): Buffer {
    if (this.used + bytes > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, bytes));
      this.used = 0;
    }
    return this.slab;
  }

  private sequenceOf(first: string): AttestationBytes[] {
    let sequence = this.sequences.get(first);
    if (sequence === undefined) this.sequences.set(first, (sequence = []));
    return sequence;
  }

  /** Writes a run time, copying the text of the last one when it is the same. */
  private writeTime(out: Buffer, at: number, time: number): number {
    const text = this.lastTimeText;
    if (time === this.lastTime) {
      const length = this.lastTimeLength;
      for (let k = 0; k < length; k++) out[at + k] = text[k] as number;
      return at + length;
    }
    const end = writeNumber(out, at, time);
    out.copy(text, 0, at, end);
    this.lastTime = time;
    this.lastTimeLength = end - at;
    return end;
  }

  private added(name: string): AttestationBytes {
    const known: AttestationBytes = { name, heads: [], tails: [] };
    this.byAttestation.set(name, known);
    return known;
  }
}

/** Copies `bytes` into `out` at `at`; returns where they end. */
function put(out: Buffer, at: number, bytes: Buffer): number {
  out.set(bytes, at);
  return at + bytes.length;
}

/** The head of `entry` from an attestation's kept heads, made and kept when none matches. */
function headOf(heads: HeadBytes[], entry: StoredResult): Buffer {
  for (let i = 0; i < heads.length; i++) {
    const h = heads[i] as HeadBytes;
    if (h.outcome === entry[1] && h.message === entry[2]) return h.bytes;
  }
  const bytes = Buffer.from(`[${quote(entry[0])},${quote(entry[1])},${quote(entry[2])},`, 'utf8');
  keep(heads, { outcome: entry[1], message: entry[2], bytes });
  return bytes;
}

/**
 * The tail of `entry` from an attestation's kept tails, made and kept when none matches; undefined
 * when its versions are not a frozen record of finite numbers (JSON would not give them back).
 */
function tailOf(tails: TailBytes[], entry: StoredResult): Buffer | undefined {
  const versions = entry[6];
  for (let i = 0; i < tails.length; i++) {
    const t = tails[i] as TailBytes;
    if (t.attestationDigest === entry[5] && t.requirementVersions === versions && t.evidenceDigest === entry[7] && t.resourceDigest === entry[8]) return t.bytes;
  }
  if (!isFrozenVersions(versions)) return undefined;
  const evidence = entry[7] === null ? 'null' : quote(entry[7]);
  const own = entry.length > 8 ? `,${quote(entry[8] as string)}` : '';
  const bytes = Buffer.from(`,${quote(entry[5])},${JSON.stringify(versions)},${evidence}${own}]`, 'utf8');
  keep(tails, { attestationDigest: entry[5], requirementVersions: versions, evidenceDigest: entry[7], resourceDigest: entry[8], bytes });
  return bytes;
}

/** Keeps `variant` first, dropping the oldest beyond VARIANTS (a per-resource message never piles up). */
function keep<V>(variants: V[], variant: V): void {
  if (variants.length >= VARIANTS) variants.pop();
  variants.unshift(variant);
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
