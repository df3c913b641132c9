/**
 * Kills processes with SIGKILL in the middle of the two big writes a user makes, and checks what
 * a reopen finds:
 * - a reconcile of a synthetic organisation (child: test/fixtures/reconcile-runner.ts): every
 *   results item is whole, every batch the child saw commit is there, and a second reconcile
 *   finishes the work with the derived state equal to a from-scratch computation;
 * - `argus apply -f <dir>` with thousands of Resource manifests: all of them or none.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generateOrganisation } from '../../bench/generate-org.ts';
import { LocalRuntime } from '../../src/adapters/local/local-runtime.ts';
import { computeDerivedState } from '../../src/core/compliance/derived-state.ts';
import { definitionKey, resultsPartitions } from '../../src/core/keys.ts';
import type { AnyDefinition, Resource } from '../../src/core/model.ts';
import { queryAll, type Store, type StoredItem } from '../../src/core/ports/store.ts';
import { RESULTS_FORMAT, resultsOf, type AnyResultsItem } from '../../src/core/results-item.ts';
import { loadDefinitions, loadResults } from '../../src/core/use-cases/load-engine.ts';
import { crashOrgShape } from '../fixtures/reconcile-runner.ts';
import { runArgus, runNode, TSX_LOADER } from '../support/child.ts';
import { tempDirs } from '../support/temp-dirs.ts';

const RUNNER = fileURLToPath(new URL('../fixtures/reconcile-runner.ts', import.meta.url));
/** 3,000 leaves × 3 attestations = 9,000 pairs in 120 batches: a few seconds of reconcile. */
const RESOURCES = 3000;
const BATCH_SIZE = 25;
const ATTESTATIONS_PER_RESOURCE = crashOrgShape(RESOURCES).attestationsPerRequirement;
const KILL_AFTER_BATCHES = 20;

const tempDir = tempDirs('all');

/** Every stored results item, over all results partitions. */
async function allResultsItems(store: Store): Promise<StoredItem<AnyResultsItem>[]> {
  const pages = await Promise.all(resultsPartitions().map((pk) => queryAll<AnyResultsItem>(store, pk)));
  return pages.flat();
}

/** Which attestations apply to each resource, from the generated definitions alone. */
function expectedAttestations(definitions: readonly AnyDefinition[]): Map<string, string[]> {
  const byType = new Map<string, string[]>();
  for (const def of definitions) {
    if (def.kind !== 'Attestation') continue;
    for (const type of def.spec.resourceTypes) byType.set(type, [...(byType.get(type) ?? []), def.metadata.name].sort());
  }
  const out = new Map<string, string[]>();
  for (const def of definitions) {
    if (def.kind !== 'Resource') continue;
    const atts = byType.get(def.spec.type);
    if (atts) out.set(def.metadata.name, atts);
  }
  return out;
}

