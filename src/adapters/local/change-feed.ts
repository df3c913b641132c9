/**
 * The retained tail of the change feed. Sequence numbers are consecutive integers, so a read
 * finds its start by arithmetic; the oldest records are dropped past the retention bound, the
 * way DynamoDB Streams drops records after 24 hours.
 */
import type { ChangeRecord } from '#core/ports/store.ts';

export class ChangeFeed {
  private records: ChangeRecord[] = [];
  /** Index in `records` of the oldest retained record (dropped ones are sliced off lazily). */
  private head = 0;
  /** Sequence number of `records[head]`. */
  private firstSeq: number;

  constructor(
    private readonly retention: number,
    lastSeq: number,
  ) {
    this.firstSeq = lastSeq + 1;
  }

  /** Appends records whose sequence numbers continue the feed. */
  append(records: readonly ChangeRecord[]): void {
    for (const record of records) this.records.push(record);
    const excess = this.records.length - this.head - this.retention;
    if (excess > 0) {
      this.head += excess;
      this.firstSeq += excess;
    }
    // Slice off dropped records once they are half the array: amortised O(1) per record.
    if (this.head > 1024 && this.head * 2 > this.records.length) {
      this.records = this.records.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * Up to `limit` records after sequence number `after` (from the oldest retained when undefined
   * or older than the retained tail: a consumer sees the gap in the numbers).
   */
  read(after: number | undefined, limit: number): ChangeRecord[] {
    const skip = after === undefined ? 0 : Math.max(0, after + 1 - this.firstSeq);
    const start = this.head + skip;
    return this.records.slice(start, Math.min(this.records.length, start + limit));
  }
}
