/**
 * Local checkpoint signing: an Ed25519 key pair kept in the evidence directory
 * (`signing-key.pem`, mode 0600, and `public-key.pem`). The key id is the SHA-256 fingerprint of
 * the public key (DER, SPKI), so a verifier can pin it: keep the public key or its fingerprint
 * somewhere the state directory's writers cannot reach, and pass it to `argus evidence verify`.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sha256Hex } from '#core/digest.ts';
import { EvidenceError } from '#core/evidence/evidence-error.ts';
import type { EvidenceSigner, SignatureCheck, SignatureVerifier } from '#core/ports/evidence-ledger.ts';
import { errnoCode, fsyncDir } from './durable-file.ts';

export const SIGNING_KEY_FILE = 'signing-key.pem';
export const PUBLIC_KEY_FILE = 'public-key.pem';

/** `ed25519:<sha256 hex of the SPKI DER>`. */
export function keyIdOf(publicKey: KeyObject): string {
  return `ed25519:${sha256Hex(publicKey.export({ type: 'spki', format: 'der' }))}`;
}

export class Ed25519Signer implements EvidenceSigner {
  readonly algorithm = 'ed25519' as const;
  readonly keyId: string;

  constructor(
    private readonly privateKey: KeyObject,
    readonly publicKey: KeyObject,
  ) {
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new EvidenceError('the signing key is not an Ed25519 key', { type: privateKey.asymmetricKeyType });
    this.keyId = keyIdOf(publicKey);
  }

  /** Loads the key pair from `dir`, creating it on first use. */
  static loadOrCreate(dir: string): Ed25519Signer {
    const file = path.join(dir, SIGNING_KEY_FILE);
    let pem: string | undefined;
    try {
      pem = fs.readFileSync(file, 'utf8');
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') throw new EvidenceError(`cannot read signing key ${file}`, { file }, { cause: error });
    }
    if (pem === undefined) {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const tmp = `${file}.tmp`;
      fs.writeFileSync(tmp, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      fs.renameSync(tmp, file);
      fs.writeFileSync(path.join(dir, PUBLIC_KEY_FILE), publicKey.export({ type: 'spki', format: 'pem' }));
      fsyncDir(dir);
      return new Ed25519Signer(privateKey, publicKey);
    }
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(pem);
    } catch (cause) {
      throw new EvidenceError(`signing key ${file} is not a PEM private key`, { file }, { cause });
    }
    return new Ed25519Signer(privateKey, createPublicKey(privateKey));
  }

  async sign(payload: Uint8Array): Promise<Uint8Array> {
    return sign(null, payload, this.privateKey);
  }
}

/** Trusts the given public keys (PEM, SPKI); any other key id is `unknown-key`. */
export class PublicKeyVerifier implements SignatureVerifier {
  private readonly keys = new Map<string, KeyObject>();

  constructor(publicKeysPem: readonly string[]) {
    for (const pem of publicKeysPem) {
      let key: KeyObject;
      try {
        key = createPublicKey(pem);
      } catch (cause) {
        throw new EvidenceError('a trusted public key is not a PEM public key', {}, { cause });
      }
      if (key.asymmetricKeyType !== 'ed25519') throw new EvidenceError(`trusted key type ${key.asymmetricKeyType ?? 'unknown'} is not supported (ed25519)`, {});
      this.keys.set(keyIdOf(key), key);
    }
  }

  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  async verify(keyId: string, algorithm: string, payload: Uint8Array, signature: Uint8Array): Promise<SignatureCheck> {
    const key = this.keys.get(keyId);
    if (!key || algorithm !== 'ed25519') return 'unknown-key';
    try {
      return verify(null, payload, key, signature) ? 'valid' : 'invalid';
    } catch {
      return 'invalid';
    }
  }
}
