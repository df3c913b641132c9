/**
 * S3EvidenceLedger: items on a real DynamoDB Local, S3 stood in by aws-sdk-client-mock behaving
 * like the real service (an in-memory bucket; `IfNoneMatch: '*'` on an existing key → 412
 * PreconditionFailed; GetObject of a missing key → NoSuchKey 404; ChecksumSHA256 checked), and a
 * local Ed25519 signer standing in for KMS.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/core/serde';
import { mockClient } from 'aws-sdk-client-mock';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { evidenceDigestOf } from '../../src/core/evidence/chain.ts';
import { EvidenceConflictError } from '../../src/core/evidence/evidence-error.ts';
import type { AttestationResult } from '../../src/core/model.ts';
import type { EvidenceRecord } from '../../src/core/ports/evidence-ledger.ts';
import { ledgerEntryKey } from '../../src/core/table-design.ts';
import { DynamoDbStore } from '../../src/adapters/aws/dynamodb-store.ts';
import { S3EvidenceLedger, type S3EvidenceLedgerOptions } from '../../src/adapters/aws/s3-evidence-ledger.ts';
import { Ed25519Signer, PublicKeyVerifier } from '../../src/adapters/local/evidence-signer.ts';
import { freshTable, localClients, type LocalClients } from '../support/dynamodb-clients.ts';
import { startDynamoDbLocal, type DynamoDbLocal } from '../support/dynamodb-local.ts';

let ddb: DynamoDbLocal;
let clients: LocalClients;
let table: string;
const BUCKET = 'argus-evidence-test';
const s3Mock = mockClient(S3Client);
/** The fake bucket: key → bytes. */
const objects = new Map<string, Buffer>();
let chainCounter = 0;

beforeAll(async () => {
  ddb = await startDynamoDbLocal();
  clients = localClients(ddb);
  table = await freshTable(clients);
}, 120_000);

afterAll(async () => {
  clients?.client.destroy();
  clients?.streams.destroy();
  await ddb?.stop();
});

afterEach(() => {
  s3Mock.reset();
  objects.clear();
});

function s3Error(name: string, status: number): S3ServiceException {
  return new S3ServiceException({ name, $fault: 'client', message: name, $metadata: { httpStatusCode: status } });
}

/** An S3 bucket in memory, answering as S3 does. */
function fakeS3(): void {
  s3Mock.on(PutObjectCommand).callsFake((input: { Bucket?: string; Key?: string; Body?: unknown; ChecksumSHA256?: string; IfNoneMatch?: string }) => {
    if (input.Bucket !== BUCKET || !input.Key || !(input.Body instanceof Uint8Array)) throw s3Error('InvalidRequest', 400);
    const body = Buffer.from(input.Body);
    if (input.ChecksumSHA256 !== createHash('sha256').update(body).digest('base64')) throw s3Error('BadDigest', 400);
    if (input.IfNoneMatch === '*' && objects.has(input.Key)) throw s3Error('PreconditionFailed', 412);
    objects.set(input.Key, body);
    return { ETag: `"${createHash('md5').update(body).digest('hex')}"`, ChecksumSHA256: input.ChecksumSHA256, VersionId: 'v1' };
  });
  s3Mock.on(GetObjectCommand).callsFake((input: { Bucket?: string; Key?: string }) => {
    const body = input.Key === undefined ? undefined : objects.get(input.Key);
    if (!body) throw new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } });
    return { Body: sdkStreamMixin(Readable.from([body])), ContentLength: body.length, ContentType: 'application/json' };
  });
}

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const signer = new Ed25519Signer(privateKey, publicKey);
const verifier = new PublicKeyVerifier([publicKey.export({ type: 'spki', format: 'pem' }).toString()]);

function newStore(): DynamoDbStore {
  return new DynamoDbStore({ client: clients.client, tableName: table });
}

function open(chain: string, extra: Partial<S3EvidenceLedgerOptions> = {}): Promise<S3EvidenceLedger> {
  return S3EvidenceLedger.open({ store: newStore(), s3: new S3Client({ region: 'eu-west-1' }), bucket: BUCKET, chain, signer, verifier, ...extra });
}

function record(i: number, output: unknown = { check: i, ok: i % 2 === 0 }): EvidenceRecord {
  const result: AttestationResult = {
    resource: `res-${i}`,
    attestation: 'encrypted',
    outcome: 'Passed',
    message: 'ok',
    executedAt: 1_800_000_000_000 + i,
    durationMs: 3,
    attestationDigest: 'sha256:a',
    resourceDigest: 'sha256:r',
    requirementVersions: {},
    evidenceDigest: evidenceDigestOf(output),
  };
  return { result, output };
}

const nextChain = (): string => `t${++chainCounter}-${Date.now()}`;

