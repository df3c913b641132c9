/**
 * Chained ledger entries written straight into bytes: the hot path of a reconcile with the
 * evidence ledger on, where every run becomes an entry.
 */
import { hash } from 'node:crypto';
import { canonicalJson } from '../digest.ts';
import { writeNumber } from '../json-bytes.ts';
import type { AttestationResult } from '../model.ts';
import { canonicalEntryBody, ENTRY_VERSION, isHash, RESULT_KEYS, type ChainHead, type EntryBody } from './chain.ts';

const ENTRY_PREFIX = Buffer.from('{"hash":"', 'latin1');
const ENTRY_MIDDLE = Buffer.from('","entry":', 'latin1');
const LINE_END = Buffer.from('}\n', 'latin1');
const PREV_END = Buffer.from('","result":', 'latin1');
const EXECUTED_AT = Buffer.from(',"executedAt":', 'latin1');
const LAST_CHECKED_AT = Buffer.from(',"lastCheckedAt":', 'latin1');
const SEQ = Buffer.from(',"seq":', 'latin1');
const BODY_END = Buffer.from(`,"v":${ENTRY_VERSION}}`, 'latin1');
const NULL = Buffer.from('null', 'latin1');
const HEX_BYTES = 64;
/** Bytes of the longest number text (`-1.7976931348623157e+308`). */
const MAX_NUMBER_BYTES = 24;
/** What a line takes besides its kept parts and its numbers. */
const LINE_FRAME_BYTES =
  ENTRY_PREFIX.length + HEX_BYTES + ENTRY_MIDDLE.length + HEX_BYTES + PREV_END.length + EXECUTED_AT.length + LAST_CHECKED_AT.length + SEQ.length + BODY_END.length + LINE_END.length + 4 * MAX_NUMBER_BYTES;
/** Lines are written one after the other into chunks of up to this size (a bigger line gets its own). */
const CHUNK_BYTES = 1024 * 1024;
/** About what a line of a result with a short message takes (600–700 bytes). */
const LINE_BYTES_GUESS = 1024;
/** Variants kept per attestation, most recent first (as the results encoder: outcomes alternate). */
const VARIANTS = 4;

/** `{"attestation":"a","attestationDigest":"sha256:…","durationMs":` for one attestation digest. */
interface LeadBytes {
  readonly attestationDigest: string;
  readonly bytes: Buffer;
}

/** `,"message":"…","outcome":"…","requirementVersions":{…}` for one message, outcome and version record. */
interface MiddleBytes {
  readonly message: string;
  readonly outcome: string;
  readonly requirementVersions: Readonly<Record<string, number>>;
  readonly bytes: Buffer;
}

interface AttestationBytes {
  readonly leads: LeadBytes[];
  readonly middles: MiddleBytes[];
}

/**
 * Writes results as chained entry lines, the bytes `encodeEntry` gives each line, joined by and
 * ending with a newline: exactly what the ledger appends (property-tested against `chainResults`).
 *
 * The parts of a result's canonical text that repeat from one run of an attestation to the next
 * (its name, digests, message, outcome, requirement versions) and from one attestation of a
 * resource to the next (the resource and its digest) are kept as UTF-8 bytes; each body is then
 * copied together from them and its numbers straight into the chunk that is appended, and hashed
 * there, rather than built as a string, encoded, joined with the others and encoded again.
 * (Quoted JSON strings hold no lone surrogate, so their bytes side by side are the bytes of
 * their text side by side.) One writer per ledger.
 */
export class EntryLineWriter {
  private readonly byAttestation = new Map<string, AttestationBytes>();
  /** `,"evidenceDigest":"sha256:…"` by digest: few (one per distinct output), repeated across resources. */
  private readonly evidenceParts = new Map<string, Buffer>();
  private lastResource: { readonly resource: string; readonly resourceDigest: string; readonly bytes: Buffer } | undefined;
  /** The kept parts of the result being written (set by `partsOf`; fields, not an object per entry). */
  private lead: Buffer = NULL;
  private evidence: Buffer | undefined;
  private middle: Buffer = NULL;
  private resourcePart: Buffer = NULL;
  /** The key list of the last plain result found to hold result keys only (see `hasResultKeysOnly`). */
  private goodKeys: readonly string[] = [];
  /** Whether Object.prototype has an enumerable key (set per `write`): `for...in` would list it too. */
  private prototypeKeys = false;

