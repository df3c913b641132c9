/**
 * The behaviour every Store implementation must have. Each implementation's test file calls
 * `describeStoreContract` with a factory; every test writes under its own partition prefix, so
 * a factory may hand out a shared backend (one DynamoDB Local table).
 *
 * Transactions here stay within DynamoDB's limit of 100 writes.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArgusError, ConflictError } from '#core/errors.ts';
import { compareSequenceNumbers, queryAll, type ChangeRecord, type Store, type WriteOp } from '#core/ports/store.ts';

export interface StoreFixture {
  readonly store: Store;
  readonly cleanup: () => Promise<void>;
}

export function describeStoreContract(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`Store contract: ${name}`, () => {
    let fixture: StoreFixture;
    let store: Store;
    /** This test's partition prefix. */
    let ns: string;

    beforeEach(async () => {
      fixture = await makeStore();
      store = fixture.store;
      ns = `t-${randomUUID()}`;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    const put = (pk: string, sk: string, data: unknown, ifVersion: WriteOp['ifVersion']): WriteOp => ({ type: 'put', pk, sk, data, ifVersion });
    const del = (pk: string, sk: string, ifVersion: WriteOp['ifVersion']): WriteOp => ({ type: 'delete', pk, sk, ifVersion });

    /** Change records of this test after `after`, read page by page. */
    async function changesAfter(after: string, pageSize = 100): Promise<ChangeRecord[]> {
      const out: ChangeRecord[] = [];
      let cursor = after;
      for (;;) {
        const page = await store.readChanges(cursor, pageSize);
        if (page.length === 0) return out.filter((r) => r.dynamodb.Keys.pk.startsWith(ns));
        out.push(...page);
        cursor = (page[page.length - 1] as ChangeRecord).dynamodb.SequenceNumber;
      }
    }

    /** A first write whose sequence number marks where this test's changes begin. */
    async function baseline(): Promise<string> {
      const { sequenceNumber } = await store.transact([put(`${ns}#base`, 'base', {}, 'absent')]);
      expect(sequenceNumber).not.toBe('');
      return sequenceNumber;
    }

    describe('put and get', () => {
      it('stores an item at version 1 and reads it back', async () => {
        const pk = `${ns}#a`;
        await store.transact([put(pk, 'x', { name: 'x', n: 1, tags: ['a', 'b'], nested: { ok: true, none: null } }, 'absent')]);

        const item = await store.get<{ name: string }>(pk, 'x');

        expect(item).toEqual({ pk, sk: 'x', version: 1, data: { name: 'x', n: 1, tags: ['a', 'b'], nested: { ok: true, none: null } } });
      });

      it('returns undefined for a missing item', async () => {
        expect(await store.get(`${ns}#a`, 'missing')).toBeUndefined();
      });

      it('increments the version on every write and restarts after a delete', async () => {
        const pk = `${ns}#v`;
        await store.transact([put(pk, 'k', { n: 1 }, 'absent')]);
        await store.transact([put(pk, 'k', { n: 2 }, 1)]);
        await store.transact([put(pk, 'k', { n: 3 }, 'any')]);
        expect(await store.get(pk, 'k')).toMatchObject({ version: 3, data: { n: 3 } });

        await store.transact([del(pk, 'k', 3)]);
        expect(await store.get(pk, 'k')).toBeUndefined();
        await store.transact([put(pk, 'k', { n: 4 }, 'absent')]);
        expect(await store.get(pk, 'k')).toMatchObject({ version: 1, data: { n: 4 } });
      });

      it('is not affected by callers mutating what they passed in or got back', async () => {
        const pk = `${ns}#m`;
        const data = { list: [1, 2], inner: { v: 'a' } };
        await store.transact([put(pk, 'k', data, 'absent')]);
        data.list.push(3);
        data.inner.v = 'changed';

        const got = await store.get<{ list: number[]; inner: { v: string } }>(pk, 'k');
        try {
          got?.data.list.push(4);
          if (got) got.data.inner.v = 'changed too';
        } catch {
          // A store may hand out frozen items instead of copies.
        }

        expect((await store.get(pk, 'k'))?.data).toEqual({ list: [1, 2], inner: { v: 'a' } });
      });
    });

    describe('getMany', () => {
      it('returns the items in the order given, undefined where absent', async () => {
        const a = `${ns}#ga`;
        const b = `${ns}#gb`;
        await store.transact([put(a, 'x', { n: 1 }, 'absent'), put(a, 'y', { n: 2 }, 'absent'), put(b, 'x', { n: 3 }, 'absent')]);

        const items = await store.getMany<{ n: number }>([
          { pk: b, sk: 'x' },
          { pk: a, sk: 'missing' },
          { pk: a, sk: 'y' },
          { pk: `${ns}#nowhere`, sk: 'x' },
          { pk: a, sk: 'x' },
        ]);

        expect(items).toEqual([
          { pk: b, sk: 'x', version: 1, data: { n: 3 } },
          undefined,
          { pk: a, sk: 'y', version: 1, data: { n: 2 } },
          undefined,
          { pk: a, sk: 'x', version: 1, data: { n: 1 } },
        ]);
      });

      it('answers every position of a key given more than once', async () => {
        const pk = `${ns}#gd`;
        await store.transact([put(pk, 'x', { n: 1 }, 'absent'), put(pk, 'y', { n: 2 }, 'absent')]);

        const items = await store.getMany([
          { pk, sk: 'x' },
          { pk, sk: 'gone' },
          { pk, sk: 'x' },
          { pk, sk: 'y' },
          { pk, sk: 'gone' },
          { pk, sk: 'x' },
        ]);

        expect(items.map((i) => i?.sk)).toEqual(['x', undefined, 'x', 'y', undefined, 'x']);
        expect(items[0]).toEqual({ pk, sk: 'x', version: 1, data: { n: 1 } });
        expect(items[2]).toEqual(items[0]);
        expect(items[5]).toEqual(items[0]);
      });

      it('returns [] for no keys', async () => {
        expect(await store.getMany([])).toEqual([]);
      });

      it('reads 250 keys in one call, in order', async () => {
        const pk = `${ns}#gbig`;
        const sks = Array.from({ length: 250 }, (_, i) => `k${String(i).padStart(3, '0')}`);
        const present = sks.filter((_, i) => i % 5 !== 0);
        for (let i = 0; i < present.length; i += 100) await store.transact(present.slice(i, i + 100).map((sk) => put(pk, sk, { sk }, 'absent')));
        // Reversed, so neither sort-key order nor write order is what comes back.
        const keys = sks.map((sk) => ({ pk, sk })).reverse();

        const items = await store.getMany<{ sk: string }>(keys);

        expect(items).toHaveLength(250);
        expect(items.map((i) => i?.sk)).toEqual(keys.map(({ sk }) => (present.includes(sk) ? sk : undefined)));
        expect(items.every((i) => i === undefined || (i.pk === pk && i.version === 1 && i.data.sk === i.sk))).toBe(true);
      });

      it('sees every committed write, update and delete, as get does', async () => {
        const pk = `${ns}#gw`;
        const keys = [{ pk, sk: 'kept' }, { pk, sk: 'changed' }, { pk, sk: 'deleted' }, { pk, sk: 'added' }];
        await store.transact([put(pk, 'kept', { n: 1 }, 'absent'), put(pk, 'changed', { n: 1 }, 'absent'), put(pk, 'deleted', { n: 1 }, 'absent')]);
        expect((await store.getMany(keys)).map((i) => i?.version)).toEqual([1, 1, 1, undefined]);

        await store.transact([put(pk, 'changed', { n: 2 }, 1), del(pk, 'deleted', 1), put(pk, 'added', { n: 1 }, 'absent')]);
        const items = await store.getMany<{ n: number }>(keys);

        expect(items).toEqual([
          { pk, sk: 'kept', version: 1, data: { n: 1 } },
          { pk, sk: 'changed', version: 2, data: { n: 2 } },
          undefined,
          { pk, sk: 'added', version: 1, data: { n: 1 } },
        ]);
      });

      it('returns for each key what get returns', async () => {
        const pk = `${ns}#gs`;
        await store.transact([
          put(pk, 'rich', { name: 'x', n: 1.5, tags: ['a', 'b'], nested: { ok: true, none: null }, gone: undefined }, 'absent'),
          put(pk, 'scalar', 'just a string', 'absent'),
          put(pk, 'nul', null, 'absent'),
          put(pk, 'empty', {}, 'absent'),
        ]);
        await store.transact([put(pk, 'rich', { name: 'y', list: [[1], { deep: [] }] }, 1)]);
        const keys = ['rich', 'scalar', 'nul', 'empty', 'missing'].map((sk) => ({ pk, sk }));

        const many = await store.getMany(keys);
        const single = await Promise.all(keys.map(({ sk }) => store.get(pk, sk)));

        expect(many).toEqual(single);
        expect(many[0]).toEqual({ pk, sk: 'rich', version: 2, data: { name: 'y', list: [[1], { deep: [] }] } });
      });

      it('refuses to read once the store is closed, as get does', async () => {
        await store.close();

        await expect(store.get(`${ns}#gc`, 'k')).rejects.toBeInstanceOf(ArgusError);
        await expect(store.getMany([{ pk: `${ns}#gc`, sk: 'k' }])).rejects.toBeInstanceOf(ArgusError);
      });
    });

    describe('query', () => {
      it('returns a partition in sort-key order and nothing from other partitions', async () => {
        const pk = `${ns}#q`;
        const sks = ['b#2', 'a#1', 'c', 'a#10', 'b#1', 'a#2'];
        await store.transact(sks.map((sk) => put(pk, sk, { sk }, 'absent')));
        await store.transact([put(`${pk}x`, 'a#0', {}, 'absent'), put(`${ns}#p`, 'a#0', {}, 'absent')]);

        const page = await store.query<{ sk: string }>(pk);

        expect(page.items.map((i) => i.sk)).toEqual(['a#1', 'a#10', 'a#2', 'b#1', 'b#2', 'c']);
        expect(page.items.every((i) => i.pk === pk && i.data.sk === i.sk && i.version === 1)).toBe(true);
        expect(page.cursor).toBeUndefined();
      });

      it('filters by sort-key prefix', async () => {
        const pk = `${ns}#q`;
        await store.transact(['a#1', 'a#2', 'ab', 'b#1', 'a'].map((sk) => put(pk, sk, {}, 'absent')));

        expect((await store.query(pk, { skPrefix: 'a#' })).items.map((i) => i.sk)).toEqual(['a#1', 'a#2']);
        expect((await store.query(pk, { skPrefix: 'a' })).items.map((i) => i.sk)).toEqual(['a', 'a#1', 'a#2', 'ab']);
        expect((await store.query(pk, { skPrefix: 'z' })).items).toEqual([]);
      });

      it('returns nothing for an empty partition', async () => {
        expect((await store.query(`${ns}#empty`)).items).toEqual([]);
      });

      it('pages with limit and cursor, in order, without gaps or repeats', async () => {
        const pk = `${ns}#page`;
        const sks = Array.from({ length: 25 }, (_, i) => `s#${String(i).padStart(3, '0')}`);
        await store.transact(sks.map((sk) => put(pk, sk, { sk }, 'absent')));
        await store.transact([put(pk, 'other', {}, 'absent'), put(pk, 'r', {}, 'absent')]);

        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.query(pk, { skPrefix: 's#', limit: 4, cursor });
          expect(page.items.length).toBeLessThanOrEqual(4);
          seen.push(...page.items.map((i) => i.sk));
          cursor = page.cursor;
          pages++;
        } while (cursor !== undefined && pages < 100);

        expect(seen).toEqual(sks);
        expect(pages).toBeGreaterThanOrEqual(7);
        expect((await queryAll(store, pk)).map((i) => i.sk)).toEqual([...sks, 'other', 'r'].sort());
      });

      it('sees writes made between pages', async () => {
        const pk = `${ns}#live`;
        await store.transact(['a', 'c', 'e'].map((sk) => put(pk, sk, {}, 'absent')));
        const first = await store.query(pk, { limit: 2 });
        expect(first.items.map((i) => i.sk)).toEqual(['a', 'c']);

        await store.transact([put(pk, 'b', {}, 'absent'), put(pk, 'd', {}, 'absent'), del(pk, 'e', 1)]);
        const rest = await queryAll(store, pk);
        const second = await store.query(pk, { limit: 10, cursor: first.cursor });

        expect(rest.map((i) => i.sk)).toEqual(['a', 'b', 'c', 'd']);
        expect(second.items.map((i) => i.sk)).toEqual(['d']);
      });
    });

    describe('version conditions', () => {
      it("put 'absent' succeeds on a missing item and conflicts on an existing one", async () => {
        const pk = `${ns}#c`;
        await store.transact([put(pk, 'k', { n: 1 }, 'absent')]);

        const error = await store.transact([put(pk, 'k', { n: 2 }, 'absent')]).catch((e: unknown) => e);

        expect(error).toBeInstanceOf(ConflictError);
        expect((error as ConflictError).code).toBe('CONFLICT');
        expect((error as ConflictError).context).toMatchObject({ pk, sk: 'k', expected: 'absent' });
        expect(await store.get(pk, 'k')).toMatchObject({ version: 1, data: { n: 1 } });
      });

      it('put with a version succeeds only at exactly that version', async () => {
        const pk = `${ns}#c`;
        await store.transact([put(pk, 'k', { n: 1 }, 'absent')]);

        await expect(store.transact([put(pk, 'k', { n: 2 }, 2)])).rejects.toBeInstanceOf(ConflictError);
        await expect(store.transact([put(pk, 'missing', { n: 2 }, 1)])).rejects.toBeInstanceOf(ConflictError);
        await store.transact([put(pk, 'k', { n: 2 }, 1)]);

        expect(await store.get(pk, 'k')).toMatchObject({ version: 2, data: { n: 2 } });
        expect(await store.get(pk, 'missing')).toBeUndefined();
      });

      it("put 'any' writes whether or not the item exists", async () => {
        const pk = `${ns}#c`;
        await store.transact([put(pk, 'k', { n: 1 }, 'any')]);
        await store.transact([put(pk, 'k', { n: 2 }, 'any')]);

        expect(await store.get(pk, 'k')).toMatchObject({ version: 2, data: { n: 2 } });
      });

      it('delete with a version succeeds only at exactly that version', async () => {
        const pk = `${ns}#d`;
        await store.transact([put(pk, 'k', {}, 'absent')]);

        const error = await store.transact([del(pk, 'k', 2)]).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ConflictError);
        expect((error as ConflictError).context).toMatchObject({ pk, sk: 'k', expected: 2 });
        await expect(store.transact([del(pk, 'missing', 1)])).rejects.toBeInstanceOf(ConflictError);
        expect(await store.get(pk, 'k')).toMatchObject({ version: 1 });

        await store.transact([del(pk, 'k', 1)]);
        expect(await store.get(pk, 'k')).toBeUndefined();
      });

      it("delete 'absent' is a no-op on a missing item and conflicts on an existing one", async () => {
        const pk = `${ns}#d`;
        await store.transact([put(pk, 'k', {}, 'absent')]);
        const base = await baseline();

        await store.transact([del(pk, 'missing', 'absent')]);
        await expect(store.transact([del(pk, 'k', 'absent')])).rejects.toBeInstanceOf(ConflictError);

        expect(await store.get(pk, 'k')).toMatchObject({ version: 1 });
        expect(await changesAfter(base)).toEqual([]);
      });

      it("delete 'any' removes an existing item and is a no-op on a missing one", async () => {
        const pk = `${ns}#d`;
        await store.transact([put(pk, 'k', {}, 'absent')]);
        const base = await baseline();

        await store.transact([del(pk, 'k', 'any')]);
        await store.transact([del(pk, 'missing', 'any')]);

        expect(await store.get(pk, 'k')).toBeUndefined();
        expect((await changesAfter(base)).map((r) => [r.eventName, r.dynamodb.Keys.sk])).toEqual([['REMOVE', 'k']]);
      });
    });

    describe('transactions', () => {
      it('writes nothing and records no change when one condition fails', async () => {
        const pk = `${ns}#tx`;
        await store.transact([put(pk, 'existing', { n: 1 }, 'absent'), put(pk, 'doomed', {}, 'absent')]);
        const base = await baseline();

        const error = await store
          .transact([put(pk, 'new1', {}, 'absent'), put(pk, 'existing', { n: 2 }, 1), del(pk, 'doomed', 1), put(pk, 'clash', {}, 7), put(pk, 'new2', {}, 'absent')])
          .catch((e: unknown) => e);

        expect(error).toBeInstanceOf(ConflictError);
        expect((error as ConflictError).context).toMatchObject({ pk, sk: 'clash', expected: 7 });
        expect(await store.get(pk, 'new1')).toBeUndefined();
        expect(await store.get(pk, 'new2')).toBeUndefined();
        expect(await store.get(pk, 'existing')).toMatchObject({ version: 1, data: { n: 1 } });
        expect(await store.get(pk, 'doomed')).toMatchObject({ version: 1 });
        expect(await changesAfter(base)).toEqual([]);
      });

      it('names the first key whose condition failed', async () => {
        const pk = `${ns}#tx`;
        await store.transact([put(pk, 'a', {}, 'absent'), put(pk, 'b', {}, 'absent')]);

        const error = await store.transact([put(pk, 'ok', {}, 'absent'), put(pk, 'b', {}, 'absent'), put(pk, 'a', {}, 'absent')]).catch((e: unknown) => e);

        expect(error).toBeInstanceOf(ConflictError);
        expect((error as ConflictError).context).toMatchObject({ pk, sk: 'b' });
        expect((error as ConflictError).message).toContain('b');
      });

      it('applies puts and deletes across partitions together', async () => {
        const a = `${ns}#ta`;
        const b = `${ns}#tb`;
        await store.transact([put(a, 'old', {}, 'absent')]);

        await store.transact([put(a, 'new', { n: 1 }, 'absent'), del(a, 'old', 1), put(b, 'x', { n: 2 }, 'absent')]);

        expect((await queryAll(store, a)).map((i) => i.sk)).toEqual(['new']);
        expect(await store.get(b, 'x')).toMatchObject({ version: 1, data: { n: 2 } });
      });

      it('rejects a transaction that writes the same key twice, writing nothing', async () => {
        const pk = `${ns}#dup`;

        const error = await store.transact([put(pk, 'other', {}, 'absent'), put(pk, 'k', { n: 1 }, 'absent'), put(pk, 'k', { n: 2 }, 'any')]).catch((e: unknown) => e);

        expect(error).toBeInstanceOf(ArgusError);
        expect(error).not.toBeInstanceOf(ConflictError);
        expect(await store.get(pk, 'k')).toBeUndefined();
        expect(await store.get(pk, 'other')).toBeUndefined();
      });

      it('writes one sort key in two partitions in one transaction', async () => {
        await store.transact([put(`${ns}#dup1`, 'k', { n: 1 }, 'absent'), put(`${ns}#dup2`, 'k', { n: 2 }, 'absent')]);

        expect((await store.get(`${ns}#dup1`, 'k'))?.data).toEqual({ n: 1 });
        expect((await store.get(`${ns}#dup2`, 'k'))?.data).toEqual({ n: 2 });
      });
    });

    describe('change feed', () => {
      it('records INSERT, MODIFY and REMOVE with keys and images', async () => {
        const pk = `${ns}#f`;
        const base = await baseline();

        const inserted = await store.transact([put(pk, 'k', { n: 1 }, 'absent')]);
        await store.transact([put(pk, 'k', { n: 2 }, 1)]);
        const removed = await store.transact([del(pk, 'k', 2)]);

        const records = await changesAfter(base);
        expect(records.map((r) => r.eventName)).toEqual(['INSERT', 'MODIFY', 'REMOVE']);
        const [insert, modify, remove] = records as [ChangeRecord, ChangeRecord, ChangeRecord];
        expect(insert.dynamodb.Keys).toEqual({ pk, sk: 'k' });
        expect(insert.dynamodb.OldImage).toBeUndefined();
        expect(insert.dynamodb.NewImage).toEqual({ pk, sk: 'k', version: 1, data: { n: 1 } });
        expect(modify.dynamodb.OldImage).toEqual({ pk, sk: 'k', version: 1, data: { n: 1 } });
        expect(modify.dynamodb.NewImage).toEqual({ pk, sk: 'k', version: 2, data: { n: 2 } });
        expect(remove.dynamodb.Keys).toEqual({ pk, sk: 'k' });
        expect(remove.dynamodb.OldImage).toEqual({ pk, sk: 'k', version: 2, data: { n: 2 } });
        expect(remove.dynamodb.NewImage).toBeUndefined();
        expect(insert.dynamodb.SequenceNumber).toBe(inserted.sequenceNumber);
        expect(remove.dynamodb.SequenceNumber).toBe(removed.sequenceNumber);
        for (const r of records) {
          expect(r.eventID).not.toBe('');
          expect(Number.isFinite(r.dynamodb.ApproximateCreationDateTime)).toBe(true);
        }
        expect(new Set(records.map((r) => r.eventID)).size).toBe(3);
      });

      it('numbers records strictly increasingly, one record per write of a transaction', async () => {
        const pk = `${ns}#f`;
        const base = await baseline();

        const result = await store.transact(['a', 'b', 'c', 'd'].map((sk) => put(pk, sk, {}, 'absent')));
        await store.transact([put(pk, 'a', { n: 2 }, 1), del(pk, 'b', 1)]);

        const records = await changesAfter(base);
        expect(records).toHaveLength(6);
        for (let i = 1; i < records.length; i++) {
          const prev = (records[i - 1] as ChangeRecord).dynamodb.SequenceNumber;
          expect(compareSequenceNumbers(prev, (records[i] as ChangeRecord).dynamodb.SequenceNumber)).toBeLessThan(0);
        }
        expect(compareSequenceNumbers(base, (records[0] as ChangeRecord).dynamodb.SequenceNumber)).toBeLessThan(0);
        expect(records.slice(0, 4).map((r) => r.dynamodb.Keys.sk).sort()).toEqual(['a', 'b', 'c', 'd']);
        expect(records.slice(0, 4).map((r) => r.dynamodb.SequenceNumber)).toContain(result.sequenceNumber);
      });

      it('pages through readChanges(after, limit)', async () => {
        const pk = `${ns}#fp`;
        const base = await baseline();
        for (let i = 0; i < 7; i++) await store.transact([put(pk, `k${i}`, { i }, 'absent')]);

        const first = await store.readChanges(base, 3);
        expect(first.length).toBeLessThanOrEqual(3);
        const all = await changesAfter(base, 3);

        expect(all.map((r) => r.dynamodb.Keys.sk)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6']);
        const last = all[all.length - 1] as ChangeRecord;
        expect(await store.readChanges(last.dynamodb.SequenceNumber, 10)).toEqual([]);
      });
    });

    describe('client tokens', () => {
      it('applies a transaction once however often it is retried with the same token', async () => {
        const pk = `${ns}#tok`;
        const base = await baseline();
        const ops = [put(pk, 'k', { n: 1 }, 'any'), put(pk, 'j', { n: 1 }, 'any')];

        const first = await store.transact(ops, { clientToken: `${ns}-1` });
        const again = await store.transact(ops, { clientToken: `${ns}-1` });

        expect(again).toEqual(first);
        expect(await store.get(pk, 'k')).toMatchObject({ version: 1 });
        expect(await changesAfter(base)).toHaveLength(2);
      });

      it('returns the first result even when the retried writes would now conflict', async () => {
        const pk = `${ns}#tok`;
        const ops = [put(pk, 'k', { n: 1 }, 'absent')];

        const first = await store.transact(ops, { clientToken: `${ns}-2` });
        const again = await store.transact(ops, { clientToken: `${ns}-2` });

        expect(again).toEqual(first);
        expect(await store.get(pk, 'k')).toMatchObject({ version: 1 });
      });

      it('applies a transaction again under a new token', async () => {
        const pk = `${ns}#tok`;
        const ops = [put(pk, 'k', { n: 1 }, 'any')];

        await store.transact(ops, { clientToken: `${ns}-3` });
        await store.transact(ops, { clientToken: `${ns}-4` });

        expect(await store.get(pk, 'k')).toMatchObject({ version: 2 });
      });
    });
  });
}
