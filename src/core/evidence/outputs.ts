import type { EvidenceRecord, ResourceRunsEvidence } from '../ports/evidence-ledger.ts';
import { resultOf, type StoredResult } from '../results-item.ts';
import { EvidenceError } from './evidence-error.ts';
import { outputEvidence } from './output-evidence.ts';

/** The outputs to store, by digest hex; checks each result's digest against its output's bytes. */
export function collectOutputs(records: readonly EvidenceRecord[]): Map<string, string> {
  const outputs = new OutputCollector();
  for (const { result, output } of records) outputs.add(result.evidenceDigest, output, result.resource, result.attestation);
  return outputs.byHex;
}

/** `collectOutputs` of the runs' results (`recordsOfRuns`), read from the runs. */
export function collectRunOutputs(batch: readonly ResourceRunsEvidence[]): Map<string, string> {
  const outputs = new OutputCollector();
  for (const { resource, runs, outputs: of } of batch) {
    for (let k = 0; k < runs.length; k++) {
      const run = runs[k] as StoredResult;
      // A null evidence digest is an absent one (`resultOf`).
      outputs.add(run[7] ?? undefined, of[k], resource, run[0]);
    }
  }
  return outputs.byHex;
}

/** The ledger records of runs: each run's result (`resultOf`) with its output, in order. */
export function recordsOfRuns(batch: readonly ResourceRunsEvidence[]): EvidenceRecord[] {
  const records: EvidenceRecord[] = [];
  for (const { resource, resourceDigest, runs, outputs } of batch) {
    for (let k = 0; k < runs.length; k++) records.push({ result: resultOf(resource, resourceDigest, runs[k] as StoredResult), output: outputs[k] });
  }
  return records;
}

class OutputCollector {
  readonly byHex = new Map<string, string>();
  // Runs mostly share outputs (a rule's true and false): each digest is added once.
  private readonly added = new Set<string>();

  add(digest: string | undefined, output: unknown, resource: string, attestation: string): void {
    if (digest === undefined) return;
    const stored = outputEvidence(output);
    if (stored === undefined || stored.digest !== digest) {
      const where = { resource, attestation, evidenceDigest: digest };
      if (stored === undefined) throw new EvidenceError(`result ${resource} / ${attestation} names evidence ${digest} but comes without its output`, where);
      throw new EvidenceError(`result ${resource} / ${attestation}: evidence digest ${digest} is not the digest of its output (${stored.digest})`, where);
    }
    if (this.added.has(digest)) return;
    this.added.add(digest);
    this.byHex.set(digest.slice('sha256:'.length), stored.bytes);
  }
}