  /** The lines of `results` chained onto `head` at time `at`, as the chunks to append, and the new head. */
  write(head: ChainHead, results: readonly AttestationResult[], at: number): { readonly chunks: Buffer[]; readonly head: ChainHead } {
    const chunks: Buffer[] = [];
    // Sized for the batch (an agent's result comes alone); a line that does not fit starts another.
    let chunk = Buffer.allocUnsafeSlow(Math.min(CHUNK_BYTES, results.length * LINE_BYTES_GUESS));
    let start = 0;
    let used = 0;
    let seq = head.seq;
    // The previous entry's hash is `last`; once written in this chunk, it is copied from there.
    let last = head.hash;
    let lastAt = -1;
    // Only the head's hash may be other than hex: an entry after it takes the general path.
    const headIsHex = isHash(head.hash);
    const atPart = Buffer.from(`{"at":${canonicalJson(at)},"prev":"`, 'latin1');
    this.prototypeKeys = Object.keys(Object.prototype).length > 0;
    for (const result of results) {
      seq += 1;
      const usual = (headIsHex || seq > head.seq + 1) && this.partsOf(result);
      let text: string | undefined;
      let bound: number;
      if (usual) {
        bound = LINE_FRAME_BYTES + atPart.length + this.lead.length + (this.evidence?.length ?? 0) + this.middle.length + this.resourcePart.length;
      } else {
        text = canonicalEntryBody({ v: ENTRY_VERSION, seq, prev: last, at, result } satisfies EntryBody);
        // UTF-8 takes at most 3 bytes per UTF-16 unit.
        bound = LINE_FRAME_BYTES + 3 * text.length;
      }
      if (used + bound > chunk.length) {
        if (used > start) chunks.push(chunk.subarray(start, used));
        chunk = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, bound));
        start = 0;
        used = 0;
        lastAt = -1;
      }
      chunk.set(ENTRY_PREFIX, used);
      const hexAt = used + ENTRY_PREFIX.length;
      chunk.set(ENTRY_MIDDLE, hexAt + HEX_BYTES);
      const bodyAt = hexAt + HEX_BYTES + ENTRY_MIDDLE.length;
      const bodyEnd = text === undefined ? this.writeBody(chunk, bodyAt, atPart, last, lastAt, seq, result) : bodyAt + chunk.write(text, bodyAt, 'utf8');
      // The hash is over the body's bytes as they go to disk: what verification hashes. (As hex:
      // Node's hex digest measured twice as fast as its Buffer digest written out in hex here.)
      last = hash('sha256', chunk.subarray(bodyAt, bodyEnd), 'hex');
      chunk.write(last, hexAt, 'latin1');
      lastAt = hexAt;
      chunk.set(LINE_END, bodyEnd);
      used = bodyEnd + LINE_END.length;
    }
    if (used > start) chunks.push(chunk.subarray(start, used));
    return { chunks, head: { seq, hash: last } };
  }

  /** Writes the body of a result whose parts `partsOf` has set; returns where it ends. */
  private writeBody(out: Buffer, at: number, atPart: Buffer, prev: string, prevAt: number, seq: number, result: AttestationResult): number {
    out.set(atPart, at);
    let i = at + atPart.length;
    // Copied within the chunk (no view per entry), or written from the text at a chunk's start.
    if (prevAt >= 0) out.copyWithin(i, prevAt, prevAt + HEX_BYTES);
    else out.write(prev, i, 'latin1');
    i += HEX_BYTES;
    out.set(PREV_END, i);
    i += PREV_END.length;
    i = put(out, i, this.lead);
    i = writeCanonicalNumber(out, i, result.durationMs);
    if (this.evidence !== undefined) i = put(out, i, this.evidence);
    i = put(out, i, EXECUTED_AT);
    i = writeCanonicalNumber(out, i, result.executedAt);
    if (result.lastCheckedAt !== undefined) {
      i = put(out, i, LAST_CHECKED_AT);
      i = writeCanonicalNumber(out, i, result.lastCheckedAt);
    }
    i = put(out, i, this.middle);
    i = put(out, i, this.resourcePart);
    i = put(out, i, SEQ);
    i = writeCanonicalNumber(out, i, seq);
    return put(out, i, BODY_END);
  }

  /**
   * Sets the kept parts of `result`; false when it is not of the usual shape (a key it should not
   * have, a field of another type), which the general path writes.
   */
  private partsOf(result: AttestationResult): boolean {
    if (!this.hasResultKeysOnly(result)) return false;
    const { attestation, attestationDigest, durationMs, evidenceDigest, executedAt, lastCheckedAt, message, outcome, requirementVersions, resource, resourceDigest } = result;
    if (
      typeof attestation !== 'string' ||
      typeof attestationDigest !== 'string' ||
      typeof durationMs !== 'number' ||
      (evidenceDigest !== undefined && typeof evidenceDigest !== 'string') ||
      typeof executedAt !== 'number' ||
      (lastCheckedAt !== undefined && typeof lastCheckedAt !== 'number') ||
      typeof message !== 'string' ||
      typeof outcome !== 'string' ||
      typeof requirementVersions !== 'object' ||
      requirementVersions === null ||
      typeof resource !== 'string' ||
      typeof resourceDigest !== 'string'
    ) {
      return false;
    }
    let kept = this.byAttestation.get(attestation);
    if (kept === undefined) this.byAttestation.set(attestation, (kept = { leads: [], middles: [] }));
    this.lead = leadOf(kept.leads, attestation, attestationDigest);
    this.evidence = evidenceDigest === undefined ? undefined : this.evidencePart(evidenceDigest);
    this.middle = middleOf(kept.middles, message, outcome, requirementVersions);
    this.resourcePart = this.resourcePartOf(resource, resourceDigest);
    return true;
  }

  /**
   * Whether every key `for...in` lists is a result key and the result's own. For a plain object
   * (Object.prototype unpolluted) those are `Object.keys`: results of a batch mostly come from one
   * literal, so their key lists are the same strings in the same order, and the last list found
   * good is compared entry by entry before any key is looked up.
   */
  private hasResultKeysOnly(result: AttestationResult): boolean {
    if (Object.getPrototypeOf(result) !== Object.prototype || this.prototypeKeys) {
      for (const key in result) {
        if (!RESULT_KEYS.set.has(key) || !Object.hasOwn(result, key)) return false;
      }
      return true;
    }
    const keys = Object.keys(result);
    const good = this.goodKeys;
    if (keys.length === good.length) {
      let same = true;
      for (let i = 0; i < keys.length && same; i++) same = keys[i] === good[i];
      if (same) return true;
    }
    for (let i = 0; i < keys.length; i++) if (!RESULT_KEYS.set.has(keys[i] as string)) return false;
    this.goodKeys = keys;
    return true;
  }

  private evidencePart(digest: string): Buffer {
    let part = this.evidenceParts.get(digest);
    if (part === undefined) {
      part = Buffer.from(`,"evidenceDigest":${canonicalJson(digest)}`, 'utf8');
      // Bounded: a provider whose every output differs would otherwise grow it without end.
      if (this.evidenceParts.size >= 10_000) this.evidenceParts.clear();
      this.evidenceParts.set(digest, part);
    }
    return part;
  }

  /** The results of a resource come together: its part is made once for all of them. */
  private resourcePartOf(resource: string, resourceDigest: string): Buffer {
    const last = this.lastResource;
    if (last !== undefined && last.resource === resource && last.resourceDigest === resourceDigest) return last.bytes;
    const bytes = Buffer.from(`,"resource":${canonicalJson(resource)},"resourceDigest":${canonicalJson(resourceDigest)}}`, 'utf8');
    this.lastResource = { resource, resourceDigest, bytes };
    return bytes;
  }
}

