import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreError } from '#core/errors.ts';
import { encodeEntry, evidenceDigestOf, parseEntryLine, type HeadRecord } from '#core/evidence/chain.ts';
import { EvidenceConflictError, EvidenceError } from '#core/evidence/evidence-error.ts';
import type { AttestationResult } from '#core/model.ts';
import type { EvidenceRecord, ResourceRunsEvidence } from '#core/ports/evidence-ledger.ts';
import { recordsOfRuns } from '#core/evidence/outputs.ts';
import { storedResult } from '#core/results-item.ts';
import {
  CHECKPOINTS_FILE,
  HEAD_FILE,
  LEDGER_FILE,
  LocalEvidenceLedger,
  outputPath,
  verifyLocalEvidence,
  type LocalEvidenceLedgerOptions,
} from '../../src/adapters/local/evidence-ledger.ts';
import { Ed25519Signer } from '../../src/adapters/local/evidence-signer.ts';

const T0 = Date.UTC(2026, 10, 25);
const dirs: string[] = [];
const open: LocalEvidenceLedger[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'argus-evidence-'));
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  for (const l of open.splice(0)) await l.close().catch(() => undefined);
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

async function openLedger(dir: string, options: Omit<LocalEvidenceLedgerOptions, 'dir'> = {}): Promise<LocalEvidenceLedger> {
  let now = T0;
  const ledger = await LocalEvidenceLedger.open({ dir, fsync: false, clock: { now: () => (now += 1000) }, ...options });
  open.push(ledger);
  return ledger;
}

/** Results whose outputs repeat every third one (outputs are stored once per digest). */
function records(count: number, from = 0): EvidenceRecord[] {
  const out: EvidenceRecord[] = [];
  for (let i = from; i < from + count; i++) {
    const output = { expression: 'resource.enc == true', value: i % 3 === 0, note: `run ${i % 5}` };
    const result: AttestationResult = {
      resource: `bucket-${i}`,
      attestation: 'encrypted',
      outcome: i % 3 === 0 ? 'Passed' : 'Failed',
      message: i % 3 === 0 ? 'ok' : 'not encrypted',
      executedAt: T0 + i,
      durationMs: 1,
      attestationDigest: 'sha256:aa',
      resourceDigest: 'sha256:bb',
      requirementVersions: { 'sc-28': 1 },
      evidenceDigest: evidenceDigestOf(output),
    };
    out.push({ result, output });
  }
  return out;
}

/** A closed ledger of `count` entries appended in batches of 4, signed on close. */
async function writtenLedger(count = 12): Promise<string> {
  const dir = tempDir();
  const ledger = await openLedger(dir);
  for (let i = 0; i < count; i += 4) await ledger.appendBatch(records(Math.min(4, count - i), i));
  await ledger.close();
  return dir;
}

const file = (dir: string, name: string) => path.join(dir, name);
const readLinesOf = (dir: string, name = LEDGER_FILE) => fs.readFileSync(file(dir, name), 'utf8').split('\n').slice(0, -1);
const writeLinesOf = (dir: string, lines: string[], name = LEDGER_FILE) => fs.writeFileSync(file(dir, name), `${lines.join('\n')}\n`);
const readHeadOf = (dir: string) => JSON.parse(fs.readFileSync(file(dir, HEAD_FILE), 'utf8')) as HeadRecord;

