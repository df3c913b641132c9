import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chainResults, EMPTY_HEAD, GENESIS_HASH, parseEntryLine, type ChainHead } from '../../src/core/evidence/chain.ts';
import { EntryLineWriter } from '../../src/core/evidence/entry-lines.ts';
import type { AttestationResult } from '../../src/core/model.ts';
import type { ResourceRunsEvidence } from '../../src/core/ports/evidence-ledger.ts';
import { resultOf, type StoredResult } from '../../src/core/results-item.ts';
import { digest, runFields, runTime as time, storedRun } from '../support/result-arbitraries.ts';


const result: fc.Arbitrary<AttestationResult> = fc
  .record({
    ...runFields,
    resource: fc.constantFrom('org/r1', 'org/r2', 'r"3', 'bücher', 'half\ud800'),
    resourceDigest: digest,
    evidenceDigest: fc.option(digest, { nil: undefined }),
    lastCheckedAt: fc.option(time, { nil: undefined }),
    extra: fc.option(fc.constantFrom('kept', undefined), { freq: 8, nil: null }),
  })
  .map(({ extra, ...r }) => {
    const out: Record<string, unknown> = { ...r };
    // Optional members absent, or present as undefined (canonical JSON drops both).
    if (r.evidenceDigest === undefined && r.executedAt % 2 === 0) delete out.evidenceDigest;
    if (r.lastCheckedAt === undefined) delete out.lastCheckedAt;
    if (extra !== null) out.extra = extra;
    return out as unknown as AttestationResult;
  });

const text = (chunks: readonly Buffer[]) => Buffer.concat(chunks).toString('utf8');

