/**
 * The evidence chain: pure entry and checkpoint encoding, no I/O.
 *
 * An entry line is `{"hash":"<hex>","entry":<body>}` where `<body>` is the canonical JSON of
 * `{v, seq, prev, at, result}` and `<hex>` is SHA-256 over exactly those body bytes. The body
 * holds the previous entry's hash, so changing, removing, inserting or reordering any entry
 * breaks the link of the one after it (and the head for the last one). Verification hashes the
 * bytes as stored, never a re-encoding, so what is checked is what is on disk.
 */
import { outputEvidence } from './output-evidence.ts';
import { canonicalJson, canonicalJsonOfKnownKeys, knownKeys, sha256Hex } from '../digest.ts';
import type { AttestationResult } from '../model.ts';
import type { EvidenceSigner } from '../ports/evidence-ledger.ts';

export const ENTRY_VERSION = 1;
/** `prev` of the first entry and of the first checkpoint. */
export const GENESIS_HASH = '0'.repeat(64);

export interface EntryBody {
  readonly v: typeof ENTRY_VERSION;
  /** 1-based position in the chain. */
  readonly seq: number;
  /** Hash of entry `seq - 1` (GENESIS_HASH for the first). */
  readonly prev: string;
  /** When the entry was appended, epoch milliseconds. */
  readonly at: number;
  /** The attestation result; its `evidenceDigest` names the stored output. */
  readonly result: AttestationResult;
}

export interface EvidenceEntry extends EntryBody {
  readonly hash: string;
}

/** The last committed entry: `seq` entries exist, the last one hashes to `hash`. */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

export const EMPTY_HEAD: ChainHead = Object.freeze({ seq: 0, hash: GENESIS_HASH });

const ENTRY_PREFIX = '{"hash":"';
const ENTRY_MIDDLE = '","entry":';
const HEX64 = /^[0-9a-f]{64}$/;

export function isHash(value: unknown): value is string {
  return typeof value === 'string' && HEX64.test(value);
}

/** The keys of a result, in the order every entry encodes them. */
export const RESULT_KEYS = knownKeys([
  'resource',
  'attestation',
  'outcome',
  'message',
  'executedAt',
  'durationMs',
  'attestationDigest',
  'resourceDigest',
  'requirementVersions',
  'evidenceDigest',
  'lastCheckedAt',
] satisfies ReadonlyArray<keyof AttestationResult>);
const BODY_KEYS: ReadonlySet<string> = new Set(['v', 'seq', 'prev', 'at', 'result'] satisfies ReadonlyArray<keyof EntryBody>);

/**
 * `canonicalJson(body)`, written out for the body's five keys and the result's known ones (every
 * entry is encoded here); anything else about the body takes the general path.
 */
export function canonicalEntryBody(body: EntryBody): string {
  let keys = 0;
  for (const key in body) {
    if (!BODY_KEYS.has(key) || !Object.hasOwn(body, key) || body[key as keyof EntryBody] === undefined) return canonicalJson(body);
    keys++;
  }
  if (keys !== BODY_KEYS.size || typeof body.result !== 'object' || body.result === null) return canonicalJson(body);
  return `{"at":${canonicalJson(body.at)},"prev":${canonicalJson(body.prev)},"result":${canonicalJsonOfKnownKeys(body.result, RESULT_KEYS)},"seq":${canonicalJson(body.seq)},"v":${canonicalJson(body.v)}}`;
}

/** Encodes one entry as its ledger line (no newline) and returns its hash. */
export function encodeEntry(body: EntryBody): { readonly line: string; readonly hash: string } {
  const text = canonicalEntryBody(body);
  const hash = sha256Hex(text);
  return { line: `${ENTRY_PREFIX}${hash}${ENTRY_MIDDLE}${text}}`, hash };
}

/** Chains results onto `head`: the entries to append, in order, and the new head. */
export function chainResults(head: ChainHead, results: readonly AttestationResult[], at: number): { lines: string[]; entries: EvidenceEntry[]; head: ChainHead } {
  const lines: string[] = [];
  const entries: EvidenceEntry[] = [];
  let { seq, hash } = head;
  for (const result of results) {
    const body: EntryBody = { v: ENTRY_VERSION, seq: seq + 1, prev: hash, at, result };
    const encoded = encodeEntry(body);
    lines.push(encoded.line);
    entries.push({ ...body, hash: encoded.hash });
    seq += 1;
    hash = encoded.hash;
  }
  return { lines, entries, head: { seq, hash } };
}