describe('LocalEvidenceLedger', () => {
  it('verifies an untouched ledger: every entry, every distinct output and the signed head', async () => {
    const dir = await writtenLedger(12);

    const report = await verifyLocalEvidence(dir);

    expect(report).toMatchObject({ ok: true, entries: 12, signedThrough: 12, unsignedEntries: 0, uncommittedLines: 0 });
    expect(report.outputsChecked).toBe(new Set(records(12).map((r) => r.result.evidenceDigest)).size);
    expect(report.checkpoints).toBeGreaterThanOrEqual(1);
  });

  it('chains each entry to the previous one and stores each output under the digest of its bytes', async () => {
    const dir = await writtenLedger(5);

    const entries = readLinesOf(dir).map((line) => parseEntryLine(line));
    expect(entries.every((e) => e.ok)).toBe(true);
    const ok = entries.flatMap((e) => (e.ok ? [e.entry] : []));
    for (let i = 1; i < ok.length; i++) expect(ok[i]?.prev).toBe(ok[i - 1]?.hash);
    const digest = ok[0]?.result.evidenceDigest ?? '';
    const stored = fs.readFileSync(file(dir, outputPath(digest.slice(7))), 'utf8');
    expect(stored).toBe(JSON.stringify(records(1)[0]?.output));
    expect(readHeadOf(dir)).toMatchObject({ seq: 5, hash: ok[4]?.hash });
  });

  it('detects every single flipped byte of the ledger', async () => {
    const dir = await writtenLedger(3);
    const original = fs.readFileSync(file(dir, LEDGER_FILE));
    const undetected: number[] = [];
    // Every 5th byte keeps the test quick while covering framing, hashes, fields and newlines.
    for (let at = 0; at < original.length; at += 5) {
      const copy = Buffer.from(original);
      copy[at] = (copy[at] ?? 0) ^ 0x01;
      fs.writeFileSync(file(dir, LEDGER_FILE), copy);
      const report = await verifyLocalEvidence(dir);
      if (report.ok) undetected.push(at);
    }
    expect(undetected).toEqual([]);
  });

  it('names the entry whose bytes were changed', async () => {
    const dir = await writtenLedger(8);
    const lines = readLinesOf(dir);
    lines[4] = (lines[4] ?? '').replace('"outcome":"Failed"', '"outcome":"Passed"');
    writeLinesOf(dir, lines);

    const report = await verifyLocalEvidence(dir);

    expect(report.failure).toMatchObject({ code: 'entry-hash-mismatch', seq: 5, line: 5 });
  });

  it('detects a changed entry whose hash was recomputed, at the next entry', async () => {
    const dir = await writtenLedger(8);
    const lines = readLinesOf(dir);
    const parsed = parseEntryLine(lines[2] ?? '');
    if (!parsed.ok) throw new Error('fixture');
    const { hash: _hash, ...body } = parsed.entry;
    lines[2] = encodeEntry({ ...body, result: { ...body.result, outcome: 'Passed' } }).line;
    writeLinesOf(dir, lines);

    expect((await verifyLocalEvidence(dir)).failure).toMatchObject({ code: 'chain-broken', seq: 4 });
  });

  it('detects a deleted entry', async () => {
    const dir = await writtenLedger(8);
    const lines = readLinesOf(dir);
    lines.splice(3, 1);
    writeLinesOf(dir, lines);

    expect((await verifyLocalEvidence(dir)).failure).toMatchObject({ code: 'entry-out-of-sequence', seq: 4 });
  });

  it('detects reordered entries', async () => {
    const dir = await writtenLedger(8);
    const lines = readLinesOf(dir);
    [lines[5], lines[6]] = [lines[6] ?? '', lines[5] ?? ''];
    writeLinesOf(dir, lines);

    expect((await verifyLocalEvidence(dir)).failure).toMatchObject({ code: 'entry-out-of-sequence', seq: 6 });
  });

  it('detects an inserted entry', async () => {
    const dir = await writtenLedger(8);
    const lines = readLinesOf(dir);
    lines.splice(2, 0, lines[1] ?? '');
    writeLinesOf(dir, lines);

    expect((await verifyLocalEvidence(dir)).failure).toMatchObject({ code: 'entry-out-of-sequence', seq: 3 });
  });

  it('detects entries removed from the end', async () => {
    const dir = await writtenLedger(8);
    writeLinesOf(dir, readLinesOf(dir).slice(0, 6));

    expect((await verifyLocalEvidence(dir)).failure).toMatchObject({ code: 'ledger-truncated', seq: 7 });
  });

  it('detects a truncation covered up by rewriting the head, through the signed checkpoint', async () => {
    const dir = await writtenLedger(8);
    const lines = readLinesOf(dir).slice(0, 6);
    writeLinesOf(dir, lines);
    const last = parseEntryLine(lines[5] ?? '');
    if (!last.ok) throw new Error('fixture');
    const head = readHeadOf(dir);
    fs.writeFileSync(file(dir, HEAD_FILE), JSON.stringify({ ...head, seq: 6, hash: last.entry.hash, bytes: fs.statSync(file(dir, LEDGER_FILE)).size }));

    expect((await verifyLocalEvidence(dir)).failure).toMatchObject({ code: 'checkpoint-mismatch', seq: 8 });
  });

  it('detects a changed output and names the first entry that uses it', async () => {
    const dir = await writtenLedger(8);
    const digest = records(8)[1]?.result.evidenceDigest ?? '';
    const out = file(dir, outputPath(digest.slice(7)));
    const bytes = fs.readFileSync(out);
    bytes[10] = (bytes[10] ?? 0) ^ 0x01;
    fs.writeFileSync(out, bytes);

    expect((await verifyLocalEvidence(dir)).failure).toMatchObject({ code: 'output-mismatch', seq: 2 });
  });

  it('detects a truncated output and two outputs swapped', async () => {
    const dir = await writtenLedger(8);
    const [first, second] = records(2).map((r) => file(dir, outputPath((r.result.evidenceDigest ?? '').slice(7))));
    if (!first || !second) throw new Error('fixture');
    const a = fs.readFileSync(first);
    const b = fs.readFileSync(second);
    fs.writeFileSync(first, a.subarray(0, a.length - 1));
    expect((await verifyLocalEvidence(dir)).failure).toMatchObject({ code: 'output-mismatch', seq: 1 });

    fs.writeFileSync(first, b);
    fs.writeFileSync(second, a);
    expect((await verifyLocalEvidence(dir)).failure).toMatchObject({ code: 'output-mismatch', seq: 1 });
  });

  it('detects a deleted output', async () => {
    const dir = await writtenLedger(8);
    const digest = records(8)[2]?.result.evidenceDigest ?? '';
    fs.rmSync(file(dir, outputPath(digest.slice(7))));

    expect((await verifyLocalEvidence(dir)).failure).toMatchObject({ code: 'output-missing', seq: 3 });
  });

  it('detects a flipped byte in a checkpoint and a deleted checkpoint file', async () => {
    const dir = await writtenLedger(8);
    const cp = fs.readFileSync(file(dir, CHECKPOINTS_FILE));
    const flipped = Buffer.from(cp);
    const at = cp.indexOf('"seq":') + 6;
    flipped[at] = (flipped[at] ?? 0) ^ 0x01;
    fs.writeFileSync(file(dir, CHECKPOINTS_FILE), flipped);
    expect((await verifyLocalEvidence(dir)).ok).toBe(false);

    fs.writeFileSync(file(dir, CHECKPOINTS_FILE), '');
    expect((await verifyLocalEvidence(dir)).failure).toMatchObject({ code: 'checkpoints-truncated' });
  });

  it('rejects a ledger re-signed with another key when the original public key is pinned', async () => {
    const dir = await writtenLedger(4);
    const pinned = fs.readFileSync(file(dir, 'public-key.pem'), 'utf8');
    // An attacker with write access replaces the key pair and re-signs from scratch.
    fs.rmSync(file(dir, 'signing-key.pem'));
    fs.rmSync(file(dir, CHECKPOINTS_FILE));
    const head = readHeadOf(dir);
    fs.writeFileSync(file(dir, HEAD_FILE), JSON.stringify({ ...head, checkpoints: { n: 0, digest: '0'.repeat(64), bytes: 0 } }));
    const resigned = await openLedger(dir);
    await resigned.close();
    expect((await verifyLocalEvidence(dir)).ok).toBe(true);

    const report = await verifyLocalEvidence(dir, { publicKeys: [pinned] });

    expect(report.failure).toMatchObject({ code: 'unknown-key', checkpoint: 1 });
  });

  it('signs with the key it is given and verifies with the matching public key', async () => {
    const dir = tempDir();
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const ledger = await openLedger(dir, { signer: new Ed25519Signer(privateKey, publicKey) });
    await ledger.appendBatch(records(3));
    await ledger.close();

    const report = await verifyLocalEvidence(dir, { publicKeys: [publicKey.export({ type: 'spki', format: 'pem' }).toString()] });

    expect(report).toMatchObject({ ok: true, entries: 3, signedThrough: 3 });
  });

  it('signs periodically by entry count while appending', async () => {
    const dir = tempDir();
    const ledger = await openLedger(dir, { checkpointEvery: { entries: 4, ms: Number.MAX_SAFE_INTEGER } });
    for (let i = 0; i < 12; i += 2) await ledger.appendBatch(records(2, i));

    const report = await verifyLocalEvidence(dir);

    expect(report).toMatchObject({ ok: true, entries: 12, signedThrough: 12, checkpoints: 3 });
  });
});

