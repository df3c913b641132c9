/**
 * Reconcile benchmark: full-reconcile rate vs the raw CEL ceiling, work after a 1% requirement
 * version bump, and peak RSS.
 *
 *   npx tsx bench/reconcile.bench.ts [--resources 10000] [--requirements 100] [--k 10] [--batch 250] [--no-fsync] [--no-evidence] [--skip-ceiling]
 *
 * The ceiling runs the same CEL rules on the same resources, rule by rule within a resource as
 * the reconcile does, warm (rules compiled, JIT settled on a copy of the resources), so each
 * document is converted to CEL values once in the timed pass, as in the reconcile.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalRuntime } from '../src/adapters/local/local-runtime.ts';
import type { Requirement, Resource } from '../src/core/model.ts';
import { reconcile, type ReconcileSummary } from '../src/core/use-cases/reconcile.ts';
import { CelProvider } from '../src/providers/cel-provider.ts';
import { typeMatchesAny } from '../src/core/selector.ts';
import { DEFAULT_SHAPE, generateOrganisation } from './generate-org.ts';

const { values } = parseArgs({
  options: {
    resources: { type: 'string', default: String(DEFAULT_SHAPE.resources) },
    requirements: { type: 'string', default: String(DEFAULT_SHAPE.requirements) },
    k: { type: 'string', default: String(DEFAULT_SHAPE.attestationsPerRequirement) },
    'no-fsync': { type: 'boolean', default: false },
    'skip-ceiling': { type: 'boolean', default: false },
    batch: { type: 'string' },
    // The runtime appends every result to its evidence ledger; this measures engine + store alone.
    'no-evidence': { type: 'boolean', default: false },
  },
});
const shape = {
  ...DEFAULT_SHAPE,
  resources: Number(values.resources),
  requirements: Number(values.requirements),
  attestationsPerRequirement: Number(values.k),
};

const rssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);
const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
// CPU seconds of this process (user + system) since `start`: steadier than wall time on a shared
// machine, but blind to waiting (fsync), so the wall-clock figures stay the ones that count.
const cpuSeconds = (start: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1e6;
};

const { definitions, pairs } = generateOrganisation(shape);
console.log(`organisation: ${shape.resources} resources, ${shape.requirements} requirements x ${shape.attestationsPerRequirement} attestations, ${pairs} pairs`);

// 1. The ceiling: the same CEL rules evaluated alone, no engine, no store.
let ceilingRate = Number.NaN;
let ceilingCpuRate = Number.NaN;
if (!values['skip-ceiling']) {
  const cel = new CelProvider();
  const resources = definitions.filter((d): d is Resource => d.kind === 'Resource');
  const attestations = definitions.filter((d) => d.kind === 'Attestation');
  const byType = new Map<string, typeof attestations>();
  for (const a of attestations) for (const t of a.spec.resourceTypes) byType.set(t, [...(byType.get(t) ?? []), a]);
  const pass = (over: readonly Resource[]): number => {
    let count = 0;
    for (const r of over) {
      for (const a of byType.get(r.spec.type) ?? []) {
        if (!typeMatchesAny(a.spec.resourceTypes, r.spec.type)) continue;
        cel.attest(a, r);
        count++;
      }
    }
    return count;
  };
  // Warm-up on copies: compiles every rule and lets the JIT settle, as the reconcile below also
  // runs warm, without leaving converted documents behind for the timed pass (the reconcile
  // converts each resource's document once, so the ceiling must too).
  pass(structuredClone(resources));
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  const n = pass(resources);
  const s = seconds(start);
  ceilingCpuRate = n / cpuSeconds(cpuStart);
  ceilingRate = n / s;
  console.log(`raw CEL ceiling: ${n} evaluations in ${s.toFixed(2)} s = ${Math.round(ceilingRate)} evals/s (${Math.round(ceilingCpuRate)} per CPU second)`);
}

// 2. Full reconcile through the engine and the embedded store.
const home = mkdtempSync(join(tmpdir(), 'argus-bench-'));
try {
  const runtime = await LocalRuntime.open({ home, fsync: !values['no-fsync'] });
  let start = process.hrtime.bigint();
  await runtime.apply(definitions);
  runtime.engine.flush();
  const applySeconds = seconds(start);
  console.log(`apply: ${definitions.length} definitions in ${applySeconds.toFixed(2)} s`);

  const profiler = process.env.BENCH_PROFILE ? await startProfile() : undefined;
  start = process.hrtime.bigint();
  const batchSize = values.batch === undefined ? undefined : Number(values.batch);
  const reconcileOnce = (): Promise<ReconcileSummary> =>
    values['no-evidence']
      ? reconcile({ store: runtime.store, engine: runtime.engine, providers: runtime.providers, clock: runtime.clock, batchSize })
      : runtime.reconcile({ batchSize });
  const cpuStart = process.cpuUsage();
  const full = await reconcileOnce();
  const fullSeconds = seconds(start);
  const fullCpuRate = full.evaluated / cpuSeconds(cpuStart);
  if (profiler) await profiler.stop(process.env.BENCH_PROFILE as string);
  const fullRate = full.evaluated / fullSeconds;
  console.log(`full reconcile: ${full.evaluated} evaluations, ${full.writes} store writes in ${fullSeconds.toFixed(2)} s = ${Math.round(fullRate)} evals/s (${Math.round(fullCpuRate)} per CPU second)`);
  if (!Number.isNaN(ceilingRate)) {
    console.log(`ratio full/ceiling: ${(fullRate / ceilingRate).toFixed(2)} wall clock, ${(fullCpuRate / ceilingCpuRate).toFixed(2)} CPU time (target >= 0.5)`);
  }

  // 3. A version bump of one requirement (1/M of the pairs).
  const req = runtime.engine.index.requirements.get('req-0') as Requirement;
  start = process.hrtime.bigint();
  await runtime.apply([{ ...req, spec: { ...req.spec, version: req.spec.version + 1 } }]);
  const bump = await reconcileOnce();
  const bumpSeconds = seconds(start);
  const evalFraction = bump.evaluated / full.evaluated;
  const writeFraction = bump.writes / full.writes;
  console.log(
    `after bumping req-0: ${bump.evaluated} evaluations (${(evalFraction * 100).toFixed(2)}% of full), ` +
      `${bump.writes} store writes (${(writeFraction * 100).toFixed(2)}% of full) in ${bumpSeconds.toFixed(2)} s (target <= 1.5%)`,
  );
  const again = await reconcileOnce();
  console.log(`reconcile with nothing due: ${again.evaluated} evaluations, ${again.writes} writes in ${again.durationMs} ms`);
  console.log(`peak RSS: ${rssMb()} MB (target: 1,000,000 pairs under 2048 MB)`);
  console.log(
    JSON.stringify({
      pairs,
      ceilingEvalsPerSec: Math.round(ceilingRate),
      fullEvalsPerSec: Math.round(fullRate),
      ratio: Number((fullRate / ceilingRate).toFixed(3)),
      cpuRatio: Number((fullCpuRate / ceilingCpuRate).toFixed(3)),
      fullSeconds: Number(fullSeconds.toFixed(2)),
      evidence: !values['no-evidence'],
      fsync: !values['no-fsync'],
      bumpEvalFraction: Number(evalFraction.toFixed(4)),
      bumpWriteFraction: Number(writeFraction.toFixed(4)),
      peakRssMb: rssMb(),
    }),
  );
  await runtime.close();
} finally {
  rmSync(home, { recursive: true, force: true });
}

/** CPU profile of one phase (BENCH_PROFILE=file.cpuprofile), for finding where time goes. */
async function startProfile(): Promise<{ stop(file: string): Promise<void> }> {
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop(file: string) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}
