/** Keys known in advance, each with its position: shared by every map over them. */
export interface Slots {
  /** Distinct, in iteration order. */
  readonly keys: readonly string[];
  readonly slotOf: ReadonlyMap<string, number>;
}

/** The slots of `names`, in order, a repeated name keeping its first position (as a Map's key would). */
export function slotsOf(names: Iterable<string>): Slots {
  const slotOf = new Map<string, number>();
  const keys: string[] = [];
  for (const name of names) {
    if (slotOf.has(name)) continue;
    slotOf.set(name, keys.length);
    keys.push(name);
  }
  return Object.freeze({ keys: Object.freeze(keys), slotOf });
}

/**
 * A read-only map whose keys are known in advance (an evaluation plan's): it holds only its
 * values, one per slot. Evaluating a resource makes three maps, on every resource a change
 * touches; a `Map` each would build a hash table and grow it entry by entry.
 */
export class SlotMap<V> implements ReadonlyMap<string, V> {
  readonly #slots: Slots;
  readonly #values: readonly V[];

  /** `values[i]` is the value of `slots.keys[i]`; every slot has one. */
  constructor(slots: Slots, values: readonly V[]) {
    this.#slots = slots;
    this.#values = values;
  }

  get size(): number {
    return this.#slots.keys.length;
  }

  get(key: string): V | undefined {
    const slot = this.#slots.slotOf.get(key);
    return slot === undefined ? undefined : this.#values[slot];
  }

  has(key: string): boolean {
    return this.#slots.slotOf.has(key);
  }

  forEach(callback: (value: V, key: string, map: ReadonlyMap<string, V>) => void, thisArg?: unknown): void {
    const keys = this.#slots.keys;
    for (let i = 0; i < keys.length; i++) callback.call(thisArg, this.#values[i] as V, keys[i] as string, this);
  }

  *entries(): MapIterator<[string, V]> {
    const keys = this.#slots.keys;
    for (let i = 0; i < keys.length; i++) yield [keys[i] as string, this.#values[i] as V];
  }

  keys(): MapIterator<string> {
    return this.#slots.keys.values();
  }

  /** The values array's own iterator: no generator on the paths that walk every evaluation. */
  values(): MapIterator<V> {
    return this.#values.values();
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  /** As a plain Map (what deep equality compares a map with). */
  toMap(): Map<string, V> {
    return new Map(this.entries());
  }
}
