/**
 * "Did you mean" suggestions: the candidate nearest to a mistyped value, only when it is close
 * enough that suggesting it helps rather than confuses.
 */

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions ("Requirment"). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j] ?? 0;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      d[i * cols + j] = best;
    }
  }
  return at(rows - 1, cols - 1);
}

/**
 * The candidate nearest to `value`, or undefined when none is close: a case-only difference always
 * counts; otherwise the distance must be at most max(2, length/3) and less than the value's length
 * (so "ab" never suggests "cd"). Ties go to the earliest candidate.
 * @example nearest('Requirment', DEFINITION_KINDS) // 'Requirement'
 */
export function nearest(value: string, candidates: Iterable<string>): string | undefined {
  const lower = value.toLowerCase();
  const limit = Math.min(Math.max(2, Math.floor(value.length / 3)), value.length - 1);
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    if (candidate.toLowerCase() === lower) return candidate;
    // Cheap bound first: the distance is at least the length difference.
    if (Math.abs(candidate.length - value.length) > limit) continue;
    const distance = editDistance(value, candidate);
    if (distance <= limit && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** `; did you mean "x"?` or nothing, ready to append to a message. */
export function didYouMean(value: string, candidates: Iterable<string>): string {
  const match = nearest(value, candidates);
  return match === undefined ? '' : `; did you mean ${JSON.stringify(match)}?`;
}