describe('EntryLineWriter', () => {
  it('writes the lines chainResults encodes, each ended by a newline, and the same head', () => {
    fc.assert(
      fc.property(fc.array(fc.array(result, { maxLength: 6 }), { minLength: 1, maxLength: 5 }), fc.integer({ min: 0, max: 2 ** 42 }), (batches, at) => {
        // One writer across batches, as in a ledger: its kept text must never go stale.
        const writer = new EntryLineWriter();
        let head: ChainHead = EMPTY_HEAD;
        for (const results of batches) {
          const expected = chainResults(head, results, at);
          const written = writer.write(head, results, at);
          expect(text(written.chunks)).toBe(expected.lines.map((line) => `${line}\n`).join(''));
          expect(written.head).toEqual(expected.head);
          head = written.head;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('writes the runs of results items as the lines of their results, in one chain with results written as objects', () => {
    // Now and then a field of another type (a run read from a damaged item): the general path.
    const run = fc.tuple(storedRun, fc.option(fc.constantFrom(0, 2, 3, 6, 7, 8), { freq: 6, nil: undefined })).map(([stored, broken]) => {
      if (broken === undefined) return stored;
      const members: unknown[] = [...stored];
      members[broken] = broken === 3 ? 'late' : 42;
      return members as unknown as StoredResult;
    });
    const resourceRuns: fc.Arbitrary<ResourceRunsEvidence> = fc
      .record({ resource: fc.constantFrom('org/r1', 'r"2', 'half\ud800'), resourceDigest: digest, runs: fc.array(run, { maxLength: 4 }) })
      .map((r) => ({ ...r, outputs: r.runs.map(() => undefined) }));
    const batch = fc.oneof(fc.array(resourceRuns, { maxLength: 4 }), fc.array(result, { maxLength: 4 }));
    fc.assert(
      fc.property(fc.array(batch, { minLength: 1, maxLength: 5 }), fc.integer({ min: 0, max: 2 ** 42 }), (batches, at) => {
        const writer = new EntryLineWriter();
        let head: ChainHead = EMPTY_HEAD;
        for (const b of batches) {
          const isRuns = b.length > 0 && 'runs' in (b[0] as object);
          const results = isRuns ? (b as ResourceRunsEvidence[]).flatMap((r) => r.runs.map((x) => resultOf(r.resource, r.resourceDigest, x))) : (b as AttestationResult[]);
          const expected = chainResults(head, results, at);
          const written = isRuns ? writer.writeRuns(head, b as ResourceRunsEvidence[], at) : writer.write(head, b as AttestationResult[], at);
          expect(text(written.chunks)).toBe(expected.lines.map((line) => `${line}\n`).join(''));
          expect(written.head).toEqual(expected.head);
          head = written.head;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('writes a frozen version record again when an object it holds has changed since', () => {
    const nested = { since: 1 };
    const versions = Object.freeze({ 'sc-28': nested }) as unknown as Readonly<Record<string, number>>;
    const r: AttestationResult = { resource: 'r', attestation: 'a', outcome: 'Passed', message: 'ok', executedAt: 1, durationMs: 0, attestationDigest: 'sha256:a', resourceDigest: 'sha256:b', requirementVersions: versions };
    const writer = new EntryLineWriter();
    writer.write(EMPTY_HEAD, [r], 7);
    nested.since = 2;

    expect(text(writer.write(EMPTY_HEAD, [r], 7).chunks)).toBe(`${chainResults(EMPTY_HEAD, [r], 7).lines[0]}\n`);
  });

  it('writes a version record that is not frozen again when it has changed since', () => {
    const versions: Record<string, number> = { 'sc-28': 1 };
    const r: AttestationResult = { resource: 'r', attestation: 'a', outcome: 'Passed', message: 'ok', executedAt: 1, durationMs: 0, attestationDigest: 'sha256:a', resourceDigest: 'sha256:b', requirementVersions: versions };
    const writer = new EntryLineWriter();
    writer.write(EMPTY_HEAD, [r], 7);
    versions['sc-28'] = 2;

    expect(text(writer.write(EMPTY_HEAD, [r], 7).chunks)).toBe(`${chainResults(EMPTY_HEAD, [r], 7).lines[0]}\n`);
  });

  it('writes results with inherited or unlisted keys, and results of several key orders, as chainResults does', () => {
    const base: AttestationResult = { resource: 'r', attestation: 'a', outcome: 'Passed', message: 'ok', executedAt: 1, durationMs: 0, attestationDigest: 'sha256:a', resourceDigest: 'sha256:b', requirementVersions: {} };
    const inherits = Object.assign(Object.create({ extra: 'inherited' }) as AttestationResult, base);
    const inheritsKnown = Object.assign(Object.create({ evidenceDigest: 'sha256:e' }) as AttestationResult, base);
    const { durationMs, ...rest } = base;
    const reordered: AttestationResult = { durationMs, evidenceDigest: 'sha256:c', ...rest };
    const bare = Object.assign(Object.create(null) as AttestationResult, base);
    const results = [base, inherits, base, inheritsKnown, reordered, base, bare, { ...base, unknown: 1 } as AttestationResult, base];
    const expected = chainResults(EMPTY_HEAD, results, 7).lines.map((line) => `${line}\n`).join('');

    expect(text(new EntryLineWriter().write(EMPTY_HEAD, results, 7).chunks)).toBe(expected);
  });

  it('writes results as chainResults does while Object.prototype has an enumerable result key', () => {
    const base: AttestationResult = { resource: 'r', attestation: 'a', outcome: 'Passed', message: 'ok', executedAt: 1, durationMs: 0, attestationDigest: 'sha256:a', resourceDigest: 'sha256:b', requirementVersions: {} };
    const writer = new EntryLineWriter();
    writer.write(EMPTY_HEAD, [base], 7);
    const prototype = Object.prototype as Record<string, unknown>;
    // A result without its own evidence digest would otherwise read this one.
    prototype.evidenceDigest = 'sha256:polluted';
    try {
      const expected = `${chainResults(EMPTY_HEAD, [base], 7).lines[0]}\n`;
      expect(text(writer.write(EMPTY_HEAD, [base], 7).chunks)).toBe(expected);
    } finally {
      delete prototype.evidenceDigest;
    }
  });

  it('writes a lone result whose line is longer than a line usually is', () => {
    const r: AttestationResult = { resource: 'r', attestation: 'a', outcome: 'Failed', message: 'é'.repeat(5000), executedAt: 1, durationMs: 0, attestationDigest: 'sha256:a', resourceDigest: 'sha256:b', requirementVersions: {} };

    expect(text(new EntryLineWriter().write(EMPTY_HEAD, [r], 7).chunks)).toBe(`${chainResults(EMPTY_HEAD, [r], 7).lines[0]}\n`);
  });

  it('chains across a line too long for the chunk it would have gone into', () => {
    const short = (executedAt: number): AttestationResult => ({ resource: 'r', attestation: 'a', outcome: 'Passed', message: 'ok', executedAt, durationMs: 0, attestationDigest: 'sha256:a', resourceDigest: 'sha256:b', requirementVersions: {} });
    const results = [short(1), short(2), { ...short(3), message: 'é'.repeat(5000) }, short(4), short(5)];
    const expected = chainResults(EMPTY_HEAD, results, 7).lines.map((line) => `${line}\n`).join('');

    expect(text(new EntryLineWriter().write(EMPTY_HEAD, results, 7).chunks)).toBe(expected);
  });

  it('chains onto a head whose hash is not hex as chainResults does', () => {
    const r: AttestationResult = { resource: 'r', attestation: 'a', outcome: 'Passed', message: 'ok', executedAt: 1, durationMs: 0, attestationDigest: 'sha256:a', resourceDigest: 'sha256:b', requirementVersions: {} };
    const head = { seq: 4, hash: 'not "hex"' };

    expect(text(new EntryLineWriter().write(head, [r], 7).chunks)).toBe(`${chainResults(head, [r], 7).lines[0]}\n`);
  });

  it('spreads many lines over several chunks, each line whole and readable', () => {
    const results: AttestationResult[] = Array.from({ length: 3000 }, (_, i) => ({
      resource: `org/r${i}`,
      attestation: `a${i % 7}`,
      outcome: i % 10 === 0 ? 'Failed' : 'Passed',
      // Every 1000th message is about 400 KB: a line bigger than a chunk.
      message: i % 1000 === 999 ? 'm'.repeat(400_000) : `message ${i % 3}`,
      executedAt: 1_700_000_000_000 + i,
      durationMs: i % 5,
      attestationDigest: `sha256:${'a'.repeat(64)}`,
      resourceDigest: `sha256:${'b'.repeat(64)}`,
      requirementVersions: Object.freeze({ 'sc-28': 1 }),
    }));
    const written = new EntryLineWriter().write({ seq: 0, hash: GENESIS_HASH }, results, 5);
    const lines = text(written.chunks).split('\n');

    expect(written.chunks.length).toBeGreaterThan(1);
    expect(lines.pop()).toBe('');
    expect(lines).toEqual(chainResults(EMPTY_HEAD, results, 5).lines);
    const last = parseEntryLine(lines[2999] as string);
    expect(last.ok && last.storedHash === last.actualHash && last.storedHash === written.head.hash).toBe(true);
  });
});
