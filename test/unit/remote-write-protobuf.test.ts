import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeWriteRequest, encodeWriteRequest, seriesLabels } from '../../src/core/remote-write/protobuf.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('remote-write protobuf encoding', () => {
  it('encodes a WriteRequest byte for byte as the schema says', () => {
    // Prepare: one series {__name__="m"}, one sample 1.0 @ 1000 ms.
    const bytes = encodeWriteRequest([{ labels: [{ name: '__name__', value: 'm' }], samples: [{ value: 1, timestamp: 1000 }] }]);
    // Assess, hand-assembled:
    //   Label   0a 08 5f5f6e616d655f5f ("__name__") 12 01 6d ("m")                  = 13 bytes
    //   Sample  09 000000000000f03f (double 1.0 LE) 10 e807 (varint 1000)            = 12 bytes
    //   Series  0a 0d <label> 12 0c <sample>                                         = 29 bytes
    //   Request 0a 1d <series>
    const label = '0a085f5f6e616d655f5f12016d';
    const sample = '09000000000000f03f10e807';
    expect(hex(bytes)).toBe(`0a1d0a0d${label}120c${sample}`);
  });

  it('puts __name__ first and sorts the other labels by name, dropping empty values', () => {
    expect(seriesLabels('argus_x', { window: '1h', objective: 'o', empty: '' }).map((l) => l.name)).toEqual(['__name__', 'objective', 'window']);
  });

  it('rejects invalid metric and label names', () => {
    expect(() => seriesLabels('1bad', {})).toThrow(/invalid metric name/);
    expect(() => seriesLabels('ok', { 'bad-name': 'x' })).toThrow(/invalid label name/);
  });

  it('decodes what it encodes, for any labels, values and timestamps', () => {
    const label = fc.record({ name: fc.stringMatching(/^[a-z_][a-z0-9_]{0,10}$/), value: fc.string({ minLength: 1, maxLength: 20 }) });
    const sample = fc.record({ value: fc.double({ noNaN: true }), timestamp: fc.integer({ min: -1e13, max: 1e13 }) });
    fc.assert(
      fc.property(fc.array(fc.record({ labels: fc.array(label, { maxLength: 5 }), samples: fc.array(sample, { maxLength: 4 }) }), { maxLength: 5 }), (series) => {
        expect(decodeWriteRequest(encodeWriteRequest(series))).toEqual(series.map((s) => ({ labels: s.labels, samples: s.samples.map((x) => ({ value: Object.is(x.value, -0) ? -0 : x.value, timestamp: x.timestamp })) })));
      }),
    );
  });
});
