/**
 * The reconcile workflow writes evidence like a direct reconcile: every result it commits has a
 * ledger entry, and the ledger verifies.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EVIDENCE_DIR, verifyLocalEvidence } from '../../src/adapters/local/evidence-ledger.ts';
import { LocalRuntime } from '../../src/adapters/local/local-runtime.ts';
import { runReconcileWorkflow } from '../../src/adapters/local/workflow-runner.ts';

const QUICKSTART = join(import.meta.dirname, '..', '..', 'examples', 'quickstart');
const homes: string[] = [];

afterEach(() => {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});

describe('reconcile workflow evidence', () => {
  it('appends one ledger entry per attested pair and the ledger verifies', async () => {
    const home = mkdtempSync(join(tmpdir(), 'argus-wf-evidence-'));
    homes.push(home);
    const runtime = await LocalRuntime.open({ home, fsync: false });
    try {
      await runtime.applyFiles([join(QUICKSTART, 'catalog.yaml')]);
      await runtime.importCloudFormation([join(QUICKSTART, 'template.yaml')]);

      const summary = await runReconcileWorkflow(runtime, { shards: 3 });

      expect(summary.executionStatus).toBe('SUCCEEDED');
      expect(summary.evaluated).toBeGreaterThan(0);
      expect((await runtime.evidence.head()).seq).toBe(summary.evaluated);
    } finally {
      await runtime.close();
    }
    const report = await verifyLocalEvidence(join(home, EVIDENCE_DIR));
    expect(report.ok).toBe(true);
    expect(report.entries).toBeGreaterThan(0);
  });
});
