import { describe, expect, it } from 'vitest';
import { formatReportCsv, formatReportMarkdown } from '../../src/cli/report-table.ts';
import type { ComplianceReport, ReportFinding } from '../../src/core/report.ts';

function finding(resource: string, detail: string, more: Partial<ReportFinding> = {}): ReportFinding {
  return { requirement: 'sc-28', resource, resourceType: 'AWS::S3::Bucket', status: 'NonCompliant', reason: 'AttestationFailed', effectiveStatus: 'NonCompliant', detail, ...more };
}

/** RFC 4180 fields back from text (quoted fields, doubled quotes, CRLF between records). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\r' && text[i + 1] === '\n') row.push(field), rows.push(row), (row = []), (field = ''), i++;
    else field += c;
  }
  row.push(field);
  rows.push(row);
  return rows;
}

const REPORT: ComplianceReport = {
  generatedAt: '2026-11-25T00:00:00.000Z',
  totals: { pairs: 3, compliant: 1, nonCompliant: 1, unknown: 0, exempt: 1 },
  requirements: [{ requirement: 'sc-28', title: 'At rest', version: 1, severity: 'high', frameworks: ['nist-800-53:SC-28', 'soc2:CC6.1'], applicable: 3, compliant: 1, nonCompliant: 1, unknown: 0, exempt: 1, ratio: 0.5 }],
  findings: [
    finding('stack/Ok', '', { status: 'Compliant', reason: 'Implemented', effectiveStatus: 'Compliant' }),
    finding('=HYPERLINK("http://x")', 's3-bucket-encrypted: no "BucketEncryption", see docs\nline two'),
    finding('stack/Legacy', 'waived', { status: 'Exempt', reason: 'Waived', effectiveStatus: 'Exempt', waiver: { name: 'legacy', reason: 'r', approver: 'ciso@example.com', expiresAt: '2027-01-01T00:00:00.000Z' } }),
  ],
};

describe('report as CSV', () => {
  it('writes every pair under a header, compliant ones too, with the requirement frameworks and severity', () => {
    const rows = parseCsv(formatReportCsv(REPORT));

    expect(rows[0]).toEqual(['requirement', 'frameworks', 'severity', 'resource', 'resource_type', 'status', 'reason', 'effective_status', 'detail', 'waiver', 'waiver_approver', 'waiver_expires_at']);
    expect(rows).toHaveLength(4);
    expect(rows[1]).toEqual(['sc-28', 'nist-800-53:SC-28 soc2:CC6.1', 'high', 'stack/Ok', 'AWS::S3::Bucket', 'Compliant', 'Implemented', 'Compliant', '', '', '', '']);
    expect(rows[3]?.slice(9)).toEqual(['legacy', 'ciso@example.com', '2027-01-01T00:00:00.000Z']);
  });

  it('quotes commas, quotes and line breaks, and keeps a spreadsheet from running a field as a formula', () => {
    const text = formatReportCsv(REPORT);
    const rows = parseCsv(text);

    expect(rows[2]?.[3]).toBe(`'=HYPERLINK("http://x")`);
    expect(rows[2]?.[8]).toBe('s3-bucket-encrypted: no "BucketEncryption", see docs\nline two');
    expect(text).toContain(`"'=HYPERLINK(""http://x"")"`);
  });
});

describe('report as Markdown', () => {
  it('gives the totals, one row per requirement and the pairs needing attention', () => {
    const text = formatReportMarkdown(REPORT, false);

    expect(text.split('\n').slice(0, 3)).toEqual(['## Compliance: 1/2 pairs compliant (50.0%)', '', '1 noncompliant, 0 unknown, 1 exempt.']);
    expect(text).toContain('| sc-28 | nist-800-53:SC-28 soc2:CC6.1 | high | 3 | 1 | 1 | 0 | 1 | 50.0% |');
    expect(text).toContain('### Needing attention');
    expect(text).not.toContain('stack/Ok');
    expect(formatReportMarkdown(REPORT, true)).toContain('| sc-28 | stack/Ok | AWS::S3::Bucket | Compliant | all attestations passed |');
  });

  it('keeps a cell from breaking the table or adding markup, whatever the templates named things', () => {
    const odd: ComplianceReport = { ...REPORT, findings: [finding('a|b<script>`x`\\', 'one | two\nthree')] };

    const row = formatReportMarkdown(odd, false).split('\n').at(-1) ?? '';

    expect(row).toBe('| sc-28 | a\\|b&lt;script&gt;\\`x\\`\\\\ | AWS::S3::Bucket | NonCompliant | AttestationFailed: one \\| two<br>three |');
    // Unescaped pipes split a row into cells: still five.
    expect(row.split(/(?<!\\)\|/).length - 2).toBe(5);
  });
});

