/**
 * Prometheus remote-write 1.0 payload, hand-encoded (the schema is four messages):
 *
 *   WriteRequest { repeated TimeSeries timeseries = 1; }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
 *   Label        { string name = 1; string value = 2; }
 *   Sample       { double value = 1; int64 timestamp = 2; }   // timestamp: epoch milliseconds
 *
 * Pure; snappy compression is the transport's business.
 */

export interface Label {
  readonly name: string;
  readonly value: string;
}

export interface Sample {
  readonly value: number;
  /** Epoch milliseconds. */
  readonly timestamp: number;
}

export interface TimeSeries {
  readonly labels: readonly Label[];
  readonly samples: readonly Sample[];
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Labels as remote-write wants them: `__name__` first, the rest sorted by name (byte order), no
 * empty values (Prometheus treats an empty label as absent). Throws on invalid names.
 */
export function seriesLabels(name: string, labels: Readonly<Record<string, string>>): Label[] {
  if (!METRIC_NAME.test(name)) throw new TypeError(`invalid metric name "${name}"`);
  const rest: Label[] = [];
  for (const [k, v] of Object.entries(labels)) {
    if (!LABEL_NAME.test(k) || k === '__name__') throw new TypeError(`invalid label name "${k}"`);
    if (v !== '') rest.push({ name: k, value: v });
  }
  rest.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return [{ name: '__name__', value: name }, ...rest];
}

/** A stable identity of a label set (for merging samples of one series). */
export function seriesKey(labels: readonly Label[]): string {
  return labels.map((l) => `${l.name}\u0000${l.value}`).join('\u0001');
}

class Writer {
  private buf = new Uint8Array(256);
  private len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  varint(n: number | bigint): void {
    // int64 on the wire: negatives are ten-byte two's complement.
    let v = BigInt.asUintN(64, BigInt(n));
    this.ensure(10);
    while (v >= 0x80n) {
      this.buf[this.len++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.len++] = Number(v);
  }

  smallVarint(n: number): void {
    this.ensure(5);
    while (n >= 0x80) {
      this.buf[this.len++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.buf[this.len++] = n;
  }

  double(x: number): void {
    this.ensure(8);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 8).setFloat64(0, x, true);
    this.len += 8;
  }

  bytes(b: Uint8Array): void {
    this.smallVarint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  tag(field: number, wireType: number): void {
    this.smallVarint((field << 3) | wireType);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

const utf8 = new TextEncoder();

function encodeLabel(l: Label): Uint8Array {
  const w = new Writer();
  w.tag(1, 2);
  w.bytes(utf8.encode(l.name));
  w.tag(2, 2);
  w.bytes(utf8.encode(l.value));
  return w.finish();
}

function encodeSample(s: Sample): Uint8Array {
  const w = new Writer();
  w.tag(1, 1);
  w.double(s.value);
  w.tag(2, 0);
  w.varint(Math.trunc(s.timestamp));
  return w.finish();
}

function encodeTimeSeries(ts: TimeSeries): Uint8Array {
  const w = new Writer();
  for (const l of ts.labels) {
    w.tag(1, 2);
    w.bytes(encodeLabel(l));
  }
  for (const s of ts.samples) {
    w.tag(2, 2);
    w.bytes(encodeSample(s));
  }
  return w.finish();
}

/** Encodes a WriteRequest (uncompressed protobuf bytes). */
export function encodeWriteRequest(series: readonly TimeSeries[]): Uint8Array {
  const w = new Writer();
  for (const ts of series) {
    w.tag(1, 2);
    w.bytes(encodeTimeSeries(ts));
  }
  return w.finish();
}

/** Thrown by `decodeWriteRequest` on bytes that are not a WriteRequest. */
export class ProtobufDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtobufDecodeError';
  }
}

class Reader {
  pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new ProtobufDecodeError('truncated varint');
      const b = this.buf[this.pos++] as number;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return result;
      shift += 7n;
      if (shift > 63n) throw new ProtobufDecodeError('varint too long');
    }
  }

  bytes(): Uint8Array {
    const n = Number(this.varint());
    if (this.pos + n > this.buf.length) throw new ProtobufDecodeError('truncated field');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  double(): number {
    if (this.pos + 8 > this.buf.length) throw new ProtobufDecodeError('truncated double');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return v;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) this.bytes();
    else if (wireType === 5) this.pos += 4;
    else throw new ProtobufDecodeError(`unsupported wire type ${wireType}`);
  }

  *fields(): Generator<{ field: number; wireType: number }> {
    while (!this.done) {
      const key = Number(this.varint());
      yield { field: key >>> 3, wireType: key & 7 };
    }
  }
}

const utf8d = new TextDecoder('utf-8', { fatal: true });

/** Decodes a WriteRequest (for tests and for checking what a sender produced). */
export function decodeWriteRequest(bytes: Uint8Array): TimeSeries[] {
  const out: TimeSeries[] = [];
  const r = new Reader(bytes);
  for (const { field, wireType } of r.fields()) {
    if (field !== 1 || wireType !== 2) {
      r.skip(wireType);
      continue;
    }
    const tr = new Reader(r.bytes());
    const labels: Label[] = [];
    const samples: Sample[] = [];
    for (const f of tr.fields()) {
      if (f.field === 1 && f.wireType === 2) {
        const lr = new Reader(tr.bytes());
        let name = '';
        let value = '';
        for (const lf of lr.fields()) {
          if (lf.field === 1 && lf.wireType === 2) name = utf8d.decode(lr.bytes());
          else if (lf.field === 2 && lf.wireType === 2) value = utf8d.decode(lr.bytes());
          else lr.skip(lf.wireType);
        }
        labels.push({ name, value });
      } else if (f.field === 2 && f.wireType === 2) {
        const sr = new Reader(tr.bytes());
        let value = 0;
        let timestamp = 0;
        for (const sf of sr.fields()) {
          if (sf.field === 1 && sf.wireType === 1) value = sr.double();
          else if (sf.field === 2 && sf.wireType === 0) timestamp = Number(BigInt.asIntN(64, sr.varint()));
          else sr.skip(sf.wireType);
        }
        samples.push({ value, timestamp });
      } else tr.skip(f.wireType);
    }
    out.push({ labels, samples });
  }
  return out;
}
