import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError, StoreError } from '#core/errors.ts';
import { definitionKey, resultsKey } from '#core/keys.ts';
import type { WriteOp } from '#core/ports/store.ts';
import { childrenIndexKey, dueIndexKey, requirementIndexKey, resourceRequirementKey, TABLE_INDEX, timeSortKey } from '#core/table-design.ts';
import { shardOfName } from '#core/keys.ts';
import { DUE_SHARDS } from '#core/table-design.ts';
import { ThrottledError, TransactionTooLargeError, withBackoff, writeError } from '../../src/adapters/aws/dynamodb-errors.ts';
import { DynamoDbStore } from '../../src/adapters/aws/dynamodb-store.ts';
import { localClients, freshTable, type LocalClients } from '../support/dynamodb-clients.ts';
import { startDynamoDbLocal, type DynamoDbLocal } from '../support/dynamodb-local.ts';
import { resource } from '../support/builders.ts';
import { describeStoreContract } from './store-contract.ts';

let ddb: DynamoDbLocal;
let clients: LocalClients;
let table: string;

beforeAll(async () => {
  ddb = await startDynamoDbLocal();
  clients = localClients(ddb);
  table = await freshTable(clients);
}, 120_000);

afterAll(async () => {
  clients?.client.destroy();
  clients?.streams.destroy();
  await ddb?.stop();
});

// One table for the whole suite: every contract test writes under its own partition prefix.
describeStoreContract('DynamoDbStore (DynamoDB Local)', async () => {
  const store = new DynamoDbStore({ client: clients.client, streams: clients.streams, tableName: table, trackSequenceNumbers: true });
  return { store, cleanup: () => store.close() };
});

const put = (pk: string, sk: string, data: unknown, ifVersion: WriteOp['ifVersion'] = 'any'): WriteOp => ({ type: 'put', pk, sk, data, ifVersion });

