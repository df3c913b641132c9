/** `argus evidence verify`: walks the evidence chain, its outputs and its signed checkpoints. */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { EVIDENCE_DIR, verifyLocalEvidence } from '../../adapters/local/evidence-ledger.ts';
import { resolveHome } from '../../adapters/local/home.ts';
import type { VerifyReport } from '../../core/evidence/verify.ts';
import { EvidenceError } from '../../core/evidence/evidence-error.ts';

export function formatVerifyReport(report: VerifyReport): string {
  const lines: string[] = [];
  if (report.failure) {
    const f = report.failure;
    const where = f.seq !== undefined ? `entry ${f.seq}` : f.checkpoint !== undefined ? `checkpoint ${f.checkpoint}` : f.file;
    lines.push(`FAILED at ${where} [${f.code}]: ${f.message}`);
  } else {
    lines.push(`ok: ${report.entries} entries, ${report.outputsChecked} outputs, ${report.checkpoints} signed checkpoints verified`);
  }
  // After a failure the walk stopped early: its counts say nothing about the rest.
  if (report.ok) lines.push(`signed through entry ${report.signedThrough}${report.unsignedEntries > 0 ? `; ${report.unsignedEntries} committed entries not yet signed` : ''}`);
  if (report.keyIds.length > 0) lines.push(`signing key(s): ${report.keyIds.join(', ')}`);
  if (report.uncommittedLines > 0) lines.push(`${report.uncommittedLines} line(s) past the committed head (a crash or a running writer; removed on the next open)`);
  return lines.join('\n');
}

export function registerEvidenceCommands(program: Command): void {
  const evidence = program.command('evidence').description('the tamper-evident evidence ledger');
  evidence
    .command('verify')
    .description('walk the hash chain, the stored outputs and the signed checkpoints; name the first entry that fails (exit 1)')
    .option('--public-key <files...>', 'trusted Ed25519 public key(s), PEM (default: the key in the evidence directory; pin it to catch a re-signed ledger)')
    .option('--require-signed', 'fail when committed entries are not yet covered by a signed checkpoint')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { publicKey?: string[]; requireSigned?: boolean; json?: boolean }) => {
      const dir = path.join(resolveHome(program.opts<{ home?: string }>().home), EVIDENCE_DIR);
      if (!fs.existsSync(dir)) throw new EvidenceError(`no evidence ledger in ${dir}`, { dir });
      const publicKeys = opts.publicKey?.map((file) => fs.readFileSync(file, 'utf8'));
      const report = await verifyLocalEvidence(dir, publicKeys ? { publicKeys } : {});
      console.log(opts.json ? JSON.stringify(report, null, 2) : formatVerifyReport(report));
      if (!report.ok) process.exitCode = 1;
      else if (opts.requireSigned && report.unsignedEntries > 0) {
        console.error(`${report.unsignedEntries} committed entries are not covered by a signed checkpoint`);
        process.exitCode = 1;
      }
    });
}
