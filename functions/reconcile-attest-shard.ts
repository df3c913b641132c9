/**
 * AttestShard: the Task inside the workflow's Map. Finds the shard's due work as of the plan's
 * time and attests it in batches, each committed in one transaction. A retry after a failure
 * finds only what is still due: committed batches are not attested twice.
 */
import { resultsKey, shardOfName } from '../src/core/keys.ts';
import { resultsOf, type AnyResultsItem } from '../src/core/results-item.ts';
import { addCounts, attestResources, emptyCounts, planDueWork, type AttestDeps, type BatchCounts } from '../src/core/use-cases/reconcile.ts';
import { intField, MAX_SHARDS, objectEvent, resolveDeps, stringField, type DepsSource, type ShardResult } from './reconcile-contract.ts';

export interface AttestShardDeps extends AttestDeps {
  /** Local runs: stop between batches. */
  readonly signal?: AbortSignal;
}

export function createAttestShardHandler(deps: DepsSource<AttestShardDeps>): (event: unknown) => Promise<ShardResult> {
  return async (event) => {
    const e = objectEvent('reconcile-attest-shard', event);
    stringField('reconcile-attest-shard', e, 'runId');
    const asOf = intField('reconcile-attest-shard', e, 'asOf', 0);
    const shards = intField('reconcile-attest-shard', e, 'shards', 1, MAX_SHARDS);
    const shard = intField('reconcile-attest-shard', e, 'shard', 0, shards - 1);
    const batchSize = intField('reconcile-attest-shard', e, 'batchSize', 1);
    const planned = intField('reconcile-attest-shard', e, 'planned', 0);
    const d = await resolveDeps(deps, { shard });
    const { due } = planDueWork(d.engine, asOf);
    const work = due.filter(([resource]) => shardOfName(resource, shards) === shard);
    const dueNow = work.reduce((n, [, attestations]) => n + attestations.length, 0);
    const counts = emptyCounts();
    let aborted = false;
    for (let i = 0; i < work.length; i += batchSize) {
      if (d.signal?.aborted) {
        aborted = true;
        break;
      }
      addCounts(counts, await attestResources(d, work.slice(i, i + batchSize)));
    }
    // A retry: earlier attempts committed part of the shard. Count what they wrote as well.
    if (dueNow < planned) addCounts(counts, await countEarlierAttempts(d, shard, shards, asOf, new Set(work.map(([r]) => r))));
    return { shard, planned, ...counts, aborted };
  };
}

/** Results of this run (executed at or after the plan) on shard resources this attempt did not touch. */
async function countEarlierAttempts(d: AttestDeps, shard: number, shards: number, asOf: number, touched: ReadonlySet<string>): Promise<BatchCounts> {
  const counts = emptyCounts();
  for (const name of d.engine.index.resources.keys()) {
    if (touched.has(name) || shardOfName(name, shards) !== shard) continue;
    const key = resultsKey(name);
    const item = await d.store.get<AnyResultsItem>(key.pk, key.sk);
    let wrote = false;
    for (const r of item ? resultsOf(item.data) : []) {
      if (r.executedAt < asOf) continue;
      wrote = true;
      counts.evaluated++;
      if (r.outcome === 'Passed') counts.passed++;
      else if (r.outcome === 'Failed') counts.failed++;
      else counts.errored++;
    }
    if (wrote) counts.writes++;
  }
  return counts;
}

/**
 * AWS (index.handler): table, S3 and KMS clients and providers once per container; the engine
 * loaded from the table and the evidence ledger opened on the chain's head per invocation.
 */
export const handler = createAttestShardHandler(async ({ shard }) => {
  const config = await import('../src/adapters/aws/lambda-config.ts');
  // One evidence chain per shard: shards run in parallel and would otherwise race for one head.
  const evidence = await config.lambdaEvidence(process.env, `shard-${shard ?? 0}`);
  return { ...(await config.lambdaEngineDeps()), evidence };
});
