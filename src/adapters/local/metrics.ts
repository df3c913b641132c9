/**
 * The compliance metrics of DESIGN §1 in Prometheus text format, computed from the engine at each
 * scrape; attestation runs are counted from the store's change feed (a result whose executedAt
 * changed is a run), so every runner (reconcile, the workflow) is counted the same way.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ComplianceEngine } from '../../core/compliance/engine.ts';
import type { CheckedItem } from '../../core/checked-item.ts';
import { parseKey } from '../../core/keys.ts';
import { DURATION_BUCKETS_SECONDS, METRIC, METRIC_LABEL, RUN_RESULTS, type RunResult } from '../../core/metric-names.ts';
import type { ComplianceObjective, ComplianceStatus } from '../../core/model.ts';
import type { Clock } from '../../core/ports/clock.ts';
import type { ChangeRecord } from '../../core/ports/store.ts';
import { buildReport } from '../../core/report.ts';
import { isKeyedResultsItem, storedByAttestation, type AnyResultsItem } from '../../core/results-item.ts';
import { selectorMatches } from '../../core/selector.ts';

export interface MetricsSource {
  /** The engine as of now (flushed by the metrics before reading). */
  readonly engine: ComplianceEngine;
  readonly clock: Clock;
  /** Provider names, so run counters start at 0 for each. */
  readonly providerNames?: readonly string[];
}

export interface ObjectiveSli {
  readonly objective: string;
  readonly sli: number;
  readonly target: number;
  /** Share of the error budget left if the current SLI held over the whole window. */
  readonly errorBudgetRemaining: number;
  readonly burnRate: number;
  readonly pairs: number;
}

/** The SLI of one objective over its selected pairs, and its instantaneous budget and burn rate. */
export function objectiveSli(engine: ComplianceEngine, objective: ComplianceObjective): ObjectiveSli {
  const { spec } = objective;
  const counts: Record<ComplianceStatus, number> = { Compliant: 0, NonCompliant: 0, Unknown: 0, Exempt: 0 };
  const reqOk = (name: string): boolean => {
    if (spec.requirements.length > 0 && !spec.requirements.includes(name)) return false;
    if (spec.frameworks.length === 0) return true;
    const frameworks = engine.index.requirements.get(name)?.spec.frameworks ?? [];
    return frameworks.some((f) => spec.frameworks.some((p) => f === p || f.startsWith(`${p}:`)));
  };
  for (const r of engine.index.resources.values()) {
    if (!selectorMatches(spec.resources, { name: r.metadata.name, type: r.spec.type, classes: r.spec.classes, labels: r.metadata.labels })) continue;
    for (const [req, state] of engine.evaluation(r.metadata.name)?.requirements ?? []) if (reqOk(req)) counts[state.status]++;
  }
  const good = counts.Compliant + (spec.unknownIsCompliant ? counts.Unknown : 0);
  const assessable = counts.Compliant + counts.NonCompliant + counts.Unknown;
  const sli = assessable === 0 ? 1 : good / assessable;
  const budget = 1 - spec.target;
  const burnRate = budget > 0 ? (1 - sli) / budget : sli < 1 ? Number.POSITIVE_INFINITY : 0;
  return { objective: objective.metadata.name, sli, target: spec.target, errorBudgetRemaining: 1 - burnRate, burnRate, pairs: assessable + counts.Exempt };
}

export class ComplianceMetrics {
  readonly registry = new Registry();
  private readonly pairCompliant: Gauge;
  private readonly requirementRatio: Gauge;
  private readonly runs: Counter;
  private readonly duration: Histogram;
  private readonly resultAge: Gauge;
  private readonly objectiveRatio: Gauge;
  private readonly objectiveTarget: Gauge;
  private readonly objectiveBudget: Gauge;
  private readonly objectiveBurn: Gauge;

  constructor(private readonly source: MetricsSource) {
    const registers = [this.registry];
    const L = METRIC_LABEL;
    this.pairCompliant = new Gauge({ name: METRIC.resourceRequirementCompliant, help: '1 when the (resource, requirement) pair is Compliant or Exempt, else 0.', labelNames: [L.resource, L.requirement], registers });
    this.requirementRatio = new Gauge({ name: METRIC.requirementComplianceRatio, help: 'Compliant pairs over applicable, non-exempt pairs of a requirement (the SLI).', labelNames: [L.requirement], registers });
    this.runs = new Counter({ name: METRIC.attestationRunsTotal, help: 'Attestation runs by provider and result.', labelNames: [L.provider, L.result], registers });
    this.duration = new Histogram({ name: METRIC.attestationDurationSeconds, help: 'Duration of one attestation run.', labelNames: [L.provider], buckets: [...DURATION_BUCKETS_SECONDS], registers });
    this.resultAge = new Gauge({ name: METRIC.attestationResultAgeSeconds, help: 'Age of the oldest recorded result of an attestation.', labelNames: [L.attestation], registers });
    this.objectiveRatio = new Gauge({ name: METRIC.objectiveComplianceRatio, help: 'SLI of a ComplianceObjective over its selected pairs.', labelNames: [L.objective], registers });
    this.objectiveTarget = new Gauge({ name: METRIC.objectiveTargetRatio, help: 'Target ratio of a ComplianceObjective.', labelNames: [L.objective], registers });
    this.objectiveBudget = new Gauge({ name: METRIC.objectiveErrorBudgetRemainingRatio, help: 'Share of the error budget left if the current SLI held over the window.', labelNames: [L.objective], registers });
    this.objectiveBurn = new Gauge({ name: METRIC.objectiveBurnRate, help: 'Current burn rate: (1 - SLI) / (1 - target).', labelNames: [L.objective], registers });
    for (const provider of source.providerNames ?? []) {
      for (const result of RUN_RESULTS) this.runs.inc({ provider, result }, 0);
    }
  }

