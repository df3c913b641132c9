/**
 * Checkpoint signing with a KMS asymmetric key (key spec `ECC_NIST_P256`, usage `SIGN_VERIFY`):
 * the private key never leaves KMS, so whoever can write the evidence bucket still cannot forge
 * a checkpoint. Verification fetches the public key once and checks signatures locally (no KMS
 * call per checkpoint, and verifiable offline with the exported public key).
 *
 * @example
 * const signer = new KmsSigner(new KMSClient({}), 'arn:aws:kms:eu-west-1:123456789012:key/…');
 * const verifier = new KmsPublicKeyVerifier(new KMSClient({}), [signer.keyId]);
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { GetPublicKeyCommand, SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import { EvidenceError } from '../../core/evidence/evidence-error.ts';
import type { EvidenceSigner, SignatureCheck, SignatureVerifier } from '../../core/ports/evidence-ledger.ts';

/** KMS signs the raw payload (a checkpoint body is a few hundred bytes, under KMS's 4 KiB limit). */
const MAX_RAW_MESSAGE = 4096;

export class KmsSigner implements EvidenceSigner {
  readonly algorithm = 'ecdsa-p256-sha256' as const;

  /** @param keyId the key's ARN (recorded in each checkpoint; an alias would not pin the key) */
  constructor(
    private readonly kms: KMSClient,
    readonly keyId: string,
  ) {}

  async sign(payload: Uint8Array): Promise<Uint8Array> {
    if (payload.length > MAX_RAW_MESSAGE) throw new EvidenceError(`checkpoint payload of ${payload.length} bytes exceeds the KMS message limit`, { keyId: this.keyId });
    let signature: Uint8Array | undefined;
    try {
      const out = await this.kms.send(new SignCommand({ KeyId: this.keyId, Message: payload, MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' }));
      signature = out.Signature;
    } catch (cause) {
      throw new EvidenceError(`KMS could not sign the checkpoint with ${this.keyId}: ${cause instanceof Error ? cause.name : String(cause)}`, { keyId: this.keyId }, { cause });
    }
    if (!signature) throw new EvidenceError(`KMS returned no signature for ${this.keyId}`, { keyId: this.keyId });
    return signature;
  }
}

/** Trusts the listed KMS keys; their public keys are fetched once, then checks run locally. */
export class KmsPublicKeyVerifier implements SignatureVerifier {
  private readonly keys = new Map<string, Promise<KeyObject>>();

  constructor(
    private readonly kms: KMSClient,
    readonly trustedKeyIds: readonly string[],
  ) {}

  async verify(keyId: string, algorithm: string, payload: Uint8Array, signature: Uint8Array): Promise<SignatureCheck> {
    if (!this.trustedKeyIds.includes(keyId) || algorithm !== 'ecdsa-p256-sha256') return 'unknown-key';
    const key = await this.publicKey(keyId);
    try {
      return verify('sha256', payload, key, signature) ? 'valid' : 'invalid';
    } catch {
      return 'invalid';
    }
  }

  private publicKey(keyId: string): Promise<KeyObject> {
    let pending = this.keys.get(keyId);
    if (!pending) {
      pending = this.kms.send(new GetPublicKeyCommand({ KeyId: keyId })).then(
        (out) => {
          if (!out.PublicKey) throw new EvidenceError(`KMS returned no public key for ${keyId}`, { keyId });
          if (out.KeyUsage !== undefined && out.KeyUsage !== 'SIGN_VERIFY') throw new EvidenceError(`KMS key ${keyId} is not a signing key (${out.KeyUsage})`, { keyId });
          return createPublicKey({ key: Buffer.from(out.PublicKey), format: 'der', type: 'spki' });
        },
        (cause: unknown) => {
          throw new EvidenceError(`cannot fetch the public key of ${keyId} from KMS`, { keyId }, { cause });
        },
      );
      // A failed fetch is not cached: the next checkpoint retries.
      pending.catch(() => this.keys.delete(keyId));
      this.keys.set(keyId, pending);
    }
    return pending;
  }
}
