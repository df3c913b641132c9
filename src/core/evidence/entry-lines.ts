/**
 * Chained ledger entries written straight into bytes: the hot path of a reconcile with the
 * evidence ledger on, where every run becomes an entry.
 */
import { hash } from 'node:crypto';
import { canonicalJson } from '../digest.ts';
import { writeNumber } from '../json-bytes.ts';
import type { AttestationResult } from '../model.ts';
import type { ResourceRunsEvidence } from '../ports/evidence-ledger.ts';
import { resultOf, type StoredResult } from '../results-item.ts';
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
const EMPTY = Buffer.alloc(0);
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

/** Lines written: the chunks to append (each line ended by a newline) and the new head. */
export interface WrittenLines {
  readonly chunks: Buffer[];
  readonly head: ChainHead;
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
  /** The numbers of the result being written (set by `setParts`). */
  private durationMs = 0;
  private executedAt = 0;
  private lastCheckedAt: number | undefined;
  /** The lines being written (from `begin` to `end`): the chunks so far and the one being filled. */
  private chunks: Buffer[] = [];
  private chunk: Buffer = EMPTY;
  private start = 0;
  private used = 0;
  /** The entry being written, and the head the lines chain onto. */
  private seq = 0;
  private headSeq = 0;
  private headIsHex = true;
  /** The previous entry's hash, and where it is in `chunk` (-1 when not there). */
  private last = '';
  private lastAt = -1;
  private at = 0;
  private atPart: Buffer = EMPTY;

  /** The lines of `results` chained onto `head` at time `at`, as the chunks to append, and the new head. */
  write(head: ChainHead, results: readonly AttestationResult[], at: number): WrittenLines {
    this.begin(head, at, results.length);
    this.prototypeKeys = Object.keys(Object.prototype).length > 0;
    for (const result of results) {
      this.seq += 1;
      this.line(this.afterHex() && this.partsOf(result) ? undefined : result);
    }
    return this.end();
  }

  /**
   * `write` of the results of `batch` (`resultOf` of each run, resource by resource, run by run),
   * read from the runs as their results items store them: no result object per run.
   */
  writeRuns(head: ChainHead, batch: readonly ResourceRunsEvidence[], at: number): WrittenLines {
    let count = 0;
    for (let i = 0; i < batch.length; i++) count += (batch[i] as ResourceRunsEvidence).runs.length;
    this.begin(head, at, count);
    for (let i = 0; i < batch.length; i++) {
      const { resource, resourceDigest, runs } = batch[i] as ResourceRunsEvidence;
      for (let k = 0; k < runs.length; k++) {
        const run = runs[k] as StoredResult;
        this.seq += 1;
        this.line(this.afterHex() && this.partsOfRun(resource, resourceDigest, run) ? undefined : resultOf(resource, resourceDigest, run));
      }
    }
    return this.end();
  }

  /** Starts the lines of `count` results chained onto `head`. */
  private begin(head: ChainHead, at: number, count: number): void {
    this.chunks = [];
    // Sized for the batch (an agent's result comes alone); a line that does not fit starts another.
    this.chunk = Buffer.allocUnsafeSlow(Math.min(CHUNK_BYTES, count * LINE_BYTES_GUESS));
    this.start = 0;
    this.used = 0;
    this.seq = head.seq;
    this.headSeq = head.seq;
    this.headIsHex = isHash(head.hash);
    this.last = head.hash;
    this.lastAt = -1;
    this.at = at;
    this.atPart = Buffer.from(`{"at":${canonicalJson(at)},"prev":"`, 'latin1');
  }

  /** Whether the previous hash is hex (only the head's may be other): the usual path can write it. */
  private afterHex(): boolean {
    return this.headIsHex || this.seq > this.headSeq + 1;
  }

