/** Options of one reconcile that would otherwise hang (batch size 0 or less) or silently do nothing (NaN). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateOrganisation } from '../../bench/generate-org.ts';
import { LocalRuntime } from '../../src/adapters/local/local-runtime.ts';
import { ArgusError } from '../../src/core/errors.ts';

describe('reconcile batch size', () => {
  let home: string;
  let runtime: LocalRuntime;

  beforeEach(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'argus-reconcile-options-'));
    runtime = await LocalRuntime.open({ home, fsync: false });
    const { definitions } = generateOrganisation({ resources: 20, requirements: 2, attestationsPerRequirement: 2, accounts: 1, servicesPerAccount: 2, failureRate: 0.5 });
    await runtime.apply(definitions);
  });

  afterEach(async () => {
    await runtime.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it.each([0, -5, Number.NaN, 2.5])('refuses batch size %s before attesting anything', async (batchSize) => {
    const error = await runtime.reconcile({ batchSize }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ArgusError);
    expect((error as ArgusError).code).toBe('INVALID_ARGUMENT');
    const summary = await runtime.reconcile({ batchSize: 3 });
    expect(summary.evaluated).toBe(40);
    expect(summary.planned).toBe(40);
  });
});
