import type { ComplianceEngine } from '../compliance/engine.ts';
import type { Store } from '../ports/store.ts';
import { complianceSeries, type ComplianceSeries } from './compliance-series.ts';
import { recordSloSamples, type ObjectiveStatus } from './objective-status.ts';

export interface ComplianceSnapshot {
  readonly at: number;
  readonly objectives: readonly ObjectiveStatus[];
  readonly series: readonly ComplianceSeries[];
}

/**
 * The use case behind every publisher (local remote-write, the remote-write Lambda, CloudWatch):
 * brings the engine to `at`, records one SLI sample per objective in the store and returns the
 * compliance series with the objectives' window figures.
 */
export async function takeComplianceSnapshot(store: Store, engine: ComplianceEngine, at: number): Promise<ComplianceSnapshot> {
  engine.advanceTo(at);
  engine.flush();
  const objectives = await recordSloSamples(store, engine, at);
  return { at, objectives, series: complianceSeries(engine, { now: at, objectives }) };
}
