import { sha256Hex } from '../digest.ts';
import type { EvidenceRecord } from '../ports/evidence-ledger.ts';
import { evidenceBytes } from './chain.ts';
import { EvidenceError } from './evidence-error.ts';

/** The outputs to store, by digest hex; checks each result's digest against its output's bytes. */
export function collectOutputs(records: readonly EvidenceRecord[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const { result, output } of records) {
    const digest = result.evidenceDigest;
    if (digest === undefined) continue;
    const bytes = evidenceBytes(output);
    const where = { resource: result.resource, attestation: result.attestation, evidenceDigest: digest };
    if (bytes === undefined) throw new EvidenceError(`result ${result.resource} / ${result.attestation} names evidence ${digest} but comes without its output`, where);
    const hex = sha256Hex(bytes);
    if (`sha256:${hex}` !== digest) throw new EvidenceError(`result ${result.resource} / ${result.attestation}: evidence digest ${digest} is not the digest of its output (sha256:${hex})`, where);
    out.set(hex, bytes);
  }
  return out;
}
