import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  chainResults,
  checkpointPayload,
  EMPTY_HEAD,
  EMPTY_HEAD_RECORD,
  encodeCheckpoint,
  evidenceDigestOf,
  parseEntryLine,
  type CheckpointBody,
  type HeadRecord,
} from '../../src/core/evidence/chain.ts';
import { verifyLedger, type RawLine } from '../../src/core/evidence/verify.ts';
import { sha256Hex } from '../../src/core/digest.ts';
import type { AttestationResult } from '../../src/core/model.ts';
import type { SignatureVerifier } from '../../src/core/ports/evidence-ledger.ts';

const T0 = Date.UTC(2026, 10, 25);

function result(i: number, output: unknown): AttestationResult {
  return {
    resource: `r-${i}`,
    attestation: 'a',
    outcome: 'Passed',
    message: 'ok',
    executedAt: T0 + i,
    durationMs: 0,
    attestationDigest: 'sha256:aa',
    resourceDigest: 'sha256:bb',
    requirementVersions: { req: 1 },
    evidenceDigest: evidenceDigestOf(output),
  };
}

/** Accepts a signature when it is the payload's SHA-256 (a stand-in for a real key). */
const fakeVerifier: SignatureVerifier = {
  async verify(keyId, _alg, payload, signature) {
    if (keyId !== 'test-key') return 'unknown-key';
    return Buffer.from(signature).toString('hex') === sha256Hex(payload) ? 'valid' : 'invalid';
  },
};

/** An in-memory ledger of `n` entries with one checkpoint over its head. */
function ledger(n: number) {
  const outputs = new Map<string, string>();
  const results = Array.from({ length: n }, (_, i) => {
    const output = { value: i % 2 === 0 };
    const bytes = JSON.stringify(output);
    outputs.set(sha256Hex(bytes), bytes);
    return result(i, output);
  });
  const chained = chainResults(EMPTY_HEAD, results, T0);
  const body: CheckpointBody = { v: 1, n: 1, seq: n, hash: chained.head.hash, at: T0, prev: '0'.repeat(64), keyId: 'test-key', algorithm: 'test' };
  const cp = encodeCheckpoint(body, Buffer.from(sha256Hex(checkpointPayload(body)), 'hex'));
  const head: HeadRecord = { ...EMPTY_HEAD_RECORD, seq: n, hash: chained.head.hash, checkpoints: { n: 1, digest: cp.checkpoint.digest, bytes: 0 } };
  return { lines: chained.lines, checkpointLines: [cp.line], outputs, head };
}

const raw = (lines: readonly string[]): RawLine[] => lines.map((text, i) => ({ text, number: i + 1, terminated: true }));

function verify(l: ReturnType<typeof ledger>, lines = l.lines) {
  return verifyLedger({ head: l.head, entryLines: raw(lines), checkpointLines: raw(l.checkpointLines), readOutput: (hex) => l.outputs.get(hex) }, fakeVerifier);
}

describe('evidence chain', () => {
  it('links each entry to the hash of the one before it', () => {
    const { entries } = chainResults(EMPTY_HEAD, [result(0, 1), result(1, 2), result(2, 3)], T0);

    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(entries[0]?.prev).toBe(EMPTY_HEAD.hash);
    expect(entries[2]?.prev).toBe(entries[1]?.hash);
  });

  it('hashes the canonical body, so equal results give equal hashes whatever their key order', () => {
    const a = result(0, 1);
    const reordered = Object.fromEntries(Object.entries(a).reverse()) as unknown as AttestationResult;

    expect(chainResults(EMPTY_HEAD, [reordered], T0).head).toEqual(chainResults(EMPTY_HEAD, [a], T0).head);
  });

  it('reads back what it wrote', () => {
    const { lines, entries } = chainResults(EMPTY_HEAD, [result(0, { x: 'é\n"' })], T0);
    const parsed = parseEntryLine(lines[0] ?? '');

    expect(parsed).toMatchObject({ ok: true, entry: entries[0] });
    expect(parsed.ok && parsed.actualHash === parsed.storedHash).toBe(true);
  });

  it('never throws on arbitrary lines', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const parsed = parseEntryLine(text);
        expect(typeof parsed.ok).toBe('boolean');
      }),
    );
  });
});

describe('verifyLedger', () => {
  it('accepts an untouched ledger and reports what it covered', async () => {
    expect(await verify(ledger(6))).toMatchObject({ ok: true, entries: 6, checkpoints: 1, signedThrough: 6, outputsChecked: 2 });
  });

  it('reports the first failing entry for any single changed character', async () => {
    const l = ledger(3);
    await fc.assert(
      fc.asyncProperty(fc.nat(l.lines.length - 1), fc.nat(), fc.integer({ min: 32, max: 126 }), async (lineIndex, at, code) => {
        const line = l.lines[lineIndex] ?? '';
        const pos = at % line.length;
        fc.pre(line.charCodeAt(pos) !== code);
        const lines = [...l.lines];
        lines[lineIndex] = `${line.slice(0, pos)}${String.fromCharCode(code)}${line.slice(pos + 1)}`;
        const report = await verify(l, lines);
        expect(report.ok).toBe(false);
        expect(report.failure?.seq).toBeLessThanOrEqual(lineIndex + 2);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects a checkpoint whose signature does not verify', async () => {
    const l = ledger(2);
    const tampered = l.checkpointLines.map((line) => line.replace(/"signature":"[^"]+"/, '"signature":"AAAA"'));

    const report = await verifyLedger({ head: l.head, entryLines: raw(l.lines), checkpointLines: raw(tampered), readOutput: (hex) => l.outputs.get(hex) }, fakeVerifier);

    expect(report.failure).toMatchObject({ code: 'signature-invalid', checkpoint: 1 });
  });

  it('fails without a head record when there are entries', async () => {
    const l = ledger(2);
    const report = await verifyLedger({ head: undefined, entryLines: raw(l.lines), checkpointLines: [], readOutput: () => undefined }, fakeVerifier);

    expect(report.failure?.code).toBe('head-missing');
  });
});
