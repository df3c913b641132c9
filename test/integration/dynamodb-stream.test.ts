import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ComplianceEngine } from '#core/compliance/engine.ts';
import { checkedKey, resultsKey } from '#core/keys.ts';
import { computeDerivedState } from '#core/compliance/derived-state.ts';
import type { AnyDefinition, Requirement } from '#core/model.ts';
import type { ChangeRecord } from '#core/ports/store.ts';
import { applyChangeRecords } from '#core/use-cases/apply-change-records.ts';
import { applyDefinitions } from '#core/use-cases/apply-definitions.ts';
import { loadDefinitions, loadEngine, loadResults } from '#core/use-cases/load-engine.ts';
import { planDueWork, reconcile } from '#core/use-cases/reconcile.ts';
import { DynamoDbFeedStore } from '../../src/adapters/aws/dynamodb-feed-store.ts';
import { DynamoDbStore } from '../../src/adapters/aws/dynamodb-store.ts';
import { DynamoDbStreamPoller, DynamoDbStreamReader } from '../../src/adapters/aws/dynamodb-stream.ts';
import { LocalRuntime } from '../../src/adapters/local/local-runtime.ts';
import { defaultProviders } from '../../src/providers/registry.ts';
import { attestation, implementation, requirement, resource } from '../support/builders.ts';
import { freshTable, localClients, type LocalClients } from '../support/dynamodb-clients.ts';
import { startDynamoDbLocal, type DynamoDbLocal } from '../support/dynamodb-local.ts';

let ddb: DynamoDbLocal;
let clients: LocalClients;

beforeAll(async () => {
  ddb = await startDynamoDbLocal();
  clients = localClients(ddb);
}, 120_000);

afterAll(async () => {
  clients?.client.destroy();
  clients?.streams.destroy();
  await ddb?.stop();
});

const T0 = Date.UTC(2025, 0, 1);
const clockAt = (ms: number) => ({ now: () => ms });

/** An organisation with a hierarchy, a cascading implementation, and rules that pass and fail. */
function catalog(): AnyDefinition[] {
  return [
    resource('org', 'Org'),
    resource('org/acct-1', 'AWS::Account', { parent: 'org' }),
    resource('org/acct-1/bucket-a', 'AWS::S3::Bucket', { parent: 'org/acct-1', document: { encrypted: true, public: false } }),
    resource('org/acct-1/bucket-b', 'AWS::S3::Bucket', { parent: 'org/acct-1', document: { encrypted: false, public: false } }),
    resource('org/acct-1/bucket-c', 'AWS::S3::Bucket', { parent: 'org/acct-1', document: { encrypted: true, public: true } }),
    requirement('sc-28', { appliesTo: { types: ['AWS::S3::Bucket'] } }),
    requirement('ac-3', { appliesTo: { types: ['AWS::S3::Bucket'] } }),
    attestation('encrypted', { params: { expression: 'resource.encrypted == true' }, resourceTypes: ['AWS::S3::Bucket'] }),
    attestation('private', { params: { expression: 'resource.public == false' }, resourceTypes: ['AWS::S3::Bucket'] }),
    implementation('impl-sc-28', { requirements: ['sc-28'], attestations: ['encrypted'], targets: { ids: ['org'] } }),
    implementation('impl-ac-3', { requirements: ['ac-3'], attestations: ['private'], targets: { ids: ['org'] } }),
  ];
}

async function fromScratch(store: DynamoDbStore, now: number) {
  return computeDerivedState(await loadDefinitions(store), await loadResults(store), now);
}