describe('LocalEvidenceLedger crash safety and concurrency', () => {
  it('cuts a torn last line on open and keeps appending a valid chain', async () => {
    const dir = await writtenLedger(4);
    const torn = encodeEntry({ v: 1, seq: 5, prev: readHeadOf(dir).hash, at: T0, result: records(1, 4)[0]!.result }).line.slice(0, 40);
    fs.appendFileSync(file(dir, LEDGER_FILE), torn);
    expect(await verifyLocalEvidence(dir)).toMatchObject({ ok: true, uncommittedLines: 1 });

    const ledger = await openLedger(dir);
    expect(ledger.repairedBytes).toBe(40);
    await ledger.appendBatch(records(2, 4));
    await ledger.close();

    expect(await verifyLocalEvidence(dir)).toMatchObject({ ok: true, entries: 6, uncommittedLines: 0 });
  });

  it('drops whole entries the head never committed (a crash before the head advanced)', async () => {
    const dir = await writtenLedger(4);
    const head = readHeadOf(dir);
    const orphan = encodeEntry({ v: 1, seq: 5, prev: head.hash, at: T0, result: records(1, 4)[0]!.result }).line;
    fs.appendFileSync(file(dir, LEDGER_FILE), `${orphan}\n`);

    const ledger = await openLedger(dir);
    expect(await ledger.head()).toEqual({ seq: 4, hash: head.hash });
    await ledger.close();
    expect(fs.statSync(file(dir, LEDGER_FILE)).size).toBe(head.bytes);
  });

  it('refuses to open a ledger shorter than its committed head', async () => {
    const dir = await writtenLedger(8);
    writeLinesOf(dir, readLinesOf(dir).slice(0, 7));

    await expect(LocalEvidenceLedger.open({ dir, fsync: false })).rejects.toThrow(EvidenceError);
  });

  it('refuses to open when the last committed entry is not the one the head names', async () => {
    const dir = await writtenLedger(4);
    const lines = readLinesOf(dir);
    lines[3] = (lines[3] ?? '').replace('bucket-3', 'bucket-9');
    writeLinesOf(dir, lines);

    await expect(LocalEvidenceLedger.open({ dir, fsync: false })).rejects.toThrow(/not entry 4/);
  });

  it('refuses an append when the head moved under the writer, and writes nothing', async () => {
    const dir = tempDir();
    const ledger = await openLedger(dir);
    await ledger.appendBatch(records(2));
    const head = readHeadOf(dir);
    const size = fs.statSync(file(dir, LEDGER_FILE)).size;
    fs.writeFileSync(file(dir, HEAD_FILE), JSON.stringify({ ...head, seq: 3 }));

    await expect(ledger.appendBatch(records(2, 2))).rejects.toThrow(EvidenceConflictError);
    expect(fs.statSync(file(dir, LEDGER_FILE)).size).toBe(size);
    fs.writeFileSync(file(dir, HEAD_FILE), JSON.stringify(head));
  });

  it('lets one writer at a time hold the directory', async () => {
    const dir = tempDir();
    await openLedger(dir);

    await expect(LocalEvidenceLedger.open({ dir, fsync: false })).rejects.toThrow(StoreError);
  });

  it('serialises concurrent appends from one writer into one chain', async () => {
    const dir = tempDir();
    const ledger = await openLedger(dir);

    await Promise.all([0, 3, 6, 9].map((from) => ledger.appendBatch(records(3, from))));
    await ledger.close();

    expect(await verifyLocalEvidence(dir)).toMatchObject({ ok: true, entries: 12 });
  });

  it('lands appends issued without awaiting in call order, and close waits for them (synced writes)', async () => {
    const dir = tempDir();
    const ledger = await openLedger(dir, { fsync: true });

    const first = ledger.appendBatch(records(3, 0));
    const second = ledger.appendBatch(records(3, 3));
    const closed = ledger.close();
    const late = expect(ledger.appendBatch(records(1, 6))).rejects.toThrow(/closed/);
    const [a, b] = await Promise.all([first, second, closed]);

    await late;
    expect(a).toMatchObject({ firstSeq: 1, head: { seq: 3 } });
    expect(b).toMatchObject({ firstSeq: 4, head: { seq: 6 } });
    const entries = readLinesOf(dir).map((line) => parseEntryLine(line));
    expect(entries.map((e) => (e.ok ? e.entry.result.resource : e.reason))).toEqual(records(6).map((r) => r.result.resource));
    expect(readHeadOf(dir)).toMatchObject({ seq: 6, hash: b?.head.hash, bytes: fs.statSync(file(dir, LEDGER_FILE)).size });
    expect(await verifyLocalEvidence(dir)).toMatchObject({ ok: true, entries: 6, signedThrough: 6, uncommittedLines: 0 });
  });

  it('stores a distinct output for every result (synced, several at once) and verifies them all', async () => {
    const dir = tempDir();
    const ledger = await openLedger(dir, { fsync: true });
    const distinct = records(300).map(({ result }, i) => {
      const output = { body: `response ${i}` };
      return { result: { ...result, evidenceDigest: evidenceDigestOf(output) }, output };
    });

    await ledger.appendBatch(distinct.slice(0, 150));
    await ledger.appendBatch(distinct.slice(150));
    await ledger.close();

    for (const { result } of distinct) expect(fs.existsSync(file(dir, outputPath((result.evidenceDigest ?? '').slice(7))))).toBe(true);
    expect(await verifyLocalEvidence(dir)).toMatchObject({ ok: true, entries: 300, uncommittedLines: 0 });
  });

  it('appends no entry when an output cannot be stored, and refuses appends until reopened', async () => {
    const dir = tempDir();
    const ledger = await openLedger(dir, { fsync: true });
    await ledger.appendBatch(records(3));
    const output = { body: 'cannot be stored' };
    const hex = (evidenceDigestOf(output) ?? '').slice(7);
    // A directory where the output's temp file goes: opening it for writing fails.
    fs.mkdirSync(`${file(dir, outputPath(hex))}.tmp`, { recursive: true });
    const [first] = records(1, 3);
    const failing = { result: { ...(first as EvidenceRecord).result, evidenceDigest: `sha256:${hex}` }, output };

    await expect(ledger.appendBatch([failing])).rejects.toThrow();

    await expect(ledger.appendBatch(records(1, 4))).rejects.toThrow(/unknown state/);
    expect(readLinesOf(dir)).toHaveLength(3);
    await ledger.close().catch(() => undefined);
    const reopened = await openLedger(dir);
    await reopened.appendBatch(records(1, 4));
    await reopened.close();
    expect(await verifyLocalEvidence(dir)).toMatchObject({ ok: true, entries: 4 });
  });

  it('refuses appends after a failed head write, and reopening removes the lines it never committed', async () => {
    const dir = tempDir();
    const ledger = await openLedger(dir, { fsync: true });
    await ledger.appendBatch(records(2));
    const committed = readHeadOf(dir);
    fs.mkdirSync(file(dir, `${HEAD_FILE}.tmp`)); // the head's temp file cannot be opened

    await expect(ledger.appendBatch(records(2, 2))).rejects.toThrow(EvidenceError);
    expect(fs.statSync(file(dir, LEDGER_FILE)).size).toBeGreaterThan(committed.bytes);
    await expect(ledger.appendBatch(records(1, 4))).rejects.toThrow(/unknown state/);
    expect(await ledger.head()).toEqual({ seq: 2, hash: committed.hash });
    await ledger.close();
    fs.rmdirSync(file(dir, `${HEAD_FILE}.tmp`));

    const reopened = await openLedger(dir);
    expect(reopened.repairedBytes).toBeGreaterThan(0);
    expect(await reopened.head()).toEqual({ seq: 2, hash: committed.hash });
    await reopened.appendBatch(records(2, 2));
    await reopened.close();
    expect(await verifyLocalEvidence(dir)).toMatchObject({ ok: true, entries: 4, uncommittedLines: 0 });
  });

  it('appends the runs of results items as the same entries and outputs as their results', async () => {
    // Runs of three resources, as a reconcile hands them over (one without evidence, one with another digest).
    const batch: ResourceRunsEvidence[] = [0, 1, 2].map((r) => {
      const own = records(3, r * 3);
      return {
        resource: `bucket-${r}`,
        resourceDigest: 'sha256:bb',
        runs: own.map(({ result }, k) => storedResult({ ...result, resource: `bucket-${r}`, evidenceDigest: k === 1 ? undefined : result.evidenceDigest, resourceDigest: k === 2 ? 'sha256:cc' : 'sha256:bb' }, 'sha256:bb')),
        outputs: own.map(({ output }, k) => (k === 1 ? undefined : output)),
      };
    });
    const [runsDir, recordsDir] = [tempDir(), tempDir()];
    const byRuns = await openLedger(runsDir);
    const byRecords = await openLedger(recordsDir);

    const receipt = await byRuns.appendRuns(batch);
    expect(receipt).toEqual(await byRecords.appendBatch(recordsOfRuns(batch)));
    await byRuns.close();
    await byRecords.close();

    expect(readLinesOf(runsDir)).toEqual(readLinesOf(recordsDir));
    expect(receipt.head.seq).toBe(9);
    const outputFiles = (dir: string) => fs.readdirSync(path.join(dir, 'outputs'), { recursive: true }).map(String).sort();
    expect(outputFiles(runsDir)).toEqual(outputFiles(recordsDir));
    expect(await verifyLocalEvidence(runsDir)).toMatchObject({ ok: true, entries: 9 });
  });

  it('refuses runs whose evidence digest is not the digest of their output, appending nothing', async () => {
    const dir = tempDir();
    const ledger = await openLedger(dir);
    const [good] = records(1);
    if (!good) throw new Error('fixture');
    const runs = [storedResult(good.result, 'sha256:bb')];

    await expect(ledger.appendRuns([{ resource: good.result.resource, resourceDigest: 'sha256:bb', runs, outputs: [{ other: true }] }])).rejects.toThrow(/bucket-0 \/ encrypted: evidence digest .* is not the digest of its output/);
    await expect(ledger.appendRuns([{ resource: good.result.resource, resourceDigest: 'sha256:bb', runs, outputs: [] }])).rejects.toThrow(/comes without its output/);
    expect(await ledger.head()).toMatchObject({ seq: 0 });
  });

  it('refuses a result whose evidence digest is not the digest of its output, appending nothing', async () => {
    const dir = tempDir();
    const ledger = await openLedger(dir);
    const [good] = records(1);
    if (!good) throw new Error('fixture');

    await expect(ledger.appendBatch([{ result: good.result, output: { other: true } }])).rejects.toThrow(/is not the digest of its output/);
    expect(await ledger.head()).toMatchObject({ seq: 0 });
  });
});
