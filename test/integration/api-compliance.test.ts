import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './api-support.ts';

const manifests = [
  { kind: 'Requirement', metadata: { name: 'sc-28' }, spec: { title: 'At rest', frameworks: ['nist-800-53:SC-28'], appliesTo: { types: ['AWS::S3::Bucket'] } } },
  { kind: 'Resource', metadata: { name: 'stack' }, spec: { type: 'AWS::CloudFormation::Stack' } },
  { kind: 'Resource', metadata: { name: 'stack/Good' }, spec: { type: 'AWS::S3::Bucket', parent: 'stack', document: { Encrypted: true } } },
  { kind: 'Resource', metadata: { name: 'stack/Bad' }, spec: { type: 'AWS::S3::Bucket', parent: 'stack', document: {} } },
  {
    kind: 'Implementation',
    metadata: { name: 'enc' },
    spec: { requirements: ['sc-28'], targets: { ids: ['stack'] }, attestations: [{ name: 'encrypted', provider: 'cel', params: { expression: 'has(resource.Encrypted)', message: 'not encrypted' } }] },
  },
].map((m) => ({ apiVersion: 'argus.dev/v1alpha1', ...m }));

describe('compliance API', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
    const applied = await api.call('POST', '/apply', { body: manifests });
    expect(applied.status).toBe(200);
    await api.runtime.reconcile();
  });
  afterAll(async () => {
    await api.close();
  });

  it('rolls a non-compliant child up to its parent and lists the children', async () => {
    const res = await api.call('GET', '/compliance/resources/stack');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      resource: 'stack',
      effectiveStatus: 'NonCompliant',
      requirements: [{ requirement: 'sc-28', effectiveStatus: 'NonCompliant', effectiveReason: 'ChildNonCompliant' }],
      children: [
        { resource: 'stack/Bad', requirements: [{ requirement: 'sc-28', effectiveStatus: 'NonCompliant' }] },
        { resource: 'stack/Good', requirements: [{ requirement: 'sc-28', effectiveStatus: 'Compliant' }] },
      ],
    });
  });

  it('summarises a requirement with a page of its pairs', async () => {
    const res = await api.call('GET', '/compliance/requirements/sc-28?limit=1');
    const body = res.json as { summary: { ratio: number; applicable: number }; pairs: { items: Array<{ resource: string }>; nextToken?: string } };
    expect(body.summary).toMatchObject({ applicable: 2, ratio: 0.5 });
    expect(body.pairs.items).toHaveLength(1);
    const next = await api.call('GET', `/compliance/requirements/sc-28?limit=1&nextToken=${encodeURIComponent(body.pairs.nextToken ?? '')}`);
    expect((next.json as typeof body).pairs.items[0]?.resource).not.toBe(body.pairs.items[0]?.resource);
  });

  it('answers per framework control, case-insensitively, and 404 for an unmapped one', async () => {
    const res = await api.call('GET', '/compliance/frameworks/nist-800-53/controls/sc-28');
    expect(res.json).toMatchObject({ status: 'NonCompliant', requirements: [{ requirement: 'sc-28' }] });
    expect((await api.call('GET', '/compliance/frameworks/nist-800-53/controls/AC-2')).status).toBe(404);
  });

  it('lists a resource\'s results with message and evidence digest', async () => {
    const res = await api.call('GET', `/resources/${encodeURIComponent('stack/Bad')}/results`);
    expect(res.json).toMatchObject({
      resource: 'stack/Bad',
      results: [{ attestation: 'enc.encrypted', provider: 'cel', status: 'Failed', result: { outcome: 'Failed', message: 'not encrypted', requirementVersions: { 'sc-28': 1 } }, evidence: { digest: expect.stringMatching(/^sha256:/) } }],
    });
    expect((await api.call('GET', '/resources/nope/results')).status).toBe(404);
  });

  it('previews an apply on ?dryRun=true: the pairs a new version invalidates, and nothing written', async () => {
    const bumped = manifests.map((m) => (m.kind === 'Requirement' ? { ...m, spec: { ...m.spec, version: 2 } } : m));
    const before = await api.call('GET', '/compliance/requirements/sc-28');

    const res = await api.call('POST', '/apply?dryRun=true', { body: bumped });

    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      configured: [{ kind: 'Requirement', name: 'sc-28' }],
      preview: {
        // The attestation has no resource types, so the stack runs it too: three runs, two requirement pairs.
        due: { now: 0, after: 3 },
        newlyDue: { RequirementVersionChanged: 3 },
        totals: { now: { pairs: 2, compliant: 1, nonCompliant: 1, unknown: 0 }, after: { pairs: 2, compliant: 0, nonCompliant: 0, unknown: 2 } },
      },
    });
    expect((await api.call('GET', '/requirements/sc-28')).json).toMatchObject({ spec: { version: 1 } });
    const { generatedAt: _then, ...stateBefore } = before.json as Record<string, unknown>;
    const { generatedAt: _now, ...stateAfter } = (await api.call('GET', '/compliance/requirements/sc-28')).json as Record<string, unknown>;
    expect(stateAfter).toEqual(stateBefore);
  });

  it('validates a whole apply and writes nothing when one document is bad', async () => {
    const res = await api.call('POST', '/apply', {
      text: 'apiVersion: argus.dev/v1alpha1\nkind: Requirement\nmetadata: {name: ok-one}\nspec: {title: t}\n---\napiVersion: argus.dev/v1alpha1\nkind: Requirement\nmetadata: {name: bad-one}\nspec: {titel: t}\n',
    });
    expect(res.status).toBe(400);
    expect((res.json as { error: { issues: Array<{ doc: number; path: string }> } }).error.issues).toEqual(
      expect.arrayContaining([expect.objectContaining({ doc: 2, path: 'spec.titel' })]),
    );
    expect((await api.call('GET', '/requirements/ok-one')).status).toBe(404);
  });
});
