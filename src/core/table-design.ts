/**
 * The single table's shared names: attributes, indexes, and the index keys each item type gets.
 * Pure (no AWS): the DynamoDB store writes what `indexAttributes` returns on every put, lib/
 * imports the names to declare the table, tests check the key building offline.
 * docs/dynamodb-table-design.md explains each access pattern and the request that serves it.
 */
import { KEY_PREFIX, shardOfName } from './keys.ts';

export { checkedKey } from './keys.ts';

export const TABLE_ATTR = {
  pk: 'pk',
  sk: 'sk',
  version: 'version',
  data: 'data',
  gsi1pk: 'gsi1pk',
  gsi1sk: 'gsi1sk',
  gsi2pk: 'gsi2pk',
  gsi2sk: 'gsi2sk',
  /** TTL attribute (epoch seconds): DynamoDB deletes the item some time after it passes. */
  ttl: 'ttl',
} as const;

/** Global secondary indexes; both sparse: only items that carry their keys appear in them. */
export const TABLE_INDEX = {
  /** Overloaded: children of a resource, pairs per requirement, pairs per attestation. */
  byParent: { name: 'gsi1', pk: TABLE_ATTR.gsi1pk, sk: TABLE_ATTR.gsi1sk },
  /** Due work by shard and due time. */
  byDue: { name: 'gsi2', pk: TABLE_ATTR.gsi2pk, sk: TABLE_ATTR.gsi2sk },
} as const;

export type TableIndexName = (typeof TABLE_INDEX)[keyof typeof TABLE_INDEX]['name'];

/** Shards of the due-work index (one planner worker per shard). */
export const DUE_SHARDS = 16;

export const INDEX_PREFIX = {
  child: 'CHILD#',
  requirement: 'REQ#',
  attestation: 'ATT#',
  due: 'DUE#',
} as const;

export const ITEM_PREFIX = {
  /** Derived state of one resource: `RR#<requirement>` and `RA#<attestation>` items. */
  pair: 'PAIR#',
  /** Small "checked at, nothing changed" items, one per resource (see the design doc). */
  checked: KEY_PREFIX.checked,
  /** Evidence ledger entries of one hash chain. */
  ledger: 'LEDGER#',
} as const;

/** Epoch milliseconds as a fixed-width sort key, so string order is time order. */
export function timeSortKey(ms: number): string {
  return String(Math.max(0, Math.floor(ms))).padStart(15, '0');
}

export function childrenIndexKey(parent: string): string {
  return `${INDEX_PREFIX.child}${parent}`;
}

export function requirementIndexKey(requirement: string): string {
  return `${INDEX_PREFIX.requirement}${requirement}`;
}

export function attestationIndexKey(attestation: string): string {
  return `${INDEX_PREFIX.attestation}${attestation}`;
}

export function dueIndexKey(shard: number): string {
  return `${INDEX_PREFIX.due}${String(shard).padStart(2, '0')}`;
}

/** Derived (resource, requirement) state; indexed per requirement by status (the SLI). */
export function resourceRequirementKey(resource: string, requirement: string): { pk: string; sk: string } {
  return { pk: `${ITEM_PREFIX.pair}${resource}`, sk: `RR#${requirement}` };
}

/** Derived (resource, attestation) state; indexed per attestation (invalidation). */
export function resourceAttestationKey(resource: string, attestation: string): { pk: string; sk: string } {
  return { pk: `${ITEM_PREFIX.pair}${resource}`, sk: `RA#${attestation}` };
}

/** Ledger entry `seq` (>= 1) of a chain; zero-padded so entries sort in chain order. */
export function ledgerEntryKey(chain: string, seq: number): { pk: string; sk: string } {
  return { pk: `${ITEM_PREFIX.ledger}${chain}`, sk: String(seq).padStart(12, '0') };
}

export type IndexAttributes = Partial<Record<'gsi1pk' | 'gsi1sk' | 'gsi2pk' | 'gsi2sk' | 'ttl', string | number>>;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The index keys (and TTL) an item gets, derived from its key and data only, so every writer
 * indexes the same way. Items of other types get none (sparse indexes).
 */
export function indexAttributes(pk: string, sk: string, data: unknown): IndexAttributes {
  const out: IndexAttributes = {};
  if (!isRecord(data)) return out;
  if (pk === `${KEY_PREFIX.definition}Resource`) {
    const spec = data.spec;
    if (isRecord(spec) && typeof spec.parent === 'string' && spec.parent !== '') {
      out.gsi1pk = childrenIndexKey(spec.parent);
      out.gsi1sk = sk;
    }
  } else if (pk.startsWith(KEY_PREFIX.results)) {
    // A results item is due at its earliest expiry (written by the reconcile as `dueAt`).
    if (typeof data.dueAt === 'number' && Number.isFinite(data.dueAt)) {
      out.gsi2pk = dueIndexKey(shardOfName(sk, DUE_SHARDS));
      out.gsi2sk = `${timeSortKey(data.dueAt)}#${sk}`;
    }
  } else if (pk.startsWith(ITEM_PREFIX.pair)) {
    const resource = pk.slice(ITEM_PREFIX.pair.length);
    if (sk.startsWith('RR#') && typeof data.status === 'string') {
      out.gsi1pk = requirementIndexKey(sk.slice(3));
      out.gsi1sk = `${data.status}#${resource}`;
    } else if (sk.startsWith('RA#')) {
      out.gsi1pk = attestationIndexKey(sk.slice(3));
      out.gsi1sk = resource;
    }
  }
  if (typeof data.ttl === 'number' && Number.isSafeInteger(data.ttl) && data.ttl > 0) out.ttl = data.ttl;
  return out;
}
