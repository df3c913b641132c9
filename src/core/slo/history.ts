/**
 * Bounded sample history of one objective's SLI. Each sample is the SLI at an instant; the SLI
 * over a window is the **mean of the samples** whose time lies in [now - window, now], which is
 * what PromQL's `avg_over_time(argus_objective_compliance_ratio[window])` computes from the same
 * samples pushed by remote-write. Samples are taken at a fixed interval (the publisher's), so the
 * mean is the time-average.
 *
 * To stay bounded the samples are kept as (sum, count) buckets in three tiers, each added to on
 * every sample: 1-minute buckets for 6 h (the 5m…6h burn windows), 10-minute buckets for 3 days
 * (1d, 3d) and coarse buckets (1 h, or window/1000 when longer) for the objective's window. A
 * window is answered by the finest tier that covers it, from the buckets that start inside it,
 * so it is exact to one bucket width at its far edge. At most ~1,800 buckets (< 60 kB as JSON).
 */

interface TierSpec {
  readonly widthMs: number;
  readonly keepMs: number;
}

/** Stored form: buckets flattened as [startMs, sum, count, startMs, sum, count, ...]. */
export interface SloHistoryData {
  readonly v: 1;
  /** Time of the latest sample (0 when none); older or equal samples are ignored (the history only moves forward). */
  readonly lastAt: number;
  readonly lastValue: number;
  readonly tiers: readonly { readonly widthMs: number; readonly buckets: readonly number[] }[];
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Upper bound on the coarse tier's bucket count. */
const COARSE_BUCKETS = 1000;

export function tierSpecs(windowMs: number): readonly TierSpec[] {
  const coarse = Math.max(HOUR, Math.ceil(windowMs / COARSE_BUCKETS / HOUR) * HOUR);
  return [
    { widthMs: MINUTE, keepMs: 6 * HOUR },
    { widthMs: 10 * MINUTE, keepMs: 3 * DAY },
    { widthMs: coarse, keepMs: Math.max(windowMs, 3 * DAY) },
  ];
}

interface Bucket {
  start: number;
  sum: number;
  count: number;
}

export class SloHistory {
  private constructor(
    private readonly specs: readonly TierSpec[],
    private readonly tiers: Bucket[][],
    private lastAt: number,
    private lastValue: number,
  ) {}

  static empty(windowMs: number): SloHistory {
    const specs = tierSpecs(windowMs);
    return new SloHistory(specs, specs.map(() => []), 0, 0);
  }

  /** Restores a stored history; a tier whose width changed (the window was edited) is re-bucketed. */
  static fromData(data: SloHistoryData | undefined, windowMs: number): SloHistory {
    if (!data || data.v !== 1) return SloHistory.empty(windowMs);
    const specs = tierSpecs(windowMs);
    const tiers = specs.map((spec, i) => {
      const stored = data.tiers[i];
      if (!stored) return [];
      const out: Bucket[] = [];
      for (let j = 0; j + 2 < stored.buckets.length; j += 3) {
        const start = Math.floor((stored.buckets[j] as number) / spec.widthMs) * spec.widthMs;
        const sum = stored.buckets[j + 1] as number;
        const count = stored.buckets[j + 2] as number;
        const last = out[out.length - 1];
        if (last && last.start === start) {
          last.sum += sum;
          last.count += count;
        } else out.push({ start, sum, count });
      }
      return out;
    });
    return new SloHistory(specs, tiers, data.lastAt, data.lastValue);
  }

  get latest(): { readonly at: number; readonly value: number } | undefined {
    return this.lastAt > 0 ? { at: this.lastAt, value: this.lastValue } : undefined;
  }

  /** Adds a sample; returns false (and ignores it) when it is not newer than the latest one. */
  record(at: number, value: number): boolean {
    if (!(at > this.lastAt) || !Number.isFinite(value)) return false;
    this.lastAt = at;
    this.lastValue = value;
    this.specs.forEach((spec, i) => {
      const tier = this.tiers[i] as Bucket[];
      const start = Math.floor(at / spec.widthMs) * spec.widthMs;
      const last = tier[tier.length - 1];
      if (last && last.start === start) {
        last.sum += value;
        last.count++;
      } else tier.push({ start, sum: value, count: 1 });
      const horizon = at - spec.keepMs;
      let drop = 0;
      while (drop < tier.length && (tier[drop] as Bucket).start + spec.widthMs <= horizon) drop++;
      if (drop > 0) tier.splice(0, drop);
    });
    return true;
  }

  /** Mean of the samples in [now - windowMs, now] (to one bucket width), undefined without any. */
  mean(now: number, windowMs: number): number | undefined {
    let i = this.specs.findIndex((s) => s.keepMs >= windowMs);
    if (i < 0) i = this.specs.length - 1;
    const from = now - windowMs;
    let sum = 0;
    let count = 0;
    for (const b of this.tiers[i] as Bucket[]) {
      if (b.start < from || b.start > now) continue;
      sum += b.sum;
      count += b.count;
    }
    return count === 0 ? undefined : sum / count;
  }

  /** Number of buckets kept, over all tiers (bounded, see the module comment). */
  get size(): number {
    return this.tiers.reduce((n, t) => n + t.length, 0);
  }

  toData(): SloHistoryData {
    return {
      v: 1,
      lastAt: this.lastAt,
      lastValue: this.lastValue,
      tiers: this.specs.map((spec, i) => ({ widthMs: spec.widthMs, buckets: (this.tiers[i] as Bucket[]).flatMap((b) => [b.start, b.sum, b.count]) })),
    };
  }
}