describe('S3EvidenceLedger', () => {
  it('appends, stores each output once under its digest, signs, and verifies', async () => {
    fakeS3();
    const chain = nextChain();
    const ledger = await open(chain);
    const shared = { same: 'output' };

    const first = await ledger.appendBatch([record(1), record(2, shared), record(3, shared)]);
    const second = await ledger.appendBatch([record(4)]);
    await ledger.close();

    expect(first).toEqual({ firstSeq: 1, head: expect.objectContaining({ seq: 3 }) });
    expect(second.firstSeq).toBe(4);
    expect(objects.size).toBe(3);
    for (const key of objects.keys()) expect(key).toMatch(/^outputs\/[0-9a-f]{64}\.json$/);
    const report = await (await open(chain)).verify();
    // Signed at the first append (no checkpoint yet) and on close.
    expect(report).toMatchObject({ ok: true, entries: 4, checkpoints: 2, signedThrough: 4, outputsChecked: 3, keyIds: [signer.keyId] });
  });

  it('treats a 412 on IfNoneMatch as an output already stored', async () => {
    fakeS3();
    const chain = nextChain();
    const a = await open(chain);
    await a.appendBatch([record(1, { x: 1 })]);
    // A second writer (fresh process: no cache) stores the same output again.
    const b = await open(chain);
    await b.appendBatch([record(2, { x: 1 })]);

    const puts = s3Mock.commandCalls(PutObjectCommand);
    expect(puts).toHaveLength(2);
    expect(puts.every((c) => c.args[0].input.IfNoneMatch === '*')).toBe(true);
    expect(objects.size).toBe(1);
    expect((await b.verify()).ok).toBe(true);
  });

  it('splits a batch larger than one transaction into head-advancing transactions', async () => {
    fakeS3();
    const chain = nextChain();
    const ledger = await open(chain, { maxTransactionWrites: 10 });

    const receipt = await ledger.appendBatch(Array.from({ length: 25 }, (_, i) => record(i + 1)));
    await ledger.close();

    expect(receipt.head.seq).toBe(25);
    expect(await (await open(chain)).verify()).toMatchObject({ ok: true, entries: 25 });
  });

  it('lets exactly one of two racing writers advance the head: the chain does not fork', async () => {
    fakeS3();
    const chain = nextChain();
    const a = await open(chain);
    const b = await open(chain);

    const outcomes = await Promise.allSettled([a.appendBatch([record(1), record(2)]), b.appendBatch([record(3)])]);

    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]?.reason).toBeInstanceOf(EvidenceConflictError);
    expect((lost[0]?.reason as EvidenceConflictError).code).toBe('CONFLICT');
    const report = await (await open(chain)).verify();
    expect(report.ok).toBe(true);
    expect(report.entries).toBe(won[0]?.status === 'fulfilled' ? won[0].value.head.seq : -1);

    // The loser re-read the head: a retry chains onto the winner's entries.
    const loser = outcomes[0]?.status === 'rejected' ? a : b;
    const retry = await loser.appendBatch([record(9)]);
    expect(retry.firstSeq).toBe(report.entries + 1);
    expect(await loser.verify()).toMatchObject({ ok: true, entries: report.entries + 1 });
  });

  it('names a tampered entry item', async () => {
    fakeS3();
    const chain = nextChain();
    const ledger = await open(chain);
    await ledger.appendBatch([record(1), record(2), record(3)]);
    const store = newStore();
    const key = ledgerEntryKey(chain, 2);
    const item = await store.get<{ line: string; output?: string }>(key.pk, key.sk);
    const line = item?.data.line ?? '';

    await store.transact([{ type: 'put', ...key, data: { ...item?.data, line: line.replace('"outcome":"Passed"', '"outcome":"Failed"') }, ifVersion: item?.version ?? 'any' }]);

    const report = await ledger.verify();
    expect(report.ok).toBe(false);
    expect(report.failure).toMatchObject({ code: 'entry-hash-mismatch', seq: 2 });
  });

  it('names an entry whose S3 output is missing', async () => {
    fakeS3();
    const chain = nextChain();
    const ledger = await open(chain);
    const gone = { will: 'vanish' };
    await ledger.appendBatch([record(1), record(2, gone), record(3)]);
    const digest = evidenceDigestOf(gone) ?? '';

    objects.delete(ledger.outputKey(digest.slice('sha256:'.length)));

    const report = await ledger.verify();
    expect(report.ok).toBe(false);
    expect(report.failure).toMatchObject({ code: 'output-missing', seq: 2, file: 'output' });
  });

  it('names an entry whose S3 output was changed', async () => {
    fakeS3();
    const chain = nextChain();
    const ledger = await open(chain);
    const output = { v: 1 };
    await ledger.appendBatch([record(1, output)]);

    objects.set(ledger.outputKey((evidenceDigestOf(output) ?? '').slice(7)), Buffer.from('{"v":2}'));

    expect((await ledger.verify()).failure).toMatchObject({ code: 'output-mismatch', seq: 1 });
  });
});
