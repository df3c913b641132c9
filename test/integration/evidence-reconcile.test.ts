import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEntryLine } from '#core/evidence/chain.ts';
import { resultsKey } from '#core/keys.ts';
import type { EvidenceLedger } from '#core/ports/evidence-ledger.ts';
import type { ResultsItem } from '#core/results-item.ts';
import { loadEngine } from '#core/use-cases/load-engine.ts';
import { reconcile } from '#core/use-cases/reconcile.ts';
import { EmbeddedStore } from '../../src/adapters/local/embedded-store.ts';
import { EVIDENCE_DIR, LEDGER_FILE, outputPath, verifyLocalEvidence } from '../../src/adapters/local/evidence-ledger.ts';
import { LocalRuntime } from '../../src/adapters/local/local-runtime.ts';
import { applyDefinitions } from '#core/use-cases/apply-definitions.ts';
import { defaultProviders } from '../../src/providers/registry.ts';
import { attestation, implementation, requirement, resource } from '../support/builders.ts';
import { tempDirs } from '../support/temp-dirs.ts';

const T0 = Date.UTC(2026, 10, 25);
const newDir = tempDirs('each');
const tempDir = () => newDir('argus-evidence-rec-');

function catalog() {
  return [
    resource('app', 'App'),
    resource('bucket-a', 'AWS::S3::Bucket', { parent: 'app', document: { enc: true } }),
    resource('bucket-b', 'AWS::S3::Bucket', { parent: 'app', document: { enc: false } }),
    requirement('sc-28', { appliesTo: { types: ['AWS::S3::Bucket'] }, frameworks: ['nist-800-53:SC-28'] }),
    attestation('encrypted', { resourceTypes: ['AWS::S3::Bucket'], params: { expression: 'resource.enc == true' } }),
    implementation('encrypt', { requirements: ['sc-28'], attestations: ['encrypted'], targets: { ids: ['app'] } }),
  ];
}

describe('reconcile with the evidence ledger', () => {
  it('appends every result with its output, and the results name the stored outputs', async () => {
    const home = tempDir();
    const rt = await LocalRuntime.open({ home, fsync: false, clock: { now: () => T0 } });
    try {
      await rt.apply(catalog());
      const summary = await rt.reconcile();
      expect(summary.evaluated).toBe(2);
      const results = [...rt.engine.allResults()];
      const evidenceDir = path.join(home, EVIDENCE_DIR);
      for (const r of results) {
        expect(r.evidenceDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(fs.existsSync(path.join(evidenceDir, outputPath((r.evidenceDigest ?? '').slice(7))))).toBe(true);
      }
      const entries = fs.readFileSync(path.join(evidenceDir, LEDGER_FILE), 'utf8').trim().split('\n').map(parseEntryLine);
      expect(entries.map((e) => (e.ok ? `${e.entry.result.resource}:${e.entry.result.outcome}` : 'bad')).sort()).toEqual(['bucket-a:Passed', 'bucket-b:Failed']);
    } finally {
      await rt.close();
    }
    expect(await verifyLocalEvidence(path.join(home, EVIDENCE_DIR))).toMatchObject({ ok: true, entries: 2, signedThrough: 2 });
  });

  it('commits no result when its evidence cannot be appended', async () => {
    const dir = tempDir();
    const store = await EmbeddedStore.open({ dir, fsync: false });
    try {
      await applyDefinitions(store, catalog());
      const engine = await loadEngine(store, T0);
      const failing: EvidenceLedger = {
        appendBatch: async () => {
          throw new Error('disk full');
        },
        appendRuns: async () => {
          throw new Error('disk full');
        },
        head: async () => ({ seq: 0, hash: '0'.repeat(64) }),
        checkpoint: async () => undefined,
        verify: async () => {
          throw new Error('unused');
        },
        close: async () => undefined,
      };

      await expect(reconcile({ store, engine, providers: defaultProviders(), clock: { now: () => T0 }, evidence: failing })).rejects.toThrow('disk full');

      const key = resultsKey('bucket-a');
      expect(await store.get<ResultsItem>(key.pk, key.sk)).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});
