import { mergeCheckedAt, type CheckedItem } from '../checked-item.ts';
import { ComplianceEngine } from '../compliance/engine.ts';
import { checkedPartitions, definitionKey, resultsPartitions } from '../keys.ts';
import { DEFINITION_KINDS, type AnyDefinition, type AttestationResult } from '../model.ts';
import { queryAll, type Store } from '../ports/store.ts';
import { resultsOf, type AnyResultsItem } from '../results-item.ts';

/** Every definition in the store, kind by kind. */
export async function loadDefinitions(store: Store): Promise<AnyDefinition[]> {
  const out: AnyDefinition[] = [];
  for (const kind of DEFINITION_KINDS) {
    const items = await queryAll<AnyDefinition>(store, definitionKey(kind, '').pk);
    for (const item of items) out.push(item.data);
  }
  return out;
}

/** Every results item as stored, and every CHECKED item. */
async function loadStoredItems(store: Store): Promise<{ items: AnyResultsItem[]; checked: CheckedItem[] }> {
  // One query per results shard and per checked-at shard (see keys.ts), in parallel.
  const [items, checked] = await Promise.all([
    Promise.all(resultsPartitions().map((pk) => queryAll<AnyResultsItem>(store, pk))),
    Promise.all(checkedPartitions().map((pk) => queryAll<CheckedItem>(store, pk))),
  ]);
  return { items: items.flat().map((item) => item.data), checked: checked.flat().map((item) => item.data) };
}

/** Stored results as written (without checked-at times), and every CHECKED item. */
export async function loadStoredResults(store: Store): Promise<{ results: AttestationResult[]; checked: CheckedItem[] }> {
  const { items, checked } = await loadStoredItems(store);
  return { results: items.flatMap((item) => resultsOf(item)), checked };
}

/** The latest results, each merged with its checked-at time (`lastCheckedAt`), as the engine sees them. */
export async function loadResults(store: Store): Promise<AttestationResult[]> {
  const { results, checked } = await loadStoredResults(store);
  return mergeCheckedAt(results, new Map(checked.map((c) => [c.resource, c.checkedAt])));
}

/** Builds the engine from what the store holds: the start-up path after any crash. */
export async function loadEngine(store: Store, now: number): Promise<ComplianceEngine> {
  const [definitions, { items, checked }] = await Promise.all([loadDefinitions(store), loadStoredItems(store)]);
  return ComplianceEngine.loadItems(definitions, items, now, checked);
}
