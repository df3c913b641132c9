/** A binary min-heap keyed by a numeric priority (used for expiry times). */
export class MinHeap<T> {
  private readonly priorities: number[] = [];
  private readonly values: T[] = [];

  get size(): number {
    return this.values.length;
  }

  push(priority: number, value: T): void {
    this.priorities.push(priority);
    this.values.push(value);
    let i = this.values.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((this.priorities[parent] as number) <= priority) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  peek(): { priority: number; value: T } | undefined {
    if (this.values.length === 0) return undefined;
    return { priority: this.priorities[0] as number, value: this.values[0] as T };
  }

  pop(): { priority: number; value: T } | undefined {
    const top = this.peek();
    if (!top) return undefined;
    const lastP = this.priorities.pop() as number;
    const lastV = this.values.pop() as T;
    if (this.values.length > 0) {
      this.priorities[0] = lastP;
      this.values[0] = lastV;
      this.siftDown(0);
    }
    return top;
  }

  private siftDown(start: number): void {
    let i = start;
    const n = this.values.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let smallest = i;
      if (l < n && (this.priorities[l] as number) < (this.priorities[smallest] as number)) smallest = l;
      if (r < n && (this.priorities[r] as number) < (this.priorities[smallest] as number)) smallest = r;
      if (smallest === i) return;
      this.swap(i, smallest);
      i = smallest;
    }
  }

  private swap(a: number, b: number): void {
    const p = this.priorities[a] as number;
    this.priorities[a] = this.priorities[b] as number;
    this.priorities[b] = p;
    const v = this.values[a] as T;
    this.values[a] = this.values[b] as T;
    this.values[b] = v;
  }
}
