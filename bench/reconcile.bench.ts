/**
 * Reconcile benchmark: full-reconcile rate vs the raw CEL ceiling, work after a 1% requirement
 * version bump, and peak RSS.
 *
 *   npx tsx bench/reconcile.bench.ts [--resources 10000] [--requirements 100] [--k 10] [--no-fsync]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalRuntime } from '../src/adapters/local/local-runtime.ts';
import type { Requirement, Resource } from '../src/core/model.ts';
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

const { definitions, pairs } = generateOrganisation(shape);
console.log(`organisation: ${shape.resources} resources, ${shape.requirements} requirements x ${shape.attestationsPerRequirement} attestations, ${pairs} pairs`);

// 1. The ceiling: the same CEL rules evaluated alone, no engine, no store.
let ceilingRate = Number.NaN;
if (!values['skip-ceiling']) {
  const cel = new CelProvider();
  const resources = definitions.filter((d): d is Resource => d.kind === 'Resource');
  const attestations = definitions.filter((d) => d.kind === 'Attestation');
  const byType = new Map<string, typeof attestations>();
  for (const a of attestations) for (const t of a.spec.resourceTypes) byType.set(t, [...(byType.get(t) ?? []), a]);
  const pass = (): number => {
    let count = 0;
    for (const r of resources) {
      for (const a of byType.get(r.spec.type) ?? []) {
        if (!typeMatchesAny(a.spec.resourceTypes, r.spec.type)) continue;
        cel.attest(a, r);
        count++;
      }
    }
    return count;
  };
  pass(); // warm-up: compile every rule and let the JIT settle, as the reconcile below also runs warm
  const start = process.hrtime.bigint();
  const n = pass();
  const s = seconds(start);
  ceilingRate = n / s;
  console.log(`raw CEL ceiling: ${n} evaluations in ${s.toFixed(2)} s = ${Math.round(ceilingRate)} evals/s`);
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
  const full = await runtime.reconcile();
  const fullSeconds = seconds(start);
  if (profiler) await profiler.stop(process.env.BENCH_PROFILE as string);
  const fullRate = full.evaluated / fullSeconds;
  console.log(`full reconcile: ${full.evaluated} evaluations, ${full.writes} store writes in ${fullSeconds.toFixed(2)} s = ${Math.round(fullRate)} evals/s`);
  if (!Number.isNaN(ceilingRate)) console.log(`ratio full/ceiling: ${(fullRate / ceilingRate).toFixed(2)} (target >= 0.5)`);

  // 3. A version bump of one requirement (1/M of the pairs).
  const req = runtime.engine.index.requirements.get('req-0') as Requirement;
  start = process.hrtime.bigint();
  await runtime.apply([{ ...req, spec: { ...req.spec, version: req.spec.version + 1 } }]);
  const bump = await runtime.reconcile();
  const bumpSeconds = seconds(start);
  const evalFraction = bump.evaluated / full.evaluated;
  const writeFraction = bump.writes / full.writes;
  console.log(
    `after bumping req-0: ${bump.evaluated} evaluations (${(evalFraction * 100).toFixed(2)}% of full), ` +
      `${bump.writes} store writes (${(writeFraction * 100).toFixed(2)}% of full) in ${bumpSeconds.toFixed(2)} s (target <= 1.5%)`,
  );
  const again = await runtime.reconcile();
  console.log(`reconcile with nothing due: ${again.evaluated} evaluations, ${again.writes} writes in ${again.durationMs} ms`);
  console.log(`peak RSS: ${rssMb()} MB (target: 1,000,000 pairs under 2048 MB)`);
  console.log(
    JSON.stringify({
      pairs,
      ceilingEvalsPerSec: Math.round(ceilingRate),
      fullEvalsPerSec: Math.round(fullRate),
      ratio: Number((fullRate / ceilingRate).toFixed(3)),
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
