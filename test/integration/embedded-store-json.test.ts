import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/adapters/local/embedded-store.ts';
import type { WriteOp } from '../../src/core/ports/store.ts';
import { ResultsItemEncoder } from '../../src/core/results-item-json.ts';
import type { StoredResult } from '../../src/core/results-item.ts';

/** Deep equality that also tells -0 from 0, key order and prototypes apart. */
function sameJson(actual: unknown, expected: unknown): void {
  expect(JSON.stringify(actual)).toBe(JSON.stringify(expected));
  expect(actual).toStrictEqual(expected);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const member of Object.values(value)) deepFreeze(member);
    Object.freeze(value);
  }
  return value;
}

describe('EmbeddedStore data copies', () => {
  it('keeps deeply frozen plain data as it is, and copies frozen data that still has a mutable part', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'argus-store-json-'));
    const store = await EmbeddedStore.open({ dir, fsync: false });
    try {
      const sealed = deepFreeze({ outcome: 'Passed', versions: { 'req-1': 2 }, tags: ['a'] });
      const tags = ['a'];
      const shallow = Object.freeze({ outcome: 'Failed', tags });
      await store.transact([
        { type: 'put', pk: 'p', sk: 'sealed', data: { result: sealed }, ifVersion: 'absent' },
        { type: 'put', pk: 'p', sk: 'shallow', data: { result: shallow }, ifVersion: 'absent' },
      ]);

      tags.push('changed by the caller');

      expect(((await store.get<{ result: unknown }>('p', 'sealed'))?.data.result)).toBe(sealed);
      sameJson((await store.get('p', 'shallow'))?.data, { result: { outcome: 'Failed', tags: ['a'] } });
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('holds exactly what JSON makes of any value, live and after a reopen, whatever the caller does next', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'argus-store-json-'));
    let store = await EmbeddedStore.open({ dir, fsync: false });
    try {
      // Prepare: values JSON keeps and values it changes (undefined, -0, NaN, dates, holes, __proto__ keys).
      const odd = fc.oneof(
        fc.constant(undefined),
        fc.constant(-0),
        fc.constant(Number.NaN),
        fc.constant(new Date(0)),
        // eslint-disable-next-line no-sparse-arrays
        fc.constant([1, , 3]),
        fc.constant(JSON.parse('{"__proto__": {"x": 1}}') as unknown),
        fc.constant(Object.create(null) as unknown),
      );
      const value = fc.letrec((tie) => ({
        node: fc.oneof(
          { depthSize: 'small' },
          fc.jsonValue(),
          odd,
          fc.array(tie('node')),
          fc.dictionary(fc.string(), tie('node')),
          // Frozen data is kept rather than copied when it is plain all the way down.
          tie('node').map(deepFreeze),
          tie('node').map((v) => Object.freeze(v)),
        ),
      })).node;
      let n = 0;
      const expected = new Map<string, unknown>();
      await fc.assert(
        fc.asyncProperty(fc.array(value, { minLength: 1, maxLength: 4 }), async (values) => {
          const ops = values.map((data) => ({ type: 'put' as const, pk: 'p', sk: `k${n++}`, data: { data }, ifVersion: 'any' as const }));
          // Act
          await store.transact(ops);
          for (const op of ops) {
            const want = JSON.parse(JSON.stringify(op.data)) as unknown;
            expected.set(op.sk, want);
            // Assess: the same as JSON gives, and not tied to the caller's object.
            sameJson((await store.get('p', op.sk))?.data, want);
            (op.data as { data: unknown }).data = 'mutated by the caller';
            sameJson((await store.get('p', op.sk))?.data, want);
          }
        }),
        { numRuns: 150 },
      );
      await store.close();
      store = await EmbeddedStore.open({ dir, fsync: false });
      for (const [sk, want] of expected) sameJson((await store.get('p', sk))?.data, want);
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaves out keys that objects only inherit, from a polluted Object.prototype too', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'argus-store-json-'));
    let store = await EmbeddedStore.open({ dir, fsync: false });
    try {
      // Prepare: every object now inherits an enumerable key, which for-in lists.
      Object.defineProperty(Object.prototype, 'polluted', { value: 'inherited', enumerable: true, configurable: true, writable: true });
      let commit: Promise<unknown>;
      try {
        // Act: the data is copied as transact is called.
        commit = store.transact([{ type: 'put', pk: 'p', sk: 'a', data: { own: 1, nested: { list: [{ x: 2 }] } }, ifVersion: 'any' }]);
      } finally {
        delete (Object.prototype as Record<string, unknown>).polluted;
      }
      await commit;

      // Assess
      const want = { own: 1, nested: { list: [{ x: 2 }] } };
      sameJson((await store.get('p', 'a'))?.data, want);
      await store.close();
      store = await EmbeddedStore.open({ dir, fsync: false });
      sameJson((await store.get('p', 'a'))?.data, want);
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('logs the JSON text a writer gives, byte for byte what it would have written itself, and keeps the data it was given', async () => {
    const dirs = [fs.mkdtempSync(path.join(os.tmpdir(), 'argus-store-json-')), fs.mkdtempSync(path.join(os.tmpdir(), 'argus-store-json-'))];
    // One fixed clock: the two logs differ only if the text does.
    const clock = { now: () => Date.UTC(2026, 11, 4) };
    const [plainStore, givenStore] = await Promise.all(dirs.map((dir) => EmbeddedStore.open({ dir, fsync: false, clock })));
    try {
      // Prepare: results items with their text, in one transaction with plain data, a copied odd value and a delete.
      const versions = Object.freeze({ 'sc-28': 2 });
      const entries: StoredResult[] = [
        Object.freeze(['encrypted', 'Failed', 'bucket "logs" \u2028 not encrypted', 1, 2, 'sha256:a', versions, 'sha256:e'] as const),
        Object.freeze(['versioned', 'Passed', 'ok', 3, 0, 'sha256:b', versions, null, 'sha256:older'] as const),
      ];
      const encoder = new ResultsItemEncoder();
      const first = encoder.encode('stack/Bucket', 'sha256:r', entries);
      const second = encoder.encode('stack/Logs', 'sha256:r2', entries.slice(1));
      expect(first.json && second.json).toBeDefined();
      const write = (withText: boolean): WriteOp[] => [
        { type: 'put', pk: 'RESULTS#00', sk: 'stack/Bucket', data: first.item, ifVersion: 'absent', ...(withText ? { json: first.json } : {}) },
        { type: 'put', pk: 'p', sk: 'odd', data: { when: new Date(0), gone: undefined }, ifVersion: 'any' },
        { type: 'put', pk: 'RESULTS#01', sk: 'stack/Logs', data: second.item, ifVersion: 'absent', ...(withText ? { json: second.json } : {}) },
        { type: 'delete', pk: 'p', sk: 'absent', ifVersion: 'any' },
      ];

      // Act
      await plainStore?.transact(write(false), { clientToken: 'token-1' });
      await givenStore?.transact(write(true), { clientToken: 'token-1' });

      // Assess: the same log, the data held as given, and the same after a replay.
      const logs = dirs.map((dir) => fs.readFileSync(path.join(dir, 'wal.jsonl'), 'utf8'));
      expect(logs[1]).toBe(logs[0]);
      // A transaction with data JSON changes is read back from its text whole.
      sameJson((await givenStore?.get('RESULTS#00', 'stack/Bucket'))?.data, first.item);
      sameJson((await givenStore?.get('p', 'odd'))?.data, { when: new Date(0).toJSON() });
      // Otherwise the data given is held as it is, not copied.
      const third = encoder.encode('stack/Queue', 'sha256:r3', entries);
      await givenStore?.transact([{ type: 'put', pk: 'RESULTS#02', sk: 'stack/Queue', data: third.item, json: third.json, ifVersion: 'absent' }]);
      expect((await givenStore?.get('RESULTS#02', 'stack/Queue'))?.data).toBe(third.item);
      await givenStore?.close();
      const reopened = await EmbeddedStore.open({ dir: dirs[1] as string, fsync: false });
      try {
        sameJson((await reopened.get('RESULTS#00', 'stack/Bucket'))?.data, first.item);
        sameJson((await reopened.get('RESULTS#01', 'stack/Logs'))?.data, second.item);
        sameJson((await reopened.get('RESULTS#02', 'stack/Queue'))?.data, third.item);
      } finally {
        await reopened.close();
      }
    } finally {
      await plainStore?.close();
      await givenStore?.close().catch(() => undefined);
      for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
