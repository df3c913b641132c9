/**
 * Plan: the first Task of statemachines/reconcile.asl.json. Finds the due work (never attested,
 * stale, expired) and returns one small descriptor per non-empty shard.
 */
import { randomUUID } from 'node:crypto';
import type { ComplianceEngine } from '../src/core/compliance/engine.ts';
import { shardOfName } from '../src/core/keys.ts';
import type { Clock } from '../src/core/ports/clock.ts';
import { planDueWork } from '../src/core/use-cases/reconcile.ts';
import { intField, MAX_SHARDS, objectEvent, resolveDeps, type DepsSource, type PlanResult } from './reconcile-contract.ts';

export interface PlanDeps {
  readonly engine: ComplianceEngine;
  readonly clock: Clock;
  /** @default crypto.randomUUID */
  readonly newRunId?: () => string;
}

export function createPlanHandler(deps: DepsSource<PlanDeps>): (event: unknown) => Promise<PlanResult> {
  return async (event) => {
    const e = objectEvent('reconcile-plan', event);
    const shards = intField('reconcile-plan', e, 'shards', 1, MAX_SHARDS);
    const batchSize = intField('reconcile-plan', e, 'batchSize', 1);
    const { engine, clock, newRunId } = await resolveDeps(deps);
    const asOf = clock.now();
    const { due, planned } = planDueWork(engine, asOf);
    const perShard = new Map<number, number>();
    for (const [resource, attestations] of due) {
      const shard = shardOfName(resource, shards);
      perShard.set(shard, (perShard.get(shard) ?? 0) + attestations.length);
    }
    const work = [...perShard].sort((a, b) => a[0] - b[0]).map(([shard, n]) => ({ shard, planned: n }));
    return { runId: (newRunId ?? randomUUID)(), asOf, planned, shards, batchSize, work };
  };
}

/** AWS (index.handler): table client and providers once per container, the engine loaded from the table per invocation. */
export const handler = createPlanHandler(async () => (await import('../src/adapters/aws/lambda-config.ts')).lambdaEngineDeps());