export type EntryLineParse =
  | { readonly ok: true; readonly entry: EvidenceEntry; readonly storedHash: string; readonly actualHash: string }
  | { readonly ok: false; readonly reason: string };

/**
 * Reads one ledger line: the framing, the stored hash, the hash of the body bytes as stored,
 * and the body's fields. A line whose hashes differ still parses (`storedHash !== actualHash`),
 * so the caller can say which check failed.
 */
export function parseEntryLine(line: string): EntryLineParse {
  if (!line.startsWith(ENTRY_PREFIX) || !line.endsWith('}')) return { ok: false, reason: 'not an entry line' };
  const storedHash = line.slice(ENTRY_PREFIX.length, ENTRY_PREFIX.length + 64);
  if (!isHash(storedHash)) return { ok: false, reason: 'hash is not 64 hex digits' };
  const bodyStart = ENTRY_PREFIX.length + 64;
  if (line.slice(bodyStart, bodyStart + ENTRY_MIDDLE.length) !== ENTRY_MIDDLE) return { ok: false, reason: 'not an entry line' };
  const text = line.slice(bodyStart + ENTRY_MIDDLE.length, line.length - 1);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `entry is not JSON (${error instanceof Error ? error.message : String(error)})` };
  }
  const problem = entryBodyProblem(body);
  if (problem) return { ok: false, reason: problem };
  return { ok: true, entry: { ...(body as EntryBody), hash: storedHash }, storedHash, actualHash: sha256Hex(text) };
}