describe('reconcile killed with SIGKILL between and inside batch commits', () => {
  it('keeps every committed batch, leaves no half-written results item, and a second reconcile converges to the from-scratch state', async () => {
    // Prepare: the child applies the organisation and reconciles until killed.
    const home = tempDir('argus-crash-reconcile-');
    const { definitions } = generateOrganisation(crashOrgShape(RESOURCES));
    const expected = expectedAttestations(definitions);
    const totalPairs = [...expected.values()].reduce((n, a) => n + a.length, 0);
    const digests = new Map(definitions.filter((d): d is Resource => d.kind === 'Resource').map((d) => [d.metadata.name, d.spec.digest]));
    let batches = 0;
    let committedPairs = 0;
    let finished = false;
    const startedAt = Date.now();

    // Act: SIGKILL once enough batches were reported committed.
    const outcome = await runNode(['--import', TSX_LOADER, RUNNER, home, String(RESOURCES), String(BATCH_SIZE)], {
      onLine: (line, kill) => {
        const [word, done] = line.split(' ');
        if (word === 'done') finished = true;
        if (word !== 'batch') return;
        batches++;
        committedPairs = Math.max(committedPairs, Number(done));
        if (batches >= KILL_AFTER_BATCHES) kill();
      },
    });
    const killedAt = Date.now();

    // Assess: killed mid-reconcile, after some batches.
    expect(outcome.signal, `child output:\n${outcome.stdout}\n${outcome.stderr}`).toBe('SIGKILL');
    expect(finished).toBe(false);
    expect(committedPairs).toBeGreaterThanOrEqual(KILL_AFTER_BATCHES * BATCH_SIZE * ATTESTATIONS_PER_RESOURCE);
    expect(committedPairs).toBeLessThan(totalPairs);

    // The store opens, every results item is whole and from that run.
    let runtime = await LocalRuntime.open({ home });
    try {
      const items = await allResultsItems(runtime.store);
      let attestedPairs = 0;
      for (const item of items) {
        const wanted = expected.get(item.sk);
        expect(wanted, `results item for ${item.sk}, which has no attestation`).toBeDefined();
        expect((item.data as { format?: unknown }).format, `format of ${item.sk}`).toBe(RESULTS_FORMAT);
        const results = resultsOf(item.data);
        expect(results.map((r) => r.attestation).sort(), `results of ${item.sk}`).toEqual(wanted);
        expect(item.version, `${item.sk} written once`).toBe(1);
        for (const result of results) {
          expect(result.resource).toBe(item.sk);
          expect(['Passed', 'Failed']).toContain(result.outcome);
          expect(result.resourceDigest).toBe(digests.get(item.sk));
          expect(result.executedAt).toBeGreaterThanOrEqual(startedAt);
          expect(result.executedAt).toBeLessThanOrEqual(killedAt);
        }
        attestedPairs += wanted?.length ?? 0;
      }
      // Every reported batch is there; at most the batch in flight landed unreported.
      expect(attestedPairs).toBeGreaterThanOrEqual(committedPairs);
      expect(attestedPairs).toBeLessThanOrEqual(committedPairs + BATCH_SIZE * ATTESTATIONS_PER_RESOURCE);
      // The reopened engine sees exactly the stored results: the rest is Pending.
      const withItem = new Set(items.map((i) => i.sk));
      const states = runtime.engine.snapshot().attestations;
      expect(states).toHaveLength(totalPairs);
      for (const s of states) {
        if (withItem.has(s.resource)) expect(['Passed', 'Failed'], `${s.resource} ${s.attestation}`).toContain(s.status);
        else expect(s.status, `${s.resource} ${s.attestation}`).toBe('Pending');
      }

      // A second reconcile attests exactly what is left.
      const summary = await runtime.reconcile({ batchSize: 250 });
      expect(summary.aborted).toBe(false);
      expect(summary.planned).toBe(totalPairs - attestedPairs);
      expect(summary.evaluated).toBe(summary.planned);
      expect(summary.errored).toBe(0);

      const after = runtime.engine.snapshot();
      const fromScratch = computeDerivedState(await loadDefinitions(runtime.store), await loadResults(runtime.store), runtime.engine.now);
      expect(after).toEqual(fromScratch);
      expect(after.attestations).toHaveLength(totalPairs);
      expect(after.attestations.filter((s) => s.status !== 'Passed' && s.status !== 'Failed')).toEqual([]);
      expect(after.requirements.filter((r) => r.status === 'Unknown')).toEqual([]);
      expect(await allResultsItems(runtime.store)).toHaveLength(expected.size);

      // A restart rebuilds the same state from the store alone.
      await runtime.close();
      runtime = await LocalRuntime.open({ home });
      expect(runtime.engine.snapshot()).toEqual(after);
    } finally {
      await runtime.close();
    }
  }, 180_000);
});

const MANIFESTS = 2000;
const PER_FILE = 100;