describe('DynamoDB stream processing', () => {
  it('keeps an engine fed from the stream equal to a from-scratch computation through applies, reconciles, a version bump and a delete', async () => {
    const table = await freshTable(clients, 'argus-stream');
    const store = new DynamoDbStore({ client: clients.client, streams: clients.streams, tableName: table });
    const poller = await DynamoDbStreamPoller.start(clients.streams, await store.streamArn(), { startingPosition: 'TRIM_HORIZON', intervalMs: 60_000 });
    const engine = new ComplianceEngine(T0);
    poller.subscribe((records) => applyChangeRecords(engine, records));
    const deps = { store, engine, providers: defaultProviders(), clock: clockAt(T0) };
    try {
      await applyDefinitions(store, catalog());
      await poller.catchUp();
      await reconcile(deps);
      await poller.catchUp();
      const req = engine.index.requirements.get('sc-28') as Requirement;
      await applyDefinitions(store, [{ ...req, spec: { ...req.spec, version: 2 } }]);
      await poller.catchUp();
      await reconcile(deps);
      await applyDefinitions(store, [], { deletes: [{ kind: 'Resource', name: 'org/acct-1/bucket-c' }] });
      await poller.catchUp();
      engine.flush();

      const expected = await fromScratch(store, T0);
      expect(engine.snapshot()).toEqual(expected);
      expect(expected.requirements.map((r) => `${r.resource} ${r.requirement} ${r.status}`)).toEqual([
        'org/acct-1/bucket-a ac-3 Compliant',
        'org/acct-1/bucket-a sc-28 Compliant',
        'org/acct-1/bucket-b ac-3 Compliant',
        'org/acct-1/bucket-b sc-28 NonCompliant',
      ]);
    } finally {
      await poller.stop();
    }
  });

  it('re-runs with unchanged results write only the small CHECKED item, which moves freshness through the stream, and a deleted Resource takes it along', async () => {
    const table = await freshTable(clients, 'argus-checked');
    const store = new DynamoDbStore({ client: clients.client, streams: clients.streams, tableName: table });
    const poller = await DynamoDbStreamPoller.start(clients.streams, await store.streamArn(), { startingPosition: 'TRIM_HORIZON', intervalMs: 60_000 });
    const engine = new ComplianceEngine(T0);
    poller.subscribe((records) => applyChangeRecords(engine, records));
    const HOUR = 3_600_000;
    const bucket = 'org/acct-1/bucket-a';
    try {
      await applyDefinitions(store, catalog());
      await poller.catchUp();
      await reconcile({ store, engine, providers: defaultProviders(), clock: clockAt(T0) });
      await poller.catchUp();
      const before = await store.get(resultsKey(bucket).pk, resultsKey(bucket).sk);

      // Every pair expired; the re-run finds the same outcomes: no results item is rewritten.
      const T1 = T0 + HOUR + 1;
      const summary = await reconcile({ store, engine, providers: defaultProviders(), clock: clockAt(T1) });
      expect(summary).toMatchObject({ planned: 6, evaluated: 6, writes: 3 });
      await poller.catchUp();
      expect((await store.get(resultsKey(bucket).pk, resultsKey(bucket).sk))?.version).toBe(before?.version);
      expect((await store.get(checkedKey(bucket).pk, checkedKey(bucket).sk))?.data).toEqual({ resource: bucket, checkedAt: { encrypted: T1, private: T1 } });

      // Fresh again from T1 (not from the results' executedAt T0): nothing due until T1 + 1 h.
      expect(planDueWork(engine, T1 + HOUR - 1).planned).toBe(0);
      expect(engine.snapshot()).toEqual(await fromScratch(store, T1 + HOUR - 1));
      expect((await loadEngine(store, T1 + HOUR - 1)).snapshot()).toEqual(engine.snapshot());
      expect(planDueWork(engine, T1 + HOUR).planned).toBe(6);
      expect(engine.snapshot()).toEqual(await fromScratch(store, T1 + HOUR));

      await applyDefinitions(store, [], { deletes: [{ kind: 'Resource', name: bucket }] });
      await poller.catchUp();
      expect(await store.get(checkedKey(bucket).pk, checkedKey(bucket).sk)).toBeUndefined();
      engine.flush();
      expect(engine.snapshot()).toEqual(await fromScratch(store, T1 + HOUR));
    } finally {
      await poller.stop();
    }
  });

  it('leaves the same state when records are delivered twice or a batch is redelivered after a partial failure', async () => {
    const table = await freshTable(clients, 'argus-redeliver');
    const store = new DynamoDbStore({ client: clients.client, streams: clients.streams, tableName: table });
    const writer = new ComplianceEngine(T0);
    const poller = await DynamoDbStreamPoller.start(clients.streams, await store.streamArn(), { startingPosition: 'TRIM_HORIZON', intervalMs: 60_000 });
    poller.subscribe((records) => applyChangeRecords(writer, records));
    try {
      await applyDefinitions(store, catalog());
      await poller.catchUp();
      await reconcile({ store, engine: writer, providers: defaultProviders(), clock: clockAt(T0) });
      const req = writer.index.requirements.get('ac-3') as Requirement;
      await applyDefinitions(store, [{ ...req, spec: { ...req.spec, version: 3 } }]);
    } finally {
      await poller.stop();
    }
    // The records as Lambda's event source mapping would read them: DescribeStream, GetShardIterator, GetRecords.
    const records = await new DynamoDbStreamReader(clients.streams, await store.streamArn()).read(undefined, 10_000);
    const expected = await fromScratch(store, T0);

    const twice = new ComplianceEngine(T0);
    applyChangeRecords(twice, records);
    applyChangeRecords(twice, records);
    twice.flush();

    // Batches of 4; each batch fails half-way once (its first half applied), then is delivered whole again.
    const retried = new ComplianceEngine(T0);
    for (let i = 0; i < records.length; i += 4) {
      const batch: ChangeRecord[] = records.slice(i, i + 4);
      applyChangeRecords(retried, batch.slice(0, 2));
      applyChangeRecords(retried, batch);
    }
    retried.flush();

    expect(records.length).toBeGreaterThan(catalog().length);
    expect(twice.snapshot()).toEqual(expected);
    expect(retried.snapshot()).toEqual(expected);
  });
});

describe('LocalRuntime on DynamoDB', () => {
  it('applies, attests and reports through the DynamoDB store, and a reopened runtime reports the same', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'argus-ddb-runtime-'));
    const tableName = `argus-runtime-${Date.now()}`;
    const open = async () =>
      LocalRuntime.open({ home, clock: clockAt(T0), store: await DynamoDbFeedStore.open({ tableName, endpoint: ddb.endpoint, createTable: true, poller: { intervalMs: 60_000 } }) });
    try {
      const first = await open();
      let report;
      try {
        await first.apply(catalog());
        const summary = await first.reconcile({ batchSize: 250 });
        expect(summary).toMatchObject({ planned: 6, evaluated: 6, passed: 4, failed: 2 });
        report = first.report();
        expect(report.totals).toMatchObject({ nonCompliant: 2 });
      } finally {
        await first.close();
      }

      const second = await open();
      try {
        expect(second.report()).toEqual(report);
        expect((await loadEngine(second.store, T0)).snapshot()).toEqual(second.engine.snapshot());
      } finally {
        await second.close();
      }
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
