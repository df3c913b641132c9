/**
 * The evidence ledger port: an append-only, hash-chained record of every attestation result,
 * with each result's full output stored beside it under its digest, and the chain head signed
 * periodically. The local ledger (files under the state directory) implements it now; an AWS
 * one (S3 with Object Lock, KMS signing) will implement the same.
 *
 * @example
 * await ledger.appendBatch([{ result, output }]); // durable before it resolves
 * await store.transact(ops);                       // only then commit the results
 */
import type { ChainHead, Checkpoint } from '../evidence/chain.ts';
import type { VerifyReport } from '../evidence/verify.ts';
import type { AttestationResult } from '../model.ts';
import type { StoredResult } from '../results-item.ts';

export type { ChainHead, Checkpoint } from '../evidence/chain.ts';
export type { VerifyFailure, VerifyFailureCode, VerifyReport } from '../evidence/verify.ts';

/** One result and the provider output its `evidenceDigest` names. */
export interface EvidenceRecord {
  readonly result: AttestationResult;
  readonly output?: unknown;
}

/**
 * The runs of one resource as its results item stores them, each with the output its evidence
 * digest names (by position): what a reconcile has at hand. Their results are `resultOf` each run.
 */
export interface ResourceRunsEvidence {
  readonly resource: string;
  readonly resourceDigest: string;
  readonly runs: readonly StoredResult[];
  readonly outputs: readonly unknown[];
}

export interface AppendReceipt {
  /** Sequence number of the first entry appended (head.seq + 1 before the call). */
  readonly firstSeq: number;
  readonly head: ChainHead;
}

export interface EvidenceLedger {
  /**
   * Stores the outputs, appends one chained entry per record and advances the head with a
   * conditional write. Durable when it resolves; throws (and advances nothing) when the head
   * moved under this writer or a record's output does not match its digest.
   */
  appendBatch(records: readonly EvidenceRecord[]): Promise<AppendReceipt>;
  /**
   * `appendBatch` of the runs' results, resource by resource, run by run (`recordsOfRuns`): the
   * same entries, for a writer that can read them from the runs without a result object each.
   */
  appendRuns(batch: readonly ResourceRunsEvidence[]): Promise<AppendReceipt>;
  /** The committed head. */
  head(): Promise<ChainHead>;
  /** Signs the current head now; undefined when the last checkpoint already covers it. */
  checkpoint(): Promise<Checkpoint | undefined>;
  /** Walks the chain, the outputs and the signatures; names the first thing that fails. */
  verify(): Promise<VerifyReport>;
  /** Signs an unsigned head, then releases the ledger. */
  close(): Promise<void>;
}

export type SignatureAlgorithm = 'ed25519' | 'ecdsa-p256-sha256' | 'rsa-pss-sha256';

/**
 * Signs checkpoint payloads: an Ed25519 key locally, a KMS asymmetric key on AWS (the private
 * half never leaves KMS).
 */
export interface EvidenceSigner {
  /** Stable id of the key (a fingerprint of the public key, or a KMS key ARN). */
  readonly keyId: string;
  readonly algorithm: SignatureAlgorithm;
  sign(payload: Uint8Array): Promise<Uint8Array>;
}

export type SignatureCheck = 'valid' | 'invalid' | 'unknown-key';

/** Checks checkpoint signatures against the keys it trusts. */
export interface SignatureVerifier {
  verify(keyId: string, algorithm: string, payload: Uint8Array, signature: Uint8Array): Promise<SignatureCheck>;
}
