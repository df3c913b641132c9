/**
 * Evidence ledger benchmark: append rate (batches as reconcile makes them) and the time
 * `argus evidence verify` takes over an untouched ledger.
 *
 *   npx tsx bench/evidence-verify.bench.ts [--entries 100000] [--batch 250] [--outputs 2000] [--fsync]
 *
 * Outputs repeat as they do in practice (a CEL rule's output is its expression and value), so
 * `--outputs` distinct output files back the entries.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { evidenceDigestOf } from '../src/core/evidence/chain.ts';
import type { AttestationResult } from '../src/core/model.ts';
import type { EvidenceRecord } from '../src/core/ports/evidence-ledger.ts';
import { LEDGER_FILE, LocalEvidenceLedger, verifyLocalEvidence } from '../src/adapters/local/evidence-ledger.ts';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '250' },
    outputs: { type: 'string', default: '2000' },
    fsync: { type: 'boolean', default: false },
  },
});
const entries = Number(values.entries);
const batch = Number(values.batch);
const distinct = Number(values.outputs);

function record(i: number): EvidenceRecord {
  const rule = i % distinct;
  const output = { expression: `has(resource.Properties.BucketEncryption) && rule_${rule} == true`, value: rule % 4 !== 0 };
  const result: AttestationResult = {
    resource: `org/acct-${i % 50}/stack-${i % 400}/Bucket${i}`,
    attestation: `rule-${rule}`,
    outcome: output.value ? 'Passed' : 'Failed',
    message: output.value ? 'ok' : 'bucket encryption is not configured',
    executedAt: 1_795_000_000_000 + i,
    durationMs: 0,
    attestationDigest: `sha256:${'a'.repeat(64)}`,
    resourceDigest: `sha256:${'b'.repeat(64)}`,
    requirementVersions: { [`req-${rule % 100}`]: 1 },
    evidenceDigest: evidenceDigestOf(output),
  };
  return { result, output };
}

const dir = mkdtempSync(join(tmpdir(), 'argus-evidence-bench-'));
try {
  const ledger = await LocalEvidenceLedger.open({ dir, fsync: values.fsync });
  const t0 = performance.now();
  for (let i = 0; i < entries; i += batch) {
    const records: EvidenceRecord[] = [];
    for (let j = i; j < Math.min(entries, i + batch); j++) records.push(record(j));
    await ledger.appendBatch(records);
  }
  await ledger.close();
  const appendMs = performance.now() - t0;
  const bytes = statSync(join(dir, LEDGER_FILE)).size;

  const t1 = performance.now();
  const report = await verifyLocalEvidence(dir);
  const verifyMs = performance.now() - t1;
  if (!report.ok) throw new Error(`verify failed: ${report.failure?.message}`);

  console.log(`entries ${entries}, batch ${batch}, distinct outputs ${report.outputsChecked}, fsync ${values.fsync}`);
  console.log(`ledger ${(bytes / 1024 / 1024).toFixed(1)} MiB (${Math.round(bytes / entries)} B/entry)`);
  console.log(`append  ${(appendMs / 1000).toFixed(2)} s  (${Math.round(entries / (appendMs / 1000))} entries/s)`);
  console.log(`verify  ${(verifyMs / 1000).toFixed(2)} s  (${Math.round(entries / (verifyMs / 1000))} entries/s), ${report.checkpoints} checkpoints, signed through ${report.signedThrough}`);
  console.log(`peak RSS ${Math.round(process.memoryUsage().rss / 1024 / 1024)} MiB`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
