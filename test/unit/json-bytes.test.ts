import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { writeNumber } from '../../src/core/json-bytes.ts';

/** The text `writeNumber` writes for `n`, checked to end where it says. */
function written(n: number): string {
  const out = Buffer.alloc(32, 0x2e);
  const end = writeNumber(out, 3, n);
  expect(out.subarray(0, 3).toString('latin1')).toBe('...');
  expect(out[end]).toBe(0x2e);
  return out.subarray(3, end).toString('latin1');
}

describe('writeNumber', () => {
  it('writes what String writes, for any finite number', () => {
    fc.assert(
      fc.property(fc.oneof(fc.maxSafeNat(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })), (n) => {
        expect(written(n)).toBe(String(n));
      }),
      { numRuns: 2000 },
    );
  });

  it.each([0, 9, 10, 999_999_999, 1_000_000_000, 1_000_000_001, 1_733_400_000_000, 1_999_999_999_999, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1, 9_007_199_000_000_000 - 1])(
    'writes %d at the edges of its digit groups as String does',
    (n) => {
      expect(written(n)).toBe(String(n));
    },
  );

  it('writes integers just below a multiple of a billion, where the high part could round up', () => {
    for (let k = 1; k < 9_007_199; k += 7919) expect(written(k * 1e9 - 1)).toBe(String(k * 1e9 - 1));
  });
});