function leadOf(leads: LeadBytes[], attestation: string, attestationDigest: string): Buffer {
  for (let i = 0; i < leads.length; i++) {
    const lead = leads[i] as LeadBytes;
    if (lead.attestationDigest === attestationDigest) return lead.bytes;
  }
  const bytes = Buffer.from(`{"attestation":${canonicalJson(attestation)},"attestationDigest":${canonicalJson(attestationDigest)},"durationMs":`, 'utf8');
  keep(leads, { attestationDigest, bytes });
  return bytes;
}

function middleOf(middles: MiddleBytes[], message: string, outcome: string, requirementVersions: Readonly<Record<string, number>>): Buffer {
  for (let i = 0; i < middles.length; i++) {
    const m = middles[i] as MiddleBytes;
    if (m.requirementVersions === requirementVersions && m.outcome === outcome && m.message === message) return m.bytes;
  }
  const bytes = Buffer.from(`,"message":${canonicalJson(message)},"outcome":${canonicalJson(outcome)},"requirementVersions":${canonicalJson(requirementVersions)}`, 'utf8');
  // Kept only when it cannot change: a frozen record of numbers (one holding objects could change
  // under it). A record found above by identity was checked when it was kept.
  if (Object.isFrozen(requirementVersions) && Object.values(requirementVersions).every((v) => typeof v === 'number')) keep(middles, { message, outcome, requirementVersions, bytes });
  return bytes;
}

function put(out: Buffer, at: number, part: Buffer): number {
  out.set(part, at);
  return at + part.length;
}

/** `canonicalJson(n)`: the number as JSON writes it, or `null` when it is not finite. */
function writeCanonicalNumber(out: Buffer, at: number, n: number): number {
  return Number.isFinite(n) ? writeNumber(out, at, n) : put(out, at, NULL);
}

/** Keeps `variant` first, dropping the oldest beyond VARIANTS. */
function keep<V>(variants: V[], variant: V): void {
  if (variants.length >= VARIANTS) variants.pop();
  variants.unshift(variant);
}
