import type { EvidenceRecord } from '../ports/evidence-ledger.ts';
import { EvidenceError } from './evidence-error.ts';
import { outputEvidence } from './output-evidence.ts';

/** The outputs to store, by digest hex; checks each result's digest against its output's bytes. */
export function collectOutputs(records: readonly EvidenceRecord[]): Map<string, string> {
  const out = new Map<string, string>();
  // Runs mostly share outputs (a rule's true and false): each digest is added once.
  const added = new Set<string>();
  for (const { result, output } of records) {
    const digest = result.evidenceDigest;
    if (digest === undefined) continue;
    const stored = outputEvidence(output);
    if (stored === undefined || stored.digest !== digest) {
      const where = { resource: result.resource, attestation: result.attestation, evidenceDigest: digest };
      if (stored === undefined) throw new EvidenceError(`result ${result.resource} / ${result.attestation} names evidence ${digest} but comes without its output`, where);
      throw new EvidenceError(`result ${result.resource} / ${result.attestation}: evidence digest ${digest} is not the digest of its output (${stored.digest})`, where);
    }
    if (added.has(digest)) continue;
    added.add(digest);
    out.set(digest.slice('sha256:'.length), stored.bytes);
  }
  return out;
}