describe('DynamoDbStore', () => {
  const open = (extra: Partial<ConstructorParameters<typeof DynamoDbStore>[0]> = {}) => new DynamoDbStore({ client: clients.client, streams: clients.streams, tableName: table, ...extra });

  describe('transaction size', () => {
    it('rejects more than 100 writes with guidance and writes nothing', async () => {
      const store = open();
      const ops = Array.from({ length: 101 }, (_, i) => put('big#1', `k${i}`, { i }, 'absent'));

      const error = await store.transact(ops).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(TransactionTooLargeError);
      expect(error).toBeInstanceOf(StoreError);
      expect((error as Error).message).toMatch(/limit of 100.*nothing was written/);
      expect((await store.query('big#1')).items).toEqual([]);
    });

    it('commits exactly 100 writes in one transaction', async () => {
      const store = open();
      const ops = Array.from({ length: 100 }, (_, i) => put('big#2', `k${String(i).padStart(3, '0')}`, { i }, 'absent'));

      await store.transact(ops);

      expect((await store.query('big#2')).items).toHaveLength(100);
    });
  });

  describe('conflicts', () => {
    it('names the key and the version found for a single conditional write', async () => {
      const store = open();
      await store.transact([put('cf#1', 'k', { n: 1 }, 'absent')]);
      await store.transact([put('cf#1', 'k', { n: 2 }, 1)]);

      const error = await store.transact([put('cf#1', 'k', { n: 3 }, 1)]).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ConflictError);
      expect((error as ConflictError).context).toEqual({ pk: 'cf#1', sk: 'k', expected: 1, actual: 2 });
      expect((error as Error).message).toBe('put cf#1 / k: expected the item at version 1, found version 2');
    });

    it('refuses a client token reused for different writes', async () => {
      const store = open();
      await store.transact([put('tok#1', 'a', {})], { clientToken: 'tok-reuse-1' });

      await expect(store.transact([put('tok#1', 'b', {})], { clientToken: 'tok-reuse-1' })).rejects.toBeInstanceOf(StoreError);
    });

    it('makes a retry with the same token a no-op in DynamoDB itself (another process, same token)', async () => {
      const first = open();
      const second = open();
      const ops = [put('tok#2', 'a', { n: 1 }), put('tok#2', 'b', { n: 1 })];

      await first.transact(ops, { clientToken: 'tok-cross-process-1' });
      await second.transact(ops, { clientToken: 'tok-cross-process-1' });

      expect(await first.get('tok#2', 'a')).toMatchObject({ version: 1 });
    });
  });

  describe('throttling', () => {
    it('retries throttled calls with backoff and then raises ThrottledError', async () => {
      let calls = 0;
      const throttle = Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), { name: 'ThrottlingException' });
      const attempt = () => {
        calls++;
        return Promise.reject(throttle);
      };

      const error = await withBackoff(attempt, () => true, { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 }).catch((e: unknown) => writeError(e, [put('p', 's', {})], 'tbl'));

      expect(calls).toBe(3);
      expect(error).toBeInstanceOf(ThrottledError);
      expect((error as ThrottledError).code).toBe('THROTTLED');
      expect((error as ThrottledError).cause).toBe(throttle);
    });
  });

  describe('sparse indexes', () => {
    it('finds the children of a resource through the parent index', async () => {
      const store = open();
      const parent = `acct-${Date.now()}`;
      const kids = [resource(`${parent}/b`, 'T', { parent }), resource(`${parent}/a`, 'T', { parent }), resource(`${parent}-orphan`, 'T')];
      await store.transact(kids.map((r) => ({ type: 'put', ...definitionKey('Resource', r.metadata.name), data: r, ifVersion: 'absent' })));

      const { entries } = await store.queryIndex(TABLE_INDEX.byParent.name, childrenIndexKey(parent));

      expect(entries.map((e) => e.sk)).toEqual([`${parent}/a`, `${parent}/b`]);
    });

    it('moves an item out of the index when its data no longer has the index key', async () => {
      const store = open();
      const parent = `moved-${Date.now()}`;
      const key = definitionKey('Resource', `${parent}/x`);
      await store.transact([{ type: 'put', ...key, data: resource(`${parent}/x`, 'T', { parent }), ifVersion: 'absent' }]);

      await store.transact([{ type: 'put', ...key, data: resource(`${parent}/x`, 'T'), ifVersion: 1 }]);

      expect((await store.queryIndex(TABLE_INDEX.byParent.name, childrenIndexKey(parent))).entries).toEqual([]);
    });

    it('counts resource-requirement pairs of a requirement by status (the SLI)', async () => {
      const store = open();
      const req = `req-${Date.now()}`;
      const statuses = ['Compliant', 'NonCompliant', 'Compliant', 'Unknown'];
      await store.transact(statuses.map((status, i) => ({ type: 'put', ...resourceRequirementKey(`r${i}`, req), data: { status }, ifVersion: 'any' })));

      const all = await store.queryIndex(TABLE_INDEX.byParent.name, requirementIndexKey(req));
      const compliant = await store.queryIndex(TABLE_INDEX.byParent.name, requirementIndexKey(req), { skPrefix: 'Compliant#' });

      expect(all.entries).toHaveLength(4);
      expect(compliant.entries.map((e) => e.pk).sort()).toEqual(['PAIR#r0', 'PAIR#r2']);
    });

    it('lists results due before a time in one shard, earliest first', async () => {
      const store = open();
      const base = 1_000_000 + Math.floor(Math.random() * 1e6) * 1000;
      const names = Array.from({ length: 40 }, (_, i) => `due-${base}-${i}`);
      await store.transact(names.map((n, i) => ({ type: 'put', ...resultsKey(n), data: { resource: n, results: {}, dueAt: base + i }, ifVersion: 'any' })));
      const shard = shardOfName(names[0] as string, DUE_SHARDS);
      const inShard = names.filter((n) => shardOfName(n, DUE_SHARDS) === shard);

      const { entries } = await store.queryIndex(TABLE_INDEX.byDue.name, dueIndexKey(shard), { skBefore: timeSortKey(base + 20) });

      const mine = entries.map((e) => e.sk).filter((sk) => sk.startsWith(`due-${base}-`));
      expect(mine).toEqual(inShard.filter((n) => Number(n.split('-').at(-1)) < 20));
    });
  });

  describe('data', () => {
    it('stores data as JSON would: undefined fields vanish, NaN becomes null, empty strings and lists stay', async () => {
      const store = open();

      await store.transact([put('data#1', 'k', { gone: undefined, nan: Number.NaN, empty: '', list: [], map: {}, date: new Date(0) })]);

      expect((await store.get('data#1', 'k'))?.data).toEqual({ nan: null, empty: '', list: [], map: {}, date: '1970-01-01T00:00:00.000Z' });
    });

    it('reports DynamoDB refusing an oversized item as a StoreError', async () => {
      const store = open();

      const error = await store.transact([put('data#2', 'k', { blob: 'x'.repeat(410 * 1024) })]).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(StoreError);
      expect((error as Error).message).toMatch(/size/i);
    });
  });
});
