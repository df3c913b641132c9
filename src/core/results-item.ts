import type { AttestationOutcome, AttestationResult } from './model.ts';

/**
 * One result as a results item stores it: positional, because a results item is rewritten on
 * every change of its resource and its JSON is most of what a reconcile writes (half the bytes
 * of the keyed form, and half the serialising time). The resource is the item's; the resource
 * digest is the item's unless this result was made against another one (then it is the 9th).
 */
export type StoredResult = readonly [
  attestation: string,
  outcome: AttestationOutcome,
  message: string,
  executedAt: number,
  durationMs: number,
  attestationDigest: string,
  requirementVersions: Readonly<Record<string, number>>,
  evidenceDigest: string | null,
  resourceDigest?: string,
];

/** The version of the stored form below; items without `format` are the first, keyed form. */
export const RESULTS_FORMAT = 2;

/**
 * The stored item that holds the latest results of one resource (`RESULTS#<nn> / <resource>`,
 * docs/dynamodb-table-design.md), one entry per attestation.
 */
export interface ResultsItem {
  readonly format: typeof RESULTS_FORMAT;
  readonly resource: string;
  /** The resource digest most of the results were made against. */
  readonly resourceDigest: string;
  readonly results: readonly StoredResult[];
}

/** The first stored form (kept readable: state written by earlier versions still loads). */
export interface KeyedResultsItem {
  readonly resource: string;
  readonly results: Readonly<Record<string, AttestationResult>>;
}

export type AnyResultsItem = ResultsItem | KeyedResultsItem;

export function isKeyedResultsItem(item: AnyResultsItem): item is KeyedResultsItem {
  return (item as { format?: unknown }).format === undefined;
}

/**
 * The stored form of a result, frozen (the embedded store then keeps it without a copy).
 * `resourceDigest` is the item's.
 */
export function storedResult(result: AttestationResult, resourceDigest: string): StoredResult {
  const evidence = result.evidenceDigest ?? null;
  return Object.freeze(
    result.resourceDigest === resourceDigest
      ? ([result.attestation, result.outcome, result.message, result.executedAt, result.durationMs, result.attestationDigest, result.requirementVersions, evidence] as const)
      : ([result.attestation, result.outcome, result.message, result.executedAt, result.durationMs, result.attestationDigest, result.requirementVersions, evidence, result.resourceDigest] as const),
  );
}

/** The result a stored entry holds. */
export function resultOf(resource: string, resourceDigest: string, stored: StoredResult): AttestationResult {
  // Two literals rather than a member added later: every result of a shape shares one hidden class.
  const digest = stored[8] ?? resourceDigest;
  const evidenceDigest = stored[7];
  return evidenceDigest === null
    ? { resource, attestation: stored[0], outcome: stored[1], message: stored[2], executedAt: stored[3], durationMs: stored[4], attestationDigest: stored[5], resourceDigest: digest, requirementVersions: stored[6] }
    : { resource, attestation: stored[0], outcome: stored[1], message: stored[2], executedAt: stored[3], durationMs: stored[4], attestationDigest: stored[5], resourceDigest: digest, requirementVersions: stored[6], evidenceDigest };
}

/** Every result of an item, in either stored form. */
export function resultsOf(item: AnyResultsItem): AttestationResult[] {
  if (isKeyedResultsItem(item)) return Object.values(item.results);
  const out: AttestationResult[] = [];
  for (const stored of item.results) out.push(resultOf(item.resource, item.resourceDigest, stored));
  return out;
}

/** A results item holding `results` (one per attestation; a later one replaces an earlier). */
export function resultsItemOf(resource: string, results: Iterable<AttestationResult>): ResultsItem {
  const byAttestation = new Map<string, AttestationResult>();
  for (const r of results) byAttestation.set(r.attestation, r);
  const resourceDigest = commonestDigest(byAttestation.values());
  const stored: StoredResult[] = [];
  for (const r of byAttestation.values()) stored.push(storedResult(r, resourceDigest));
  return resultsItem(resource, resourceDigest, stored);
}

/** A frozen results item of entries relative to `resourceDigest` (the store keeps it without a copy). */
export function resultsItem(resource: string, resourceDigest: string, entries: readonly StoredResult[]): ResultsItem {
  return Object.freeze({ format: RESULTS_FORMAT, resource, resourceDigest, results: Object.freeze(entries) });
}

/** The resource digest most results carry (the latest run's, in practice). */
function commonestDigest(results: Iterable<AttestationResult>): string {
  const counts = new Map<string, number>();
  let best = '';
  let bestCount = 0;
  for (const r of results) {
    const n = (counts.get(r.resourceDigest) ?? 0) + 1;
    counts.set(r.resourceDigest, n);
    if (n > bestCount) {
      best = r.resourceDigest;
      bestCount = n;
    }
  }
  return best;
}

/**
 * The stored entries of an item by attestation, each relative to `resourceDigest` (the digest
 * of the item about to be written), so they can be compared with and stored beside new ones.
 */
export function storedByAttestation(item: AnyResultsItem, resourceDigest: string): Map<string, StoredResult> {
  const out = new Map<string, StoredResult>();
  if (isKeyedResultsItem(item)) {
    for (const r of Object.values(item.results)) out.set(r.attestation, storedResult(r, resourceDigest));
    return out;
  }
  for (const s of item.results) {
    if (s.length === 8 && item.resourceDigest === resourceDigest) out.set(s[0], s);
    else out.set(s[0], storedResult(resultOf(item.resource, item.resourceDigest, s), resourceDigest));
  }
  return out;
}

/** Whether two entries (relative to the same digest) record the same run apart from when it ran. */
export function sameStoredContent(a: StoredResult, b: StoredResult): boolean {
  return (
    a.length === b.length &&
    a[0] === b[0] &&
    a[1] === b[1] &&
    a[2] === b[2] &&
    a[5] === b[5] &&
    a[7] === b[7] &&
    a[8] === b[8] &&
    sameVersions(a[6], b[6])
  );
}

function sameVersions(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): boolean {
  if (a === b) return true;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!Object.hasOwn(b, k) || a[k] !== b[k]) return false;
  return true;
}
