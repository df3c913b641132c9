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
 * A read-only map whose keys are known in advance (an evaluation plan's), with a value per slot
 * that a subclass gives (`valueAt`): the Map interface is written once here.
 */
export abstract class SlotKeyedMap<V> implements ReadonlyMap<string, V> {
  readonly #slots: Slots;

  constructor(slots: Slots) {
    this.#slots = slots;
  }

  /** The value of `this.keyList[slot]`. */
  protected abstract valueAt(slot: number): V;

  /** The keys, in slot order. */
  protected get keyList(): readonly string[] {
    return this.#slots.keys;
  }

  /** The slot of a key, or undefined when it is not one. */
  protected slotOfKey(key: string): number | undefined {
    return this.#slots.slotOf.get(key);
  }

  get size(): number {
    return this.#slots.keys.length;
  }

  get(key: string): V | undefined {
    const slot = this.#slots.slotOf.get(key);
    return slot === undefined ? undefined : this.valueAt(slot);
  }

  has(key: string): boolean {
    return this.#slots.slotOf.has(key);
  }

  forEach(callback: (value: V, key: string, map: ReadonlyMap<string, V>) => void, thisArg?: unknown): void {
    const keys = this.#slots.keys;
    for (let i = 0; i < keys.length; i++) callback.call(thisArg, this.valueAt(i), keys[i] as string, this);
  }

  *entries(): MapIterator<[string, V]> {
    const keys = this.#slots.keys;
    for (let i = 0; i < keys.length; i++) yield [keys[i] as string, this.valueAt(i)];
  }

  keys(): MapIterator<string> {
    return this.#slots.keys.values();
  }

  *values(): MapIterator<V> {
    for (let i = 0; i < this.#slots.keys.length; i++) yield this.valueAt(i);
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  /** As a plain Map (what deep equality compares a map with). */
  toMap(): Map<string, V> {
    return new Map(this.entries());
  }
}

/**
 * A read-only map over known keys that holds only its values, one per slot. Evaluating a
 * resource makes such maps on every resource a change touches; a `Map` each would build a hash
 * table and grow it entry by entry.
 */
export class SlotMap<V> extends SlotKeyedMap<V> {
  readonly #values: readonly V[];

  /** `values[i]` is the value of `slots.keys[i]`; every slot has one. */
  constructor(slots: Slots, values: readonly V[]) {
    super(slots);
    this.#values = values;
  }

  protected valueAt(slot: number): V {
    return this.#values[slot] as V;
  }

  /** The values array's own iterator: no generator on the paths that walk every evaluation. */
  override values(): MapIterator<V> {
    return this.#values.values();
  }
}
