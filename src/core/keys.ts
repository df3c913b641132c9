import { DEFINITION_KINDS, type DefinitionKind } from './model.ts';

/**
 * Key formats of every item type, in one place (single-table style): the embedded store and the
 * DynamoDB store use the same keys, so the change-feed handlers read both the same way.
 * docs/dynamodb-table-design.md lists every access pattern these keys serve.
 */
export const KEY_PREFIX = {
  definition: 'DEF#',
  results: 'RESULTS#',
  /** Small "re-run, nothing changed" items, one per resource (src/core/checked-item.ts). */
  checked: 'CHECKED#',
  meta: 'META',
  work: 'WORK#',
  agent: 'AGENT#',
} as const;

/**
 * Results are spread over this many partitions so that a reconcile's writes don't all land on
 * one partition key (DynamoDB: 1,000 WCU/s per partition). Fixed: changing it moves every item.
 */
export const RESULTS_SHARDS = 16;

/** The results and checked partition keys, made once: a reconcile makes keys for every resource. */
const RESULTS_PARTITIONS: readonly string[] = Array.from({ length: RESULTS_SHARDS }, (_, i) => `${KEY_PREFIX.results}${String(i).padStart(2, '0')}`);
const CHECKED_PARTITIONS: readonly string[] = Array.from({ length: RESULTS_SHARDS }, (_, i) => `${KEY_PREFIX.checked}${String(i).padStart(2, '0')}`);

/** Stable shard of a name (FNV-1a 32-bit), in [0, shards). */
export function shardOfName(name: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}

export function definitionKey(kind: DefinitionKind, name: string): { pk: string; sk: string } {
  return { pk: `${KEY_PREFIX.definition}${kind}`, sk: name };
}

export function resultsPartition(shard: number): string {
  return RESULTS_PARTITIONS[shard] ?? `${KEY_PREFIX.results}${String(shard).padStart(2, '0')}`;
}

/** Every results partition, for loading all results (RESULTS_SHARDS queries, no scan). */
export function resultsPartitions(): string[] {
  return Array.from({ length: RESULTS_SHARDS }, (_, i) => resultsPartition(i));
}

/** Bounded sample history of one ComplianceObjective's SLI (src/core/slo/history.ts). */
export function sloHistoryKey(objective: string): { pk: string; sk: string } {
  return { pk: KEY_PREFIX.meta, sk: `SLO#${objective}` };
}

/** One item per resource holds the latest result of each of its attestations. */
export function resultsKey(resource: string): { pk: string; sk: string } {
  return { pk: resultsPartition(shardOfName(resource, RESULTS_SHARDS)), sk: resource };
}

/** Checked-at times of a resource's unchanged re-runs; sharded like its results item. */
export function checkedKey(resource: string): { pk: string; sk: string } {
  return { pk: checkedPartition(shardOfName(resource, RESULTS_SHARDS)), sk: resource };
}

export function checkedPartition(shard: number): string {
  return CHECKED_PARTITIONS[shard] ?? `${KEY_PREFIX.checked}${String(shard).padStart(2, '0')}`;
}

/** Every checked-at partition, for loading them with the results (no scan). */
export function checkedPartitions(): string[] {
  return Array.from({ length: RESULTS_SHARDS }, (_, i) => checkedPartition(i));
}

/** Where a change-feed consumer (the local event-source mapping) keeps its checkpoint. */
export function feedCheckpointKey(consumer: string): { pk: string; sk: string } {
  return { pk: KEY_PREFIX.meta, sk: `FEED_CHECKPOINT#${consumer}` };
}

/**
 * Agent work (docs/agents.md): one partition per agent Provider. `ITEM#<id>` holds a work item;
 * `STATE#<state>#<id>` points to it while it is open (claim: query by provider and state);
 * `PAIR#<resource>#<attestation>` names the open item of a pair (at most one at a time).
 */
export function workPartition(provider: string): string {
  return `${KEY_PREFIX.work}${provider}`;
}
export function workItemKey(provider: string, id: string): { pk: string; sk: string } {
  return { pk: workPartition(provider), sk: `ITEM#${id}` };
}
export function workStateKey(provider: string, state: string, id: string): { pk: string; sk: string } {
  return { pk: workPartition(provider), sk: `STATE#${state}#${id}` };
}
export function workPairKey(provider: string, resource: string, attestation: string): { pk: string; sk: string } {
  return { pk: workPartition(provider), sk: `PAIR#${resource}#${attestation}` };
}

/** Agent Providers: `KEY#<keyId>` (hashed API keys), `STATUS` (heartbeat and health). */
export function agentKeyKey(provider: string, keyId: string): { pk: string; sk: string } {
  return { pk: `${KEY_PREFIX.agent}${provider}`, sk: `KEY#${keyId}` };
}
export function agentStatusKey(provider: string): { pk: string; sk: string } {
  return { pk: `${KEY_PREFIX.agent}${provider}`, sk: 'STATUS' };
}

export type ParsedKey =
  | { readonly type: 'definition'; readonly kind: DefinitionKind; readonly name: string }
  | { readonly type: 'results'; readonly resource: string }
  | { readonly type: 'checked'; readonly resource: string }
  | { readonly type: 'other' };

export function parseKey(pk: string, sk: string): ParsedKey {
  if (pk.startsWith(KEY_PREFIX.definition)) {
    const kind = pk.slice(KEY_PREFIX.definition.length);
    if ((DEFINITION_KINDS as readonly string[]).includes(kind)) return { type: 'definition', kind: kind as DefinitionKind, name: sk };
  }
  if (pk.startsWith(KEY_PREFIX.results) && /^\d{2}$/.test(pk.slice(KEY_PREFIX.results.length))) return { type: 'results', resource: sk };
  if (pk.startsWith(KEY_PREFIX.checked) && /^\d{2}$/.test(pk.slice(KEY_PREFIX.checked.length))) return { type: 'checked', resource: sk };
  return { type: 'other' };
}
