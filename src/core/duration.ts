/**
 * Durations as manifests write them: `<n><unit>`, a whole number and one of ms, s, m, h, d
 * (e.g. `90s`, `24h`, `30d`). Kept to one unit so every value prints back the way it was read.
 */

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

const DURATION = /^(\d+)(ms|s|m|h|d)$/;

/**
 * Parses a duration into milliseconds. Throws a plain Error saying what is wrong.
 * @example parseDuration('24h') // 86_400_000
 */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  if (!match) {
    throw new Error(
      `invalid duration ${JSON.stringify(text)}: expected a whole number and a unit ms, s, m, h or d (e.g. 90s, 24h, 30d)`,
    );
  }
  const ms = Number(match[1]) * UNIT_MS[match[2] as Unit];
  if (!Number.isSafeInteger(ms)) throw new Error(`invalid duration ${JSON.stringify(text)}: too large`);
  return ms;
}

/**
 * Prints milliseconds in the largest unit that divides them exactly, so
 * `parseDuration(formatDuration(ms)) === ms` for every whole, non-negative `ms`.
 * @example formatDuration(5_400_000) // '90m'
 */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError(`cannot format duration ${ms}: expected whole, non-negative milliseconds`);
  if (ms === 0) return '0s';
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
