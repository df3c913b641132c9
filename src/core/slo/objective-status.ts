import type { ComplianceEngine } from '../compliance/engine.ts';
import { ConflictError } from '../errors.ts';
import { sloHistoryKey } from '../keys.ts';
import type { ComplianceObjective } from '../model.ts';
import type { Store } from '../ports/store.ts';
import { SloHistory, type SloHistoryData } from './history.ts';
import { countObjectivePairs, instantSli, type PairCounts } from './sli.ts';
import { BURN_WINDOW_NAMES, BURN_WINDOWS_MS, burnRate, errorBudgetRemaining, type BurnWindowName } from './windows.ts';

/** Everything Argus says about one ComplianceObjective at one instant. */
export interface ObjectiveStatus {
  readonly objective: string;
  readonly target: number;
  readonly windowMs: number;
  readonly unknownIsCompliant: boolean;
  readonly at: number;
  readonly pairs: PairCounts;
  /** SLI now: good / assessable pairs. */
  readonly sli: number;
  /** Mean of the SLI samples over the objective's window (undefined before the first sample). */
  readonly windowSli?: number;
  /** 1 - (1 - windowSli) / (1 - target). */
  readonly errorBudgetRemaining?: number;
  /** Burn rate over each standard window that has samples. */
  readonly burnRates: Partial<Record<BurnWindowName, number>>;
}

/** Derives an objective's status from its instant pairs and its sample history (which holds the instant sample already, when recorded). */
export function objectiveStatus(objective: ComplianceObjective, pairs: PairCounts, history: SloHistory, at: number): ObjectiveStatus {
  const { target, windowMs, unknownIsCompliant } = objective.spec;
  const windowSli = history.mean(at, windowMs);
  const burnRates: Partial<Record<BurnWindowName, number>> = {};
  for (const w of BURN_WINDOW_NAMES) {
    const mean = history.mean(at, BURN_WINDOWS_MS[w]);
    if (mean !== undefined) burnRates[w] = burnRate(mean, target);
  }
  return {
    objective: objective.metadata.name,
    target,
    windowMs,
    unknownIsCompliant,
    at,
    pairs,
    sli: instantSli(pairs, unknownIsCompliant),
    ...(windowSli === undefined ? {} : { windowSli, errorBudgetRemaining: errorBudgetRemaining(windowSli, target) }),
    burnRates,
  };
}

/** Reads an objective's history from the store (an empty one when none was recorded). */
export async function readSloHistory(store: Store, objective: ComplianceObjective): Promise<{ history: SloHistory; version: number | undefined }> {
  const key = sloHistoryKey(objective.metadata.name);
  const item = await store.get<SloHistoryData>(key.pk, key.sk);
  return { history: SloHistory.fromData(item?.data, objective.spec.windowMs), version: item?.version };
}

/** Statuses of every objective from the stored histories, without recording (for /metrics readers). */
export async function readObjectiveStatuses(store: Store, engine: ComplianceEngine, at: number): Promise<ObjectiveStatus[]> {
  const out: ObjectiveStatus[] = [];
  for (const objective of sortedObjectives(engine)) {
    const { history } = await readSloHistory(store, objective);
    out.push(objectiveStatus(objective, countObjectivePairs(engine, objective), history, at));
  }
  return out;
}

/**
 * Takes one SLI sample of every objective at `at`, appends it to the objective's history in the
 * store (conditional write, retried on a concurrent writer) and returns the statuses. Call at a
 * fixed interval: the window SLI is the mean of these samples. The engine must be flushed at `at`.
 */
export async function recordSloSamples(store: Store, engine: ComplianceEngine, at: number): Promise<ObjectiveStatus[]> {
  const out: ObjectiveStatus[] = [];
  for (const objective of sortedObjectives(engine)) {
    const pairs = countObjectivePairs(engine, objective);
    const sli = instantSli(pairs, objective.spec.unknownIsCompliant);
    const key = sloHistoryKey(objective.metadata.name);
    for (let attempt = 0; ; attempt++) {
      const { history, version } = await readSloHistory(store, objective);
      history.record(at, sli);
      try {
        await store.transact([{ type: 'put', pk: key.pk, sk: key.sk, data: history.toData(), ifVersion: version ?? 'absent' }]);
        out.push(objectiveStatus(objective, pairs, history, at));
        break;
      } catch (error) {
        if (!(error instanceof ConflictError) || attempt >= 4) throw error;
      }
    }
  }
  return out;
}

function sortedObjectives(engine: ComplianceEngine): ComplianceObjective[] {
  return [...engine.index.objectives.values()].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
}