/** Writes MANIFESTS Resource manifests into PER_FILE-document YAML files; returns the names. */
function writeResourceManifests(dir: string): string[] {
  const names: string[] = [];
  for (let f = 0; f < MANIFESTS / PER_FILE; f++) {
    const docs: string[] = [];
    for (let i = 0; i < PER_FILE; i++) {
      const n = f * PER_FILE + i;
      const name = `crash/thing-${String(n).padStart(5, '0')}`;
      names.push(name);
      docs.push(
        [
          'apiVersion: argus.dev/v1alpha1',
          'kind: Resource',
          'metadata:',
          `  name: ${name}`,
          '  labels: { suite: crash-apply }',
          'spec:',
          '  type: Test::Thing',
          `  document: { index: ${n}, payload: "${'x'.repeat(200)}" }`,
          '',
        ].join('\n'),
      );
    }
    fs.writeFileSync(path.join(dir, `part-${String(f).padStart(3, '0')}.yaml`), docs.join('---\n'));
  }
  return names;
}

/** The test's Resources present in the store at `home`, after reopening it. */
async function storedNames(home: string): Promise<string[]> {
  const runtime = await LocalRuntime.open({ home });
  try {
    const items = await queryAll<AnyDefinition>(runtime.store, definitionKey('Resource', '').pk, 'crash/');
    return items.map((i) => i.sk);
  } finally {
    await runtime.close();
  }
}

type KillPoint = 'validating' | 'writing';

/**
 * Runs `argus apply -f <dir>` and kills it: `validating` as soon as the CLI holds the store lock
 * (it is reading and checking the manifests), `writing` as soon as the write-ahead log grows.
 */
async function applyAndKill(home: string, manifests: string, at: KillPoint) {
  const watched = at === 'validating' ? 'LOCK' : 'wal.jsonl';
  const file = path.join(home, watched);
  let poll: NodeJS.Timeout | undefined;
  let watcher: fs.FSWatcher | undefined;
  const fired = (): boolean => {
    try {
      return at === 'validating' ? fs.existsSync(file) : fs.statSync(file).size > 0;
    } catch {
      return false;
    }
  };
  try {
    return await runArgus(['--home', home, 'apply', '-f', manifests], {
      onSpawn: (kill) => {
        const check = (): void => {
          if (fired()) kill();
        };
        watcher = fs.watch(home, check);
        poll = setInterval(check, 2);
      },
    });
  } finally {
    clearInterval(poll);
    watcher?.close();
  }
}

describe('argus apply killed with SIGKILL', () => {
  const manifests = tempDir('argus-crash-manifests-');
  const names = writeResourceManifests(manifests);

  it.each<KillPoint>(['validating', 'writing'])('leaves all or none of thousands of Resource manifests when killed while %s', async (at) => {
    // Prepare
    const home = tempDir(`argus-crash-apply-${at}-`);

    // Act
    const outcome = await applyAndKill(home, manifests, at);

    // Assess: all or nothing, and the store still takes the apply afterwards.
    const created = outcome.stdout.includes(`${MANIFESTS} definitions created`);
    const present = await storedNames(home);
    if (outcome.signal !== 'SIGKILL') expect(outcome.code, outcome.stderr).toBe(0);
    expect(present.length === 0 || present.length === MANIFESTS, `${present.length} of ${MANIFESTS} Resources present`).toBe(true);
    if (created) expect(present).toHaveLength(MANIFESTS);
    if (at === 'validating') expect(present).toHaveLength(0);
    if (present.length === MANIFESTS) expect(present).toEqual(names);

    if (present.length === 0) {
      const retry = await runArgus(['--home', home, 'apply', '-f', manifests]);
      expect(retry.code, retry.stderr).toBe(0);
      expect(retry.stdout).toContain(`${MANIFESTS} definitions created`);
      expect(await storedNames(home)).toEqual(names);
    }
  }, 180_000);
});
