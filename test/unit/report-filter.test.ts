import { describe, expect, it } from 'vitest';
import { ArgusError } from '../../src/core/errors.ts';
import type { ComplianceReport, ReportFinding, RequirementSummary } from '../../src/core/report.ts';
import { failingPairs, filterReport } from '../../src/core/report-filter.ts';
import type { ComplianceStatus } from '../../src/core/model.ts';

function summary(requirement: string, frameworks: string[]): RequirementSummary {
  return { requirement, title: requirement, version: 1, severity: 'high', frameworks, applicable: 0, compliant: 0, nonCompliant: 0, unknown: 0, exempt: 0, ratio: 1 };
}
function finding(requirement: string, resource: string, status: ComplianceStatus): ReportFinding {
  return { requirement, resource, resourceType: 'AWS::S3::Bucket', status, reason: 'Implemented', effectiveStatus: status, detail: '' };
}

const REPORT: ComplianceReport = {
  generatedAt: '2026-11-25T00:00:00.000Z',
  totals: { pairs: 5, compliant: 2, nonCompliant: 2, unknown: 1, exempt: 0 },
  requirements: [summary('ac-6', ['nist-800-53:AC-6', 'soc2:CC6.3']), summary('au-11', ['nist-800-53:AU-11']), summary('own-1', ['internal'])],
  findings: [
    finding('ac-6', 'a', 'Compliant'),
    finding('ac-6', 'b', 'NonCompliant'),
    finding('au-11', 'a', 'NonCompliant'),
    finding('au-11', 'b', 'Unknown'),
    finding('own-1', 'a', 'Compliant'),
  ],
};

describe('report filter', () => {
  it('keeps the requirements mapped to a framework, and recounts the totals from their pairs', () => {
    const soc2 = filterReport(REPORT, { frameworks: ['soc2'] });

    expect(soc2.requirements.map((r) => r.requirement)).toEqual(['ac-6']);
    expect(soc2.findings.map((f) => `${f.requirement}/${f.resource}`)).toEqual(['ac-6/a', 'ac-6/b']);
    expect(soc2.totals).toEqual({ pairs: 2, compliant: 1, nonCompliant: 1, unknown: 0, exempt: 0 });
  });

  it('matches one control exactly, a framework without controls by name, and unites every filter given', () => {
    expect(filterReport(REPORT, { frameworks: ['nist-800-53:AU-11'] }).requirements.map((r) => r.requirement)).toEqual(['au-11']);
    expect(filterReport(REPORT, { frameworks: ['internal'] }).requirements.map((r) => r.requirement)).toEqual(['own-1']);
    const both = filterReport(REPORT, { frameworks: ['soc2'], requirements: ['own-1'] });
    expect(both.requirements.map((r) => r.requirement)).toEqual(['ac-6', 'own-1']);
    expect(both.totals.pairs).toBe(3);
  });

  it('returns the report itself when nothing is asked for', () => {
    expect(filterReport(REPORT, {})).toBe(REPORT);
  });

  it('refuses a requirement or framework nothing matches, with the nearest one in use', () => {
    const error = (f: () => unknown): ArgusError => {
      try {
        f();
      } catch (e) {
        return e as ArgusError;
      }
      throw new Error('expected an error');
    };

    expect(error(() => filterReport(REPORT, { requirements: ['ac-7'] })).message).toBe('report filter: no requirement "ac-7"; did you mean "ac-6"?');
    expect(error(() => filterReport(REPORT, { frameworks: ['soc3'] })).message).toBe('report filter: no requirement maps to framework "soc3"; did you mean "soc2"?');
    expect(error(() => filterReport(REPORT, { frameworks: ['nist-800-53:AC-66'] })).code).toBe('INVALID_ARGUMENT');
  });

  it('gates on noncompliant pairs, or on pairs not known to be compliant', () => {
    expect(failingPairs(REPORT, 'noncompliant')).toBe(2);
    expect(failingPairs(REPORT, 'unknown')).toBe(3);
    expect(failingPairs(REPORT, undefined)).toBe(0);
  });
});
