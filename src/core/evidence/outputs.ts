import type { EvidenceRecord } from '../ports/evidence-ledger.ts';
import { EvidenceError } from './evidence-error.ts';
import { outputEvidence } from './output-evidence.ts';

/** The outputs to store, by digest hex; checks each result's digest against its output's bytes. */
export function collectOutputs(records: readonly EvidenceRecord[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const { result, output } of records) {
    const digest = result.evidenceDigest;
    if (digest === undefined) continue;
    const stored = outputEvidence(output);
    const where = { resource: result.resource, attestation: result.attestation, evidenceDigest: digest };
    if (stored === undefined) throw new EvidenceError(`result ${result.resource} / ${result.attestation} names evidence ${digest} but comes without its output`, where);
    if (stored.digest !== digest) throw new EvidenceError(`result ${result.resource} / ${result.attestation}: evidence digest ${digest} is not the digest of its output (${stored.digest})`, where);
    out.set(digest.slice('sha256:'.length), stored.bytes);
  }
  return out;
}
