/**
 * The local event-source mapping: the embedded store's change feed drives the same change handler
 * DynamoDB Streams drive on AWS, with Lambda's partial-batch-failure semantics.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createChangeBatchHandler, type ChangeBatchHandler } from '../../functions/stream-handler.ts';
import { EmbeddedStore } from '../../src/adapters/local/embedded-store.ts';
import { FeedPump, type FeedFailure } from '../../src/adapters/local/feed-pump.ts';
import { computeDerivedState } from '../../src/core/compliance/derived-state.ts';
import { ComplianceEngine } from '../../src/core/compliance/engine.ts';
import { feedCheckpointKey, resultsKey } from '../../src/core/keys.ts';
import type { AnyDefinition } from '../../src/core/model.ts';
import type { ChangeRecord } from '../../src/core/ports/store.ts';
import { resultsItemOf } from '../../src/core/results-item.ts';
import { applyDefinitions } from '../../src/core/use-cases/apply-definitions.ts';
import { loadDefinitions, loadResults } from '../../src/core/use-cases/load-engine.ts';
import { attestation, implementation, requirement, resource, resultFor } from '../support/builders.ts';

const NOW = Date.UTC(2025, 0, 1);
const clock = { now: () => NOW };
const dirs: string[] = [];
const stores: EmbeddedStore[] = [];

async function openStore(dir?: string): Promise<EmbeddedStore> {
  const home = dir ?? mkdtempSync(join(tmpdir(), 'argus-feed-'));
  if (!dir) dirs.push(home);
  const store = await EmbeddedStore.open({ dir: home, fsync: false, clock });
  stores.push(store);
  return store;
}

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function organisation(n: number): AnyDefinition[] {
  const defs: AnyDefinition[] = [
    requirement('encrypted'),
    attestation('enc-on', { params: { expression: 'resource.encrypted == true' } }),
    implementation('enc-impl', { requirements: ['encrypted'], attestations: ['enc-on'], targets: { ids: ['acct'] } }),
    resource('acct', 'AWS::Account'),
  ];
  for (let i = 0; i < n; i++) defs.push(resource(`bucket-${i}`, 'AWS::S3::Bucket', { parent: 'acct', document: { encrypted: i % 2 === 0 } }));
  return defs;
}

/** Results for every bucket, written the way a reconcile writes them (one item per resource). */
async function writeResults(store: EmbeddedStore, engine: ComplianceEngine, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const name = `bucket-${i}`;
    const key = resultsKey(name);
    const result = resultFor(engine, name, 'enc-on', i % 2 === 0 ? 'Passed' : 'Failed', NOW);
    await store.transact([{ type: 'put', ...key, data: resultsItemOf(name, [result]), ifVersion: 'absent' }]);
  }
}

async function expectDerivedStateMatchesStore(engine: ComplianceEngine, store: EmbeddedStore): Promise<void> {
  engine.flush();
  const expected = computeDerivedState(await loadDefinitions(store), await loadResults(store), NOW);
  expect(engine.snapshot()).toEqual(expected);
}

describe('FeedPump', () => {
  it('retries from the first failing record without handling the records before it twice, and loses nothing', async () => {
    const store = await openStore();
    const engine = new ComplianceEngine(NOW);
    const apply = createChangeBatchHandler({ engine });
    const calls = new Map<string, number>();
    let poisoned = 2;
    // Counts what reaches the engine, plus each attempt at the failing record.
    const count = (records: readonly ChangeRecord[]) => {
      for (const r of records) calls.set(r.dynamodb.SequenceNumber, (calls.get(r.dynamodb.SequenceNumber) ?? 0) + 1);
    };
    const handler: ChangeBatchHandler = async (records) => {
      // bucket-5's definition fails twice (the "bug"), then the fix is in.
      const bad = records.findIndex((r) => r.dynamodb.Keys.sk === 'bucket-5');
      if (bad < 0 || poisoned === 0) {
        count(records);
        return apply(records);
      }
      poisoned--;
      count(records.slice(0, bad + 1));
      const outcome = await apply(records.slice(0, bad));
      return { processed: outcome.processed, failure: { sequenceNumber: (records[bad] as ChangeRecord).dynamodb.SequenceNumber, error: new Error('poison record') } };
    };
    const failures: FeedFailure[] = [];
    const pump = await FeedPump.open({ store, consumer: 'engine', handler, batchSize: 4, backoff: { initialMs: 1 }, onFailure: (f) => failures.push(f) });
    await applyDefinitions(store, organisation(10));
    const failingSeq = (await store.readChanges(undefined, 1000)).find((r) => r.dynamodb.Keys.sk === 'bucket-5')?.dynamodb.SequenceNumber;

    expect(await pump.drain()).toBe(true);

    expect(failures.map((f) => [f.sequenceNumber, f.attempt])).toEqual([
      [failingSeq, 1],
      [failingSeq, 2],
    ]);
    const counts = [...calls].filter(([seq]) => seq !== failingSeq).map(([, n]) => n);
    expect(counts.every((n) => n === 1)).toBe(true);
    // The failing record was offered three times; every record of the feed reached the handler.
    expect(calls.get(failingSeq as string)).toBe(3);
    const feed = (await store.readChanges(undefined, 1000)).filter((r) => r.dynamodb.Keys.pk !== feedCheckpointKey('engine').pk);
    expect([...calls.keys()].sort()).toEqual(feed.map((r) => r.dynamodb.SequenceNumber).sort());
    expect(pump.stats.handled).toBe(feed.length);

    await writeResults(store, engine, 10);
    await pump.drain();
    await expectDerivedStateMatchesStore(engine, store);
  });

  it('keeps its checkpoint in the store, so a reopened pump resumes after the last handled record', async () => {
    const store = await openStore();
    const engine = new ComplianceEngine(NOW);
    const seen: string[] = [];
    const apply = createChangeBatchHandler({ engine });
    const handler: ChangeBatchHandler = (records) => {
      seen.push(...records.map((r) => r.dynamodb.Keys.sk));
      return apply(records);
    };
    const first = await FeedPump.open({ store, consumer: 'engine', handler, batchSize: 3 });
    await applyDefinitions(store, organisation(4));
    await first.drain();
    const handledFirst = seen.length;
    const dir = store.dir;
    await store.close();

    const reopened = await openStore(dir);
    const second = await FeedPump.open({ store: reopened, consumer: 'engine', handler, batchSize: 3 });
    await second.drain();
    expect(seen.length).toBe(handledFirst);

    await applyDefinitions(reopened, [resource('bucket-new', 'AWS::S3::Bucket', { parent: 'acct' })]);
    await second.drain();
    expect(seen.slice(handledFirst)).toEqual(['bucket-new']);
  });

  it('runs in the background, woken by commits, and stop waits for the batch in flight', async () => {
    const store = await openStore();
    const engine = new ComplianceEngine(NOW);
    const pump = await FeedPump.open({ store, consumer: 'engine', handler: createChangeBatchHandler({ engine }), batchSize: 2, pollIntervalMs: 60_000 });
    pump.start();
    await applyDefinitions(store, organisation(6));
    const written = (await store.readChanges(undefined, 1000)).length;
    await expect.poll(() => pump.stats.handled, { timeout: 20_000, interval: 5 }).toBe(written);
    await pump.stop();
    await writeResults(store, engine, 6);
    // Stopped: nothing more is handled until it starts again.
    expect(pump.stats.handled).toBe(written);
    pump.start();
    await expect.poll(() => pump.stats.handled, { timeout: 20_000, interval: 5 }).toBe(written + 6);
    await pump.stop();
    await expectDerivedStateMatchesStore(engine, store);
  });
});