function entryBodyProblem(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'entry is not an object';
  const b = body as Record<string, unknown>;
  if (b.v !== ENTRY_VERSION) return `unsupported entry version ${String(b.v)}`;
  if (!Number.isSafeInteger(b.seq) || (b.seq as number) < 1) return 'seq is not a positive integer';
  if (!isHash(b.prev)) return 'prev is not a hash';
  if (typeof b.at !== 'number') return 'at is not a number';
  const r = b.result;
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return 'result is not an object';
  const result = r as Record<string, unknown>;
  if (typeof result.resource !== 'string' || typeof result.attestation !== 'string') return 'result has no resource or attestation';
  if (result.evidenceDigest !== undefined && !isEvidenceDigest(result.evidenceDigest)) return 'result.evidenceDigest is not sha256:<hex>';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------------------------

/**
 * The bytes an output is stored as: its JSON text, exactly what the result's `evidenceDigest`
 * (`sha256:` + SHA-256 of these bytes) is computed over by reconcile.
 */
export function evidenceBytes(output: unknown): string | undefined {
  return outputEvidence(output)?.bytes;
}

export function evidenceDigestOf(output: unknown): string | undefined {
  return outputEvidence(output)?.digest;
}

export function isEvidenceDigest(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith('sha256:') && isHash(value.slice(7));
}

/** The hex part of `sha256:<hex>`. */
export function digestHex(digest: string): string {
  return digest.slice('sha256:'.length);
}

// ---------------------------------------------------------------------------------------------
// Checkpoints: signed statements of the head
// ---------------------------------------------------------------------------------------------

export const CHECKPOINT_VERSION = 1;

export interface CheckpointBody {
  readonly v: typeof CHECKPOINT_VERSION;
  /** 1-based position among checkpoints. */
  readonly n: number;
  /** The chain head it signs. */
  readonly seq: number;
  readonly hash: string;
  readonly at: number;
  /** Hash of the previous checkpoint's body (GENESIS_HASH for the first): deleting one breaks the next. */
  readonly prev: string;
  readonly keyId: string;
  readonly algorithm: string;
}

export interface Checkpoint extends CheckpointBody {
  /** SHA-256 of the canonical JSON of the body: what the next checkpoint's `prev` holds. */
  readonly digest: string;
  /** Base64 signature over the canonical JSON of the body. */
  readonly signature: string;
}

/** What a signer signs: the canonical JSON of the checkpoint body (digest and signature left out). */
export function checkpointPayload(cp: CheckpointBody): string {
  const body: CheckpointBody = { v: cp.v, n: cp.n, seq: cp.seq, hash: cp.hash, at: cp.at, prev: cp.prev, keyId: cp.keyId, algorithm: cp.algorithm };
  return canonicalJson(body);
}

/** Signs `head` as the next checkpoint after the head's last one: the checkpoint and its ledger line. */
export async function signCheckpoint(head: HeadRecord, now: number, signer: EvidenceSigner): Promise<{ readonly line: string; readonly checkpoint: Checkpoint }> {
  const body: CheckpointBody = {
    v: CHECKPOINT_VERSION,
    n: head.checkpoints.n + 1,
    seq: head.seq,
    hash: head.hash,
    at: now,
    prev: head.checkpoints.digest,
    keyId: signer.keyId,
    algorithm: signer.algorithm,
  };
  const signature = await signer.sign(Buffer.from(checkpointPayload(body), 'utf8'));
  return encodeCheckpoint(body, signature);
}

export function encodeCheckpoint(body: CheckpointBody, signature: Uint8Array): { readonly line: string; readonly checkpoint: Checkpoint } {
  const payload = checkpointPayload(body);
  const checkpoint: Checkpoint = { ...body, digest: sha256Hex(payload), signature: Buffer.from(signature).toString('base64') };
  return { line: `{"checkpoint":${payload},"signature":${JSON.stringify(checkpoint.signature)}}`, checkpoint };
}

export type CheckpointLineParse = { readonly ok: true; readonly checkpoint: Checkpoint } | { readonly ok: false; readonly reason: string };

export function parseCheckpointLine(line: string): CheckpointLineParse {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (error) {
    return { ok: false, reason: `not JSON (${error instanceof Error ? error.message : String(error)})` };
  }
  if (typeof json !== 'object' || json === null) return { ok: false, reason: 'not an object' };
  const { checkpoint: body, signature } = json as Record<string, unknown>;
  if (typeof signature !== 'string') return { ok: false, reason: 'no signature' };
  if (typeof body !== 'object' || body === null) return { ok: false, reason: 'no checkpoint' };
  const b = body as Record<string, unknown>;
  if (b.v !== CHECKPOINT_VERSION || !Number.isSafeInteger(b.n) || !Number.isSafeInteger(b.seq) || !isHash(b.hash) || !isHash(b.prev)) {
    return { ok: false, reason: 'checkpoint fields missing or malformed' };
  }
  if (typeof b.at !== 'number' || typeof b.keyId !== 'string' || typeof b.algorithm !== 'string') return { ok: false, reason: 'checkpoint fields missing or malformed' };
  const cp = body as unknown as CheckpointBody;
  return { ok: true, checkpoint: { ...cp, digest: sha256Hex(checkpointPayload(cp)), signature } };
}

// ---------------------------------------------------------------------------------------------
// Head record: the commit point of both files
// ---------------------------------------------------------------------------------------------

/** What the head file says is committed: entries, checkpoints and the byte length of each file. */
export interface HeadRecord {
  readonly v: 1;
  readonly seq: number;
  readonly hash: string;
  readonly bytes: number;
  readonly checkpoints: { readonly n: number; readonly digest: string; readonly bytes: number };
  readonly at: number;
}

export const EMPTY_HEAD_RECORD: HeadRecord = Object.freeze({
  v: 1,
  seq: 0,
  hash: GENESIS_HASH,
  bytes: 0,
  checkpoints: Object.freeze({ n: 0, digest: GENESIS_HASH, bytes: 0 }),
  at: 0,
});

export function parseHeadRecord(text: string): HeadRecord | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null) return undefined;
  const h = json as Record<string, unknown>;
  const c = h.checkpoints as Record<string, unknown> | undefined;
  const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (h.v !== 1 || !count(h.seq) || !isHash(h.hash) || !count(h.bytes) || typeof h.at !== 'number') return undefined;
  if (typeof c !== 'object' || c === null || !count(c.n) || !isHash(c.digest) || !count(c.bytes)) return undefined;
  return json as HeadRecord;
}
