/**
 * A sorted set of strings kept as a list of bounded chunks (the layout of Python's
 * `sortedcontainers`): lookups are O(log n), an insert or delete moves at most one chunk, so a
 * partition of millions of sort keys never pays an O(n) array shift per write.
 *
 * Order is JavaScript string order (UTF-16 code units), which equals DynamoDB's UTF-8 byte order
 * for every key without characters above U+FFFF mixed with U+E000–U+FFFF.
 */

/** A chunk splits in two when it grows past this. */
const MAX_CHUNK = 1024;

export class SortedKeys {
  private readonly chunks: string[][] = [];
  /** Last key of each chunk, for the binary search over chunks. */
  private readonly maxes: string[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Adds `key`; returns false when it was already present. */
  add(key: string): boolean {
    const last = this.maxes.length - 1;
    if (last < 0) {
      this.chunks.push([key]);
      this.maxes.push(key);
      this.count = 1;
      return true;
    }
    // Appending in order (snapshot load, monotonic ids) is the common case: no search.
    const lastMax = this.maxes[last] as string;
    if (key > lastMax) {
      const chunk = this.chunks[last] as string[];
      chunk.push(key);
      this.maxes[last] = key;
      this.count++;
      if (chunk.length > MAX_CHUNK) this.split(last);
      return true;
    }
    const ci = this.chunkFor(key);
    const chunk = this.chunks[ci] as string[];
    const at = lowerBound(chunk, key);
    if (chunk[at] === key) return false;
    chunk.splice(at, 0, key);
    this.count++;
    if (chunk.length > MAX_CHUNK) this.split(ci);
    return true;
  }

  /** Removes `key`; returns false when it was absent. */
  delete(key: string): boolean {
    if (this.count === 0) return false;
    const ci = this.chunkFor(key);
    if (ci >= this.chunks.length) return false;
    const chunk = this.chunks[ci] as string[];
    const at = lowerBound(chunk, key);
    if (chunk[at] !== key) return false;
    chunk.splice(at, 1);
    this.count--;
    if (chunk.length === 0) {
      this.chunks.splice(ci, 1);
      this.maxes.splice(ci, 1);
    } else if (at === chunk.length) {
      this.maxes[ci] = chunk[chunk.length - 1] as string;
    }
    return true;
  }

  /**
   * Keys in order, starting at the first key `>= from` (or `> from` when `exclusive`).
   * The iterator must not outlive a modification of the set.
   */
  *from(from: string, exclusive: boolean): Generator<string> {
    let ci = this.chunkFor(from);
    if (ci >= this.chunks.length) return;
    let chunk = this.chunks[ci] as string[];
    let i = exclusive ? upperBound(chunk, from) : lowerBound(chunk, from);
    for (;;) {
      if (i >= chunk.length) {
        ci++;
        if (ci >= this.chunks.length) return;
        chunk = this.chunks[ci] as string[];
        i = 0;
      }
      yield chunk[i] as string;
      i++;
    }
  }

  /** Index of the first chunk whose last key is `>= key` (chunks.length when none). */
  private chunkFor(key: string): number {
    return lowerBound(this.maxes, key);
  }

  private split(ci: number): void {
    const chunk = this.chunks[ci] as string[];
    const tail = chunk.splice(chunk.length >> 1);
    this.chunks.splice(ci + 1, 0, tail);
    this.maxes.splice(ci, 0, chunk[chunk.length - 1] as string);
  }
}

/** First index whose value is `>= key`. */
function lowerBound(values: readonly string[], key: string): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((values[mid] as string) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose value is `> key`. */
function upperBound(values: readonly string[], key: string): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((values[mid] as string) <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
