import type { AttestationResult } from './model.ts';

/**
 * The small stored item (`CHECKED#<nn> / <resource>`, docs/dynamodb-table-design.md) that records
 * when each attestation of a resource was last re-run with a result equal to the stored one
 * (same outcome, message, evidence and run context), so the results item is not rewritten.
 */
export interface CheckedItem {
  readonly resource: string;
  /** Attestation name → epoch ms of the latest unchanged re-run. */
  readonly checkedAt: Readonly<Record<string, number>>;
}

/**
 * The result with `lastCheckedAt` set from a checked-at time (only when later than its
 * `executedAt`: an older check confirmed an earlier result), or cleared when there is none.
 */
export function withCheckedAt(result: AttestationResult, checkedAt: number | undefined): AttestationResult {
  const applies = checkedAt !== undefined && checkedAt > result.executedAt;
  if (applies) return result.lastCheckedAt === checkedAt ? result : { ...result, lastCheckedAt: checkedAt };
  if (result.lastCheckedAt === undefined) return result;
  const { lastCheckedAt: _dropped, ...rest } = result;
  return rest;
}

/**
 * Results as the engine sees them: each merged with its resource's checked-at time. A resource
 * without a checked item keeps its results as given.
 */
export function mergeCheckedAt(
  results: Iterable<AttestationResult>,
  checked: ReadonlyMap<string, Readonly<Record<string, number>>>,
): AttestationResult[] {
  const out: AttestationResult[] = [];
  for (const r of results) {
    const times = checked.get(r.resource);
    out.push(times ? withCheckedAt(r, ownTime(times, r.attestation)) : r);
  }
  return out;
}

/** The checked-at time of one attestation (own properties only: names like "constructor"). */
export function ownTime(times: Readonly<Record<string, number>>, attestation: string): number | undefined {
  if (!Object.hasOwn(times, attestation)) return undefined;
  const t = times[attestation];
  return typeof t === 'number' && Number.isFinite(t) ? t : undefined;
}
