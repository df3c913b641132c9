/**
 * How long finished work items are kept: pure, no I/O. A transition that makes an item terminal
 * (Done/Failed) gives it a `ttl` (epoch seconds, the table's TTL attribute via `indexAttributes`)
 * in the same conditional write; open items never carry one. DynamoDB deletes an item some time
 * (up to ~48 h) after its `ttl`; the embedded store has no TTL, so the sweeper deletes them
 * (WorkStore.purgeExpired). Until then every read treats an expired item as absent.
 */
import { isTerminal, type WorkItem } from './machine.ts';

/**
 * The `ttl` (epoch seconds) of `item` written at `now`: the finish time plus `retentionMs`, rounded
 * up to a whole second, or undefined when the item is open (or the retention is not finite: kept
 * forever).
 */
export function finishedTtl(item: Pick<WorkItem, 'state' | 'lastTransitionTime'>, now: number, retentionMs: number): number | undefined {
  if (!isTerminal(item.state) || !Number.isFinite(retentionMs)) return undefined;
  const finishedAt = Math.max(now, item.lastTransitionTime);
  return Math.ceil((finishedAt + Math.max(0, retentionMs)) / 1000);
}

/** `item` with the `ttl` that `finishedTtl` decides (removed when it decides none). */
export function withRetention(item: WorkItem, now: number, retentionMs: number): WorkItem {
  const ttl = finishedTtl(item, now, retentionMs);
  if (ttl !== undefined) return { ...item, ttl };
  if (item.ttl === undefined) return item;
  const { ttl: _ttl, ...open } = item;
  return open;
}

/** True once the item's `ttl` has passed: reads ignore it and the sweeper may delete it. */
export function isExpired(item: Pick<WorkItem, 'ttl'>, now: number): boolean {
  return item.ttl !== undefined && item.ttl * 1000 <= now;
}