  /** Counts the runs in committed changes; subscribe it to the store's change feed. */
  observe(records: readonly ChangeRecord[]): void {
    for (const record of records) {
      const { Keys, NewImage, OldImage } = record.dynamodb;
      const key = parseKey(Keys.pk, Keys.sk);
      if (key.type === 'checked' && NewImage) {
        this.observeChecked(key.resource, (OldImage?.data as CheckedItem | undefined)?.checkedAt ?? {}, (NewImage.data as CheckedItem).checkedAt ?? {});
        continue;
      }
      if (key.type !== 'results' || !NewImage) continue;
      // Compared as stored (no result objects): a reconcile changes thousands of items at once.
      const after = NewImage.data as AnyResultsItem;
      const digest = isKeyedResultsItem(after) ? '' : after.resourceDigest;
      const before = OldImage ? storedByAttestation(OldImage.data as AnyResultsItem, digest) : undefined;
      for (const entry of storedByAttestation(after, digest).values()) {
        const [name, outcome, , executedAt, durationMs] = entry;
        const old = before?.get(name);
        if (old && old[3] === executedAt && old[1] === outcome) continue;
        const provider = this.source.engine.index.attestations.get(name)?.spec.provider ?? 'unknown';
        this.runs.inc({ provider, result: outcome.toLowerCase() as RunResult });
        this.duration.observe({ provider }, Math.max(0, durationMs) / 1000);
      }
    }
  }

  /** Unchanged re-runs (a CHECKED item moved on): a run with the stored result's outcome; no duration is kept. */
  private observeChecked(resource: string, before: Readonly<Record<string, number>>, after: Readonly<Record<string, number>>): void {
    for (const [name, at] of Object.entries(after)) {
      if (Object.hasOwn(before, name) && before[name] === at) continue;
      const result = this.source.engine.resultsOf(resource)?.get(name);
      if (!result) continue;
      const provider = this.source.engine.index.attestations.get(name)?.spec.provider ?? 'unknown';
      this.runs.inc({ provider, result: result.outcome.toLowerCase() as RunResult });
    }
  }

  /** Recomputes the gauges from the engine and renders the exposition text. */
  async render(): Promise<{ readonly contentType: string; readonly body: string }> {
    this.refresh();
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private refresh(): void {
    const { engine, clock } = this.source;
    const now = clock.now();
    engine.advanceTo(now);
    engine.flush();
    for (const g of [this.pairCompliant, this.requirementRatio, this.resultAge, this.objectiveRatio, this.objectiveTarget, this.objectiveBudget, this.objectiveBurn]) g.reset();

    for (const name of engine.index.resources.keys()) {
      for (const [requirement, state] of engine.evaluation(name)?.requirements ?? []) {
        this.pairCompliant.set({ resource: name, requirement }, state.status === 'Compliant' || state.status === 'Exempt' ? 1 : 0);
      }
    }
    for (const r of buildReport(engine).requirements) this.requirementRatio.set({ requirement: r.requirement }, r.ratio);

    const oldest = new Map<string, number>();
    for (const result of engine.allResults()) {
      if (!engine.index.attestations.has(result.attestation) || !engine.index.resources.has(result.resource)) continue;
      const age = Math.max(0, now - result.executedAt) / 1000;
      if (age > (oldest.get(result.attestation) ?? -1)) oldest.set(result.attestation, age);
    }
    for (const [attestation, age] of oldest) this.resultAge.set({ attestation }, age);

    for (const objective of engine.index.objectives.values()) {
      const s = objectiveSli(engine, objective);
      const labels = { objective: s.objective };
      this.objectiveRatio.set(labels, s.sli);
      this.objectiveTarget.set(labels, s.target);
      this.objectiveBudget.set(labels, s.errorBudgetRemaining);
      this.objectiveBurn.set(labels, s.burnRate);
    }
  }
}
