/** Renders rows as a plain aligned text table (kubectl style: upper-case headers, two spaces). */
export function renderTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>, maxWidth = 80): string {
  const clip = (s: string) => (s.length > maxWidth ? `${s.slice(0, maxWidth - 1)}…` : s);
  const cells = [headers.map((h) => h.toUpperCase()), ...rows.map((r) => r.map(clip))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd())
    .join('\n');
}
