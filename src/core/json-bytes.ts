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
  let digits = 1;
  for (let p = 10; p <= n; p *= 10) digits++;
  const end = at + digits;
  let i = end;
  let rest = n;
  while (rest >= 10) {
    const q = Math.floor(rest / 10);
    out[--i] = 0x30 + (rest - q * 10);
    rest = q;
  }
  out[--i] = 0x30 + rest;
  return end;
}
