import type { ComplianceReport } from '../core/report.ts';
import { renderTable } from './table.ts';

const percent = (x: number) => `${(x * 100).toFixed(1)}%`;

/** One row per requirement: how many resources it applies to and how they stand. */
export function formatSummaryTable(report: ComplianceReport): string {
  const rows = report.requirements.map((r) => [
    r.requirement,
    r.frameworks.join(' '),
    r.severity,
    String(r.applicable),
    String(r.compliant),
    String(r.nonCompliant),
    String(r.unknown),
    String(r.exempt),
    percent(r.ratio),
  ]);
  const t = report.totals;
  const assessable = t.pairs - t.exempt;
  const overall = assessable === 0 ? 1 : t.compliant / assessable;
  return `${renderTable(['requirement', 'frameworks', 'severity', 'resources', 'compliant', 'noncompliant', 'unknown', 'exempt', 'ratio'], rows)}\n\nOverall: ${t.compliant}/${assessable} pairs compliant (${percent(overall)}), ${t.nonCompliant} noncompliant, ${t.unknown} unknown, ${t.exempt} exempt`;
}

/** One row per (resource, requirement) pair needing attention (all pairs with `all`), with why. */
export function formatReportTable(report: ComplianceReport, all: boolean): string {
  const findings = report.findings.filter((f) => all || f.status !== 'Compliant');
  if (findings.length === 0) return 'Every applicable pair is compliant.';
  return renderTable(
    ['requirement', 'resource', 'type', 'status', 'why'],
    findings.map((f) => [f.requirement, f.resource, f.resourceType, f.status, f.status === 'Compliant' ? 'all attestations passed' : `${f.reason}: ${f.detail}`]),
    100,
  );
}

const CSV_COLUMNS = ['requirement', 'frameworks', 'severity', 'resource', 'resource_type', 'status', 'reason', 'effective_status', 'detail', 'waiver', 'waiver_approver', 'waiver_expires_at'];

/**
 * Every pair as CSV (RFC 4180) for a spreadsheet: a header row, then one row per (resource,
 * requirement) pair, compliant ones included. Fields holding a comma, quote or line break are
 * quoted; a field starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`
 * so that a spreadsheet shows it as text instead of running it as a formula (resource names and
 * messages come from the templates and documents being attested).
 */
export function formatReportCsv(report: ComplianceReport): string {
  const byName = new Map(report.requirements.map((r) => [r.requirement, r]));
  const rows = report.findings.map((f) => {
    const req = byName.get(f.requirement);
    return [f.requirement, req?.frameworks.join(' ') ?? '', req?.severity ?? '', f.resource, f.resourceType, f.status, f.reason, f.effectiveStatus, f.detail, f.waiver?.name ?? '', f.waiver?.approver ?? '', f.waiver?.expiresAt ?? ''];
  });
  return [CSV_COLUMNS, ...rows].map((row) => row.map(csvField).join(',')).join('\r\n');
}

function csvField(value: string): string {
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * The report as Markdown, for a pull request comment or a CI job summary: the totals, one row per
 * requirement, then the pairs needing attention (every pair with `all`). Cell text is escaped so
 * that a resource name or message from the attested templates cannot break the table or add
 * markup: `|`, `\`, `<`, `>`, backticks and line breaks.
 */
export function formatReportMarkdown(report: ComplianceReport, all: boolean): string {
  const t = report.totals;
  const assessable = t.pairs - t.exempt;
  const overall = assessable === 0 ? 1 : t.compliant / assessable;
  const lines = [
    `## Compliance: ${t.compliant}/${assessable} pairs compliant (${percent(overall)})`,
    '',
    `${t.nonCompliant} noncompliant, ${t.unknown} unknown, ${t.exempt} exempt.`,
    '',
    markdownTable(
      ['Requirement', 'Frameworks', 'Severity', 'Resources', 'Compliant', 'Noncompliant', 'Unknown', 'Exempt', 'Ratio'],
      report.requirements.map((r) => [r.requirement, r.frameworks.join(' '), r.severity, String(r.applicable), String(r.compliant), String(r.nonCompliant), String(r.unknown), String(r.exempt), percent(r.ratio)]),
    ),
  ];
  const findings = report.findings.filter((f) => all || f.status !== 'Compliant');
  lines.push('', all ? '### Every pair' : '### Needing attention', '');
  if (findings.length === 0) lines.push('Every applicable pair is compliant.');
  else lines.push(markdownTable(['Requirement', 'Resource', 'Type', 'Status', 'Why'], findings.map((f) => [f.requirement, f.resource, f.resourceType, f.status, f.status === 'Compliant' ? 'all attestations passed' : `${f.reason}: ${f.detail}`])));
  return lines.join('\n');
}

function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const row = (cells: readonly string[]) => `| ${cells.map(markdownCell).join(' | ')} |`;
  return [row(headers), `|${headers.map(() => ' --- ').join('|')}|`, ...rows.map(row)].join('\n');
}

function markdownCell(text: string): string {
  return text
    .replace(/[\\|`]/g, (c) => `\\${c}`)
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\r?\n/g, '<br>');
}
