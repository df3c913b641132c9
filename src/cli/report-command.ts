import type { ComplianceReport } from '../core/report.ts';
import { failingPairs, filterReport } from '../core/report-filter.ts';
import { formatReportCsv, formatReportMarkdown, formatReportTable, formatSummaryTable } from './report-table.ts';

/** The options of `argus report`. */
export interface ReportCommandOptions {
  readonly format: string;
  readonly failOn?: 'noncompliant' | 'unknown';
  readonly all?: boolean;
  readonly requirement?: readonly string[];
  readonly framework?: readonly string[];
}

/**
 * Prints a report as `argus report` does (table, JSON, CSV or Markdown), restricted to the requirements and
 * frameworks asked for, then applies the `--fail-on` gate to what it printed: exit code 1 when
 * some pair fails it. The same for a local store and `--api`.
 */
export function printReport(full: ComplianceReport, opts: ReportCommandOptions, print: (text: string) => void = console.log): void {
  const report = filterReport(full, { requirements: opts.requirement, frameworks: opts.framework });
  if (opts.format === 'json') print(JSON.stringify(report, null, 2));
  else if (opts.format === 'csv') print(formatReportCsv(report));
  else if (opts.format === 'markdown') print(formatReportMarkdown(report, opts.all === true));
  else print(`${formatSummaryTable(report)}\n\n${formatReportTable(report, opts.all === true)}`);
  gate(report, opts.failOn);
}

/** The `--fail-on` gate: exit code 1, and how many pairs failed it on stderr, when some did. */
export function gate(report: ComplianceReport, failOn: ReportCommandOptions['failOn']): void {
  const failing = failingPairs(report, failOn);
  if (failing === 0) return;
  console.error(`${failing} pair(s) ${failOn === 'unknown' ? 'not compliant or unknown' : 'not compliant'}`);
  process.exitCode = 1;
}
