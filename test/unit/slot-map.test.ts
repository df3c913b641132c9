import { describe, expect, it } from 'vitest';
import { SlotMap, slotsOf } from '../../src/core/compliance/slot-map.ts';

describe('SlotMap', () => {
  it('reads like a Map built by setting the same keys in the same order', () => {
    // Prepare: a repeated key keeps its first position and its last value, as in a Map.
    const names = ['encrypted', 'versioned', 'encrypted', 'logged'];
    const reference = new Map<string, number>();
    names.forEach((name, i) => reference.set(name, i));
    const slots = slotsOf(names);
    const values = slots.keys.map((key) => reference.get(key) as number);

    // Act
    const map = new SlotMap(slots, values);

    // Assess
    expect(map.size).toBe(reference.size);
    expect([...map]).toEqual([...reference]);
    expect([...map.keys()]).toEqual([...reference.keys()]);
    expect([...map.values()]).toEqual([...reference.values()]);
    expect([...map.entries()]).toEqual([...reference.entries()]);
    expect(map.get('encrypted')).toBe(2);
    expect(map.get('missing')).toBeUndefined();
    expect(map.has('logged')).toBe(true);
    expect(map.has('missing')).toBe(false);
    const seen: Array<[string, number]> = [];
    map.forEach((value, key, self) => {
      expect(self).toBe(map);
      seen.push([key, value]);
    });
    expect(seen).toEqual([...reference]);
    expect(map.toMap()).toEqual(reference);
  });

  it('shares its keys: maps over the same slots hold only their own values', () => {
    const slots = slotsOf(['a', 'b']);
    const first = new SlotMap(slots, [1, 2]);
    const second = new SlotMap(slots, [3, 4]);
    expect([...first.values()]).toEqual([1, 2]);
    expect([...second.values()]).toEqual([3, 4]);
  });
});
