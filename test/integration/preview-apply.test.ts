/**
 * A dry run (`argus apply --dry-run`, `import cloudformation --dry-run`) must predict what the
 * apply then does: the same outcome, the same pairs due, the same compliance totals, and write
 * nothing. Each case previews a change on a reconciled organisation, then applies it for real.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateOrganisation } from '../../bench/generate-org.ts';
import { LocalRuntime } from '../../src/adapters/local/local-runtime.ts';
import { digestOf } from '../../src/core/digest.ts';
import type { AnyDefinition, Attestation, Requirement, Resource } from '../../src/core/model.ts';
import { buildReport } from '../../src/core/report.ts';
import type { ApplyOutcome, DefinitionRef } from '../../src/core/use-cases/apply-definitions.ts';
import { loadEngine } from '../../src/core/use-cases/load-engine.ts';
import { previewApply, type ApplyImpact } from '../../src/core/use-cases/preview-apply.ts';

const NOW = Date.UTC(2026, 10, 25, 12);
const { definitions } = generateOrganisation({ resources: 24, requirements: 3, attestationsPerRequirement: 2, accounts: 2, servicesPerAccount: 2, failureRate: 0.25 });
const byName = <T extends AnyDefinition>(kind: T['kind'], name: string): T => definitions.find((d) => d.kind === kind && d.metadata.name === name) as T;

describe('a dry run of an apply', () => {
  let home: string;
  let runtime: LocalRuntime;

  beforeEach(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'argus-preview-'));
    runtime = await LocalRuntime.open({ home, fsync: false, clock: { now: () => NOW } });
    await runtime.apply(definitions);
    await runtime.reconcile();
  });

  afterEach(async () => {
    await runtime.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  /** Previews the change, checks nothing moved, applies it and checks the preview was right. */
  async function previewThenApply(defs: readonly AnyDefinition[], deletes: readonly DefinitionRef[] = []): Promise<ApplyImpact & { outcome: ApplyOutcome }> {
    const before = await runtime.store.readChanges(undefined, 100_000);

    const { preview: impact, ...planned } = await previewApply(runtime.store, await loadEngine(runtime.store, NOW), defs, deletes, NOW);
    const preview = { outcome: planned, ...impact };

    expect(await runtime.store.readChanges(undefined, 100_000)).toEqual(before);
    expect([...runtime.engine.dueWork()]).toEqual([]);
    const outcome = await runtime.apply(defs, deletes);
    runtime.engine.advanceTo(NOW);
    runtime.engine.flush();
    expect(preview.outcome).toEqual(outcome);
    expect(preview.due.after).toBe([...runtime.engine.dueWork()].length);
    expect(preview.totals.after).toEqual(buildReport(runtime.engine).totals);
    expect(preview.due.now).toBe(0);
    return preview;
  }

  it('counts the pairs a new requirement version invalidates, and their compliance going Unknown', async () => {
    const req = byName<Requirement>('Requirement', 'req-1');

    const preview = await previewThenApply([{ ...req, spec: { ...req.spec, version: 2 } }]);

    expect(preview.outcome.configured).toEqual([{ kind: 'Requirement', name: 'req-1' }]);
    expect(preview.newlyDue).toEqual({ RequirementVersionChanged: 16 });
    expect(preview.totals.after.unknown).toBe(preview.totals.now.unknown + 8);
  });

  it('names a changed rule as AttestationChanged and a new resource as never attested', async () => {
    const att = byName<Attestation>('Attestation', 'req-0.rule-1');
    const sample = byName<Resource>('Resource', 'org/acct-0/svc-0/r-0');
    const document = { ...(sample.spec.document as object), size: 999 };
    const added: Resource = { ...sample, metadata: { ...sample.metadata, name: 'org/acct-0/svc-0/r-new' }, spec: { ...sample.spec, document, digest: digestOf(document) } };

    const preview = await previewThenApply([{ ...att, spec: { ...att.spec, params: { ...att.spec.params, expression: 'resource.size >= 0' } } }, added]);

    expect(preview.outcome.created).toEqual([{ kind: 'Resource', name: 'org/acct-0/svc-0/r-new' }]);
    expect(preview.newlyDue).toEqual({ AttestationChanged: 8, NeverAttested: 2 });
  });

  it('drops the pairs of a deleted resource with its results', async () => {
    const preview = await previewThenApply([], [{ kind: 'Resource', name: 'org/acct-1/svc-1/r-3' }]);

    expect(preview.outcome.deleted).toEqual([{ kind: 'Resource', name: 'org/acct-1/svc-1/r-3' }]);
    expect(preview.totals.after.pairs).toBe(preview.totals.now.pairs - 1);
    expect(preview.newlyDue).toEqual({});
  });

  it('reports an unchanged apply as unchanged, with nothing newly due', async () => {
    const preview = await previewThenApply(definitions.slice(0, 10));

    expect(preview.outcome.unchanged).toHaveLength(10);
    expect(preview.due).toEqual({ now: 0, after: 0 });
    expect(preview.totals.after).toEqual(preview.totals.now);
  });
});
