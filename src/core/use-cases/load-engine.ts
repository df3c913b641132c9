import { ComplianceEngine } from '../compliance/engine.ts';
import { definitionKey, resultsPartitions } from '../keys.ts';
import { DEFINITION_KINDS, type AnyDefinition, type AttestationResult } from '../model.ts';
import { queryAll, type Store } from '../ports/store.ts';
import type { ResultsItem } from '../results-item.ts';

/** Every definition in the store, kind by kind. */
export async function loadDefinitions(store: Store): Promise<AnyDefinition[]> {
  const out: AnyDefinition[] = [];
  for (const kind of DEFINITION_KINDS) {
    const items = await queryAll<AnyDefinition>(store, definitionKey(kind, '').pk);
    for (const item of items) out.push(item.data);
  }
  return out;
}

export async function loadResults(store: Store): Promise<AttestationResult[]> {
  // One query per results shard (see keys.ts), in parallel.
  const shards = await Promise.all(resultsPartitions().map((pk) => queryAll<ResultsItem>(store, pk)));
  return shards.flat().flatMap((item) => Object.values(item.data.results));
}

/** Builds the engine from what the store holds: the start-up path after any crash. */
export async function loadEngine(store: Store, now: number): Promise<ComplianceEngine> {
  const [definitions, results] = await Promise.all([loadDefinitions(store), loadResults(store)]);
  return ComplianceEngine.load(definitions, results, now);
}
