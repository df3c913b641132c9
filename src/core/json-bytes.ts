declare const jsonBytesBrand: unique symbol;

/**
 * The UTF-8 bytes of a value's JSON text, exactly as `JSON.stringify` writes it, of a value that
 * JSON keeps as it is (`JSON.parse` of the text gives back an equal value). Only encoders that are
 * tested to agree with `JSON.stringify` make one; a store may log it instead of serialising the
 * value again.
 */
export type JsonBytes = Buffer & { readonly [jsonBytesBrand]: true };

/**
 * Writes a finite number at `at` as JSON writes it (`String(n)`), digit by digit for safe
 * non-negative integers (run times, counts); returns where it ends. `out` must have room (24 bytes).
 */
export function writeNumber(out: Buffer, at: number, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) return at + out.write(String(n), at, 'latin1');
  if (n < BILLION) return writeSmall(out, at, n);
  // Two parts that fit 32-bit integer arithmetic (a run time has 13 digits): the high digits,
  // then the low nine, zero-padded. The floor is exact: below 2^53 the quotient is under 2^24,
  // where half a unit in the last place (2^-30) is less than the 1e-9 that k*1e9 - 1 falls short by.
  const high = Math.floor(n / BILLION);
  const low = n - high * BILLION;
  const end = writeSmall(out, at, high) + 9;
  let rest = low | 0;
  for (let i = end - 1; i >= end - 9; i--) {
    const q = (rest / 10) | 0;
    out[i] = 0x30 + (rest - q * 10);
    rest = q;
  }
  return end;
}

const BILLION = 1_000_000_000;

/** Writes an integer in [0, 1e9) with 32-bit integer arithmetic; returns where it ends. */
function writeSmall(out: Buffer, at: number, n: number): number {
  let digits = 1;
  for (let p = 10; p <= n; p *= 10) digits++;
  const end = at + digits;
  let i = end;
  let rest = n | 0;
  while (rest >= 10) {
    const q = (rest / 10) | 0;
    out[--i] = 0x30 + (rest - q * 10);
    rest = q;
  }
  out[--i] = 0x30 + rest;
  return end;
}
