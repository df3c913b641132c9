import { generateKeyPairSync, sign } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../src/core/evidence/verify.ts';
import { evidenceDigestOf } from '../../src/core/evidence/chain.ts';
import { KmsPublicKeyVerifier, KmsSigner } from '../../src/adapters/aws/kms-signer.ts';
import { CHECKPOINTS_FILE, HEAD_FILE, LEDGER_FILE, LocalEvidenceLedger, outputPath } from '../../src/adapters/local/evidence-ledger.ts';
import { readLines } from '../../src/adapters/local/line-reader.ts';
import { parseCheckpointLine, parseHeadRecord } from '../../src/core/evidence/chain.ts';

const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/0d1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b';
const kmsMock = mockClient(KMSClient);
const dirs: string[] = [];

afterEach(() => {
  kmsMock.reset();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** KMS stood in by a local P-256 key: Sign (RAW, ECDSA_SHA_256) and GetPublicKey behave as KMS does. */
function fakeKms() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  kmsMock.on(SignCommand).callsFake((input: { KeyId?: string; Message?: Uint8Array; MessageType?: string; SigningAlgorithm?: string }) => {
    if (input.KeyId !== KEY_ARN || input.MessageType !== 'RAW' || input.SigningAlgorithm !== 'ECDSA_SHA_256' || !input.Message) throw new Error('unexpected Sign input');
    return { KeyId: KEY_ARN, Signature: sign('sha256', input.Message, privateKey), SigningAlgorithm: 'ECDSA_SHA_256' };
  });
  kmsMock.on(GetPublicKeyCommand, { KeyId: KEY_ARN }).resolves({ KeyId: KEY_ARN, KeyUsage: 'SIGN_VERIFY', PublicKey: publicKey.export({ type: 'spki', format: 'der' }) });
}

async function ledgerSignedByKms(): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'argus-kms-'));
  dirs.push(dir);
  const ledger = await LocalEvidenceLedger.open({ dir, fsync: false, signer: new KmsSigner(new KMSClient({ region: 'eu-west-1' }), KEY_ARN) });
  const output = { value: true };
  await ledger.appendBatch([
    {
      output,
      result: { resource: 'r', attestation: 'a', outcome: 'Passed', message: 'ok', executedAt: 1, durationMs: 0, attestationDigest: 'x', resourceDigest: 'y', requirementVersions: {}, evidenceDigest: evidenceDigestOf(output) },
    },
  ]);
  await ledger.close();
  return dir;
}

function verifyWith(dir: string, verifier: KmsPublicKeyVerifier) {
  return verifyLedger(
    {
      head: parseHeadRecord(fs.readFileSync(path.join(dir, HEAD_FILE), 'utf8')),
      entryLines: readLines(path.join(dir, LEDGER_FILE)),
      checkpointLines: readLines(path.join(dir, CHECKPOINTS_FILE)),
      readOutput: (hex) => fs.readFileSync(path.join(dir, outputPath(hex))),
    },
    verifier,
  );
}

describe('KmsSigner', () => {
  it('signs checkpoints with the KMS key, and they verify with its public key', async () => {
    fakeKms();
    const dir = await ledgerSignedByKms();

    const report = await verifyWith(dir, new KmsPublicKeyVerifier(new KMSClient({ region: 'eu-west-1' }), [KEY_ARN]));

    expect(report).toMatchObject({ ok: true, entries: 1, signedThrough: 1, keyIds: [KEY_ARN] });
    expect(kmsMock.commandCalls(GetPublicKeyCommand)).toHaveLength(1);
  });

  it('rejects a checkpoint whose signed head was changed', async () => {
    fakeKms();
    const dir = await ledgerSignedByKms();
    const file = path.join(dir, CHECKPOINTS_FILE);
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/"at":(\d)/, '"at":9$1'));
    const head = JSON.parse(fs.readFileSync(path.join(dir, HEAD_FILE), 'utf8'));
    // Keep the head consistent so that only the signature can catch the change.
    const changed = parseCheckpointLine(fs.readFileSync(file, 'utf8').trim());
    if (!changed.ok) throw new Error('fixture');
    head.checkpoints.digest = changed.checkpoint.digest;
    fs.writeFileSync(path.join(dir, HEAD_FILE), JSON.stringify(head));

    const report = await verifyWith(dir, new KmsPublicKeyVerifier(new KMSClient({ region: 'eu-west-1' }), [KEY_ARN]));

    expect(report.failure).toMatchObject({ code: 'signature-invalid', checkpoint: 1 });
  });

  it('does not trust a key it was not told to trust', async () => {
    fakeKms();
    const dir = await ledgerSignedByKms();

    const report = await verifyWith(dir, new KmsPublicKeyVerifier(new KMSClient({ region: 'eu-west-1' }), ['arn:aws:kms:eu-west-1:123456789012:key/other']));

    expect(report.failure?.code).toBe('unknown-key');
  });

  it('turns a KMS failure into an EvidenceError naming the key', async () => {
    kmsMock.on(SignCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const signer = new KmsSigner(new KMSClient({ region: 'eu-west-1' }), KEY_ARN);

    await expect(signer.sign(Buffer.from('x'))).rejects.toThrow(/KMS could not sign the checkpoint .*AccessDeniedException/);
  });
});
