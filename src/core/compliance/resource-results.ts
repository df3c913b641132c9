import type { AttestationOutcome, AttestationResult } from '../model.ts';
import { isKeyedResultsItem, resultOf, storedResult, type AnyResultsItem, type StoredResult } from '../results-item.ts';
import { ownTime } from '../checked-item.ts';

/** Entries up to this many are found by a scan; more get an index by attestation. */
const SCAN_LIMIT = 16;

/**
 * The latest results of one resource as the engine keeps them: the entries of its results item
 * as stored (the store's own frozen tuples, no object per result) and the checked-at times that
 * apply to them. A full reconcile replaces every resource's results, so not making an
 * `AttestationResult` per pair saves most of the engine's work and memory there; results are
 * made when something reads them (`get`, `values`, a state's `result`).
 */
export class ResourceResults {
  private byAttestation: Map<string, StoredResult> | undefined;
  /** Where the next scan starts: after the last entry found. */
  private cursor = 0;
  /** Some attestation is listed twice in a scanned list (checked once, when the results are kept). */
  private readonly repeats: boolean;

  private constructor(
    readonly resource: string,
    /** The digest the entries are relative to (an entry made against another one carries its own). */
    readonly resourceDigest: string,
    private readonly entries: readonly StoredResult[],
    /** Checked-at times by attestation: the resource's CHECKED item, or the results' own `lastCheckedAt`. */
    private readonly checked: Readonly<Record<string, number>> | undefined,
    /** The times are the results' own (kept as given) rather than a CHECKED item's. */
    private readonly ownTimes: boolean,
  ) {
    // Past the scan limit the index by attestation keeps the last entry of each by itself.
    this.repeats = entries.length <= SCAN_LIMIT && hasRepeats(entries);
  }

  /**
   * A stored results item's entries as they are, with the CHECKED item's times if any; undefined
   * for an item in the first, keyed form or of another resource (read those as objects: `resultsOf`).
   */
  static ofItem(resource: string, item: AnyResultsItem, checked: Readonly<Record<string, number>> | undefined): ResourceResults | undefined {
    if (isKeyedResultsItem(item) || item.resource !== resource) return undefined;
    return new ResourceResults(resource, item.resourceDigest, item.results, checked, false);
  }

  /**
   * Results given as objects (start-up, tests), one per attestation, a later one replacing an
   * earlier. With a CHECKED item's times those apply; without, each result keeps its own `lastCheckedAt`.
   */
  static ofResults(resource: string, results: Iterable<AttestationResult>, checked: Readonly<Record<string, number>> | undefined): ResourceResults {
    const latest = new Map<string, AttestationResult>();
    for (const r of results) latest.set(r.attestation, r);
    const first = latest.values().next();
    const digest = first.done === true ? '' : first.value.resourceDigest;
    const entries: StoredResult[] = [];
    let own: Record<string, number> | undefined;
    for (const r of latest.values()) {
      entries.push(storedResult(r, digest));
      if (checked === undefined && r.lastCheckedAt !== undefined) (own ??= {})[r.attestation] = r.lastCheckedAt;
    }
    return checked === undefined ? new ResourceResults(resource, digest, entries, own, true) : new ResourceResults(resource, digest, entries, checked, false);
  }

  get size(): number {
    return this.entries.length;
  }

  /** The same results with the CHECKED item's times (undefined: it was deleted). */
  withChecked(checked: Readonly<Record<string, number>> | undefined): ResourceResults {
    return new ResourceResults(this.resource, this.resourceDigest, this.entries, checked, false);
  }

  /** The same results with `result` in place of its attestation's (the stored entries are not changed). */
  withResult(result: AttestationResult, engineChecked: Readonly<Record<string, number>> | undefined): ResourceResults {
    const results = [...this.values()].filter((r) => r.attestation !== result.attestation);
    results.push(result);
    return ResourceResults.ofResults(this.resource, results, engineChecked);
  }

  /**
   * The entry of an attestation, or undefined. Writers list each attestation once; should an
   * item list one twice, the last counts, as when the item is read as objects.
   */
  entry(attestation: string): StoredResult | undefined {
    const entries = this.entries;
    const n = entries.length;
    if (n <= SCAN_LIMIT) {
      // Lookups mostly come in stored order: start where the last one matched.
      const start = this.cursor < n ? this.cursor : 0;
      for (let k = 0; k < n; k++) {
        const i = start + k < n ? start + k : start + k - n;
        const e = entries[i] as StoredResult;
        if (e[0] === attestation) {
          this.cursor = i + 1;
          return this.repeats ? this.lastOf(attestation) : e;
        }
      }
      return undefined;
    }
    if (this.byAttestation === undefined) {
      this.byAttestation = new Map();
      for (const e of entries) this.byAttestation.set(e[0], e);
    }
    return this.byAttestation.get(attestation);
  }

  private lastOf(attestation: string): StoredResult | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i] as StoredResult;
      if (e[0] === attestation) return e;
    }
    return undefined;
  }

  outcomeOf(entry: StoredResult): AttestationOutcome {
    return entry[1];
  }

  executedAtOf(entry: StoredResult): number {
    return entry[3];
  }

  attestationDigestOf(entry: StoredResult): string {
    return entry[5];
  }

  resourceDigestOf(entry: StoredResult): string {
    return entry[8] ?? this.resourceDigest;
  }

  requirementVersionsOf(entry: StoredResult): Readonly<Record<string, number>> {
    return entry[6];
  }

  /** When the entry's result was last confirmed by an unchanged re-run, as its `lastCheckedAt`. */
  lastCheckedAtOf(entry: StoredResult): number | undefined {
    const times = this.checked;
    if (times === undefined) return undefined;
    const t = ownTime(times, entry[0]);
    if (this.ownTimes) return t;
    return t !== undefined && t > entry[3] ? t : undefined;
  }

  /** The result an entry holds, with its `lastCheckedAt`. */
  resultOf(entry: StoredResult): AttestationResult {
    const result = resultOf(this.resource, this.resourceDigest, entry);
    const lastCheckedAt = this.lastCheckedAtOf(entry);
    return lastCheckedAt === undefined ? result : { ...result, lastCheckedAt };
  }

  /** The result of an attestation, or undefined. */
  get(attestation: string): AttestationResult | undefined {
    const e = this.entry(attestation);
    return e === undefined ? undefined : this.resultOf(e);
  }

  /** Every result, one per attestation, in stored order. */
  *values(): IterableIterator<AttestationResult> {
    const entries = this.entries;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i] as StoredResult;
      // A repeated attestation counts once, as its last entry.
      if (this.entry(e[0]) === e) yield this.resultOf(e);
    }
  }

  /** Whether some result was made against this requirement (any version). */
  recordsRequirement(requirement: string): boolean {
    for (const e of this.entries) if (Object.hasOwn(e[6], requirement)) return true;
    return false;
  }
}

/** The names of the list being checked by `hasRepeats` (reused: no array per check). */
const scratchNames: string[] = [];

/** Whether some attestation is listed twice (a few entries: pairwise, without a set). */
function hasRepeats(entries: readonly StoredResult[]): boolean {
  // The names first, then the pairs: each comparison then reads no entry.
  const names = scratchNames;
  names.length = entries.length;
  for (let i = 0; i < entries.length; i++) names[i] = (entries[i] as StoredResult)[0];
  for (let i = 1; i < names.length; i++) {
    const name = names[i];
    for (let j = 0; j < i; j++) if (names[j] === name) return true;
  }
  return false;
}