  /**
   * Writes the line of entry `seq`: from the parts `partsOf` set, or, given a result, from its
   * canonical body (the general path).
   */
  private line(general: AttestationResult | undefined): void {
    let text: string | undefined;
    let bound: number;
    if (general === undefined) {
      bound = LINE_FRAME_BYTES + this.atPart.length + this.lead.length + (this.evidence?.length ?? 0) + this.middle.length + this.resourcePart.length;
    } else {
      text = canonicalEntryBody({ v: ENTRY_VERSION, seq: this.seq, prev: this.last, at: this.at, result: general } satisfies EntryBody);
      // UTF-8 takes at most 3 bytes per UTF-16 unit.
      bound = LINE_FRAME_BYTES + 3 * text.length;
    }
    let chunk = this.chunk;
    if (this.used + bound > chunk.length) {
      if (this.used > this.start) this.chunks.push(chunk.subarray(this.start, this.used));
      chunk = this.chunk = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, bound));
      this.start = 0;
      this.used = 0;
      this.lastAt = -1;
    }
    const used = this.used;
    chunk.set(ENTRY_PREFIX, used);
    const hexAt = used + ENTRY_PREFIX.length;
    chunk.set(ENTRY_MIDDLE, hexAt + HEX_BYTES);
    const bodyAt = hexAt + HEX_BYTES + ENTRY_MIDDLE.length;
    const bodyEnd = text === undefined ? this.writeBody(chunk, bodyAt) : bodyAt + chunk.write(text, bodyAt, 'utf8');
    // The hash is over the body's bytes as they go to disk: what verification hashes. (As hex:
    // Node's hex digest measured twice as fast as its Buffer digest written out in hex here.)
    this.last = hash('sha256', chunk.subarray(bodyAt, bodyEnd), 'hex');
    chunk.write(this.last, hexAt, 'latin1');
    this.lastAt = hexAt;
    chunk.set(LINE_END, bodyEnd);
    this.used = bodyEnd + LINE_END.length;
  }

  private end(): WrittenLines {
    if (this.used > this.start) this.chunks.push(this.chunk.subarray(this.start, this.used));
    const written = { chunks: this.chunks, head: { seq: this.seq, hash: this.last } };
    // The chunks are the caller's now; the last one is not written into again.
    this.chunks = [];
    this.chunk = EMPTY;
    return written;
  }

  /** Writes the body of entry `seq` from the parts `partsOf` set; returns where it ends. */
  private writeBody(out: Buffer, at: number): number {
    out.set(this.atPart, at);
    let i = at + this.atPart.length;
    // The previous hash: copied within the chunk (no view per entry), or from its text at a chunk's start.
    if (this.lastAt >= 0) out.copyWithin(i, this.lastAt, this.lastAt + HEX_BYTES);
    else out.write(this.last, i, 'latin1');
    i += HEX_BYTES;
    out.set(PREV_END, i);
    i += PREV_END.length;
    i = put(out, i, this.lead);
    i = writeCanonicalNumber(out, i, this.durationMs);
    if (this.evidence !== undefined) i = put(out, i, this.evidence);
    i = put(out, i, EXECUTED_AT);
    i = writeCanonicalNumber(out, i, this.executedAt);
    if (this.lastCheckedAt !== undefined) {
      i = put(out, i, LAST_CHECKED_AT);
      i = writeCanonicalNumber(out, i, this.lastCheckedAt);
    }
    i = put(out, i, this.middle);
    i = put(out, i, this.resourcePart);
    i = put(out, i, SEQ);
    i = writeCanonicalNumber(out, i, this.seq);
    return put(out, i, BODY_END);
  }

  /**
   * Sets the kept parts of `result`; false when it is not of the usual shape (a key it should not
   * have, a field of another type), which the general path writes.
   */
  private partsOf(result: AttestationResult): boolean {
    if (!this.hasResultKeysOnly(result)) return false;
    const { attestation, attestationDigest, durationMs, evidenceDigest, executedAt, lastCheckedAt, message, outcome, requirementVersions, resource, resourceDigest } = result;
    return this.setParts(attestation, attestationDigest, durationMs, evidenceDigest, executedAt, lastCheckedAt, message, outcome, requirementVersions, resource, resourceDigest);
  }

  /**
   * `partsOf(resultOf(resource, resourceDigest, run))` without the result: its keys are the
   * result keys (`resultOf` makes one of two literals), and its fields are read as it reads them.
   */
  private partsOfRun(resource: string, resourceDigest: string, run: StoredResult): boolean {
    // A null evidence digest is an absent member; a missing own digest is the item's.
    const evidenceDigest = run[7] === null ? undefined : run[7];
    return this.setParts(run[0], run[5], run[4], evidenceDigest, run[3], undefined, run[2], run[1], run[6], resource, run[8] ?? resourceDigest);
  }

  /** Checks the fields of a result and sets its kept parts; false when one is of another type. */
  private setParts(
    attestation: unknown,
    attestationDigest: unknown,
    durationMs: unknown,
    evidenceDigest: unknown,
    executedAt: unknown,
    lastCheckedAt: unknown,
    message: unknown,
    outcome: unknown,
    requirementVersions: unknown,
    resource: unknown,
    resourceDigest: unknown,
  ): boolean {
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
    this.middle = middleOf(kept.middles, message, outcome, requirementVersions as Readonly<Record<string, number>>);
    this.resourcePart = this.resourcePartOf(resource, resourceDigest);
    this.durationMs = durationMs;
    this.executedAt = executedAt;
    this.lastCheckedAt = lastCheckedAt;
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
