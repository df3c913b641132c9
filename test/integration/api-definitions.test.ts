import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './api-support.ts';

const requirement = (name: string, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'argus.dev/v1alpha1',
  kind: 'Requirement',
  metadata: { name },
  spec: { title: `Title of ${name}`, ...spec },
});

interface ErrorJson {
  error: { code: string; message: string; issues?: Array<{ path: string; message: string; doc?: number }> };
}

describe('definitions API', () => {
  let api: TestApi;
  beforeEach(async () => {
    api = await startTestApi();
  });
  afterEach(async () => {
    await api.close();
  });

  it('creates a requirement, returns it with its version as ETag and a Location', async () => {
    const created = await api.call('POST', '/requirements', { body: requirement('sc-28', { frameworks: ['nist-800-53:SC-28'] }) });
    expect(created.status).toBe(201);
    expect(created.headers.get('etag')).toBe('"1"');
    expect(created.headers.get('location')).toBe('/requirements/sc-28');
    const got = await api.call('GET', '/requirements/sc-28');
    expect(got.status).toBe(200);
    expect(got.headers.get('etag')).toBe('"1"');
    expect(got.json).toMatchObject({ kind: 'Requirement', metadata: { name: 'sc-28' }, spec: { version: 1, severity: 'medium', frameworks: ['nist-800-53:SC-28'] }, status: { version: 1 } });
  });

  it('answers 409 when creating a name that exists, and leaves the stored one alone', async () => {
    await api.call('POST', '/requirements', { body: requirement('ac-2') });
    const again = await api.call('POST', '/requirements', { body: requirement('ac-2', { title: 'other' }) });
    expect(again.status).toBe(409);
    const got = await api.call('GET', '/requirements/ac-2');
    expect((got.json as { spec: { title: string } }).spec.title).toBe('Title of ac-2');
  });

  it('rejects an invalid manifest with 400 and every field problem, writing nothing', async () => {
    const res = await api.call('POST', '/requirements', { body: { metadata: { name: 'bad' }, spec: { version: 0, severity: 'hgh', apliesTo: {} } } });
    expect(res.status).toBe(400);
    const issues = (res.json as ErrorJson).error.issues ?? [];
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: 'spec.title', message: 'required' },
        expect.objectContaining({ path: 'spec.version' }),
        expect.objectContaining({ path: 'spec.severity', message: expect.stringContaining('did you mean "high"') }),
        expect.objectContaining({ path: 'spec.apliesTo', message: expect.stringContaining('appliesTo') }),
      ]),
    );
    expect((await api.call('GET', '/requirements/bad')).status).toBe(404);
  });

  it('rejects a body whose kind is not the collection\'s', async () => {
    const res = await api.call('POST', '/attestations', { body: requirement('x') });
    expect(res.status).toBe(400);
    expect((res.json as ErrorJson).error.issues?.[0]?.path).toBe('kind');
  });

  it('rejects malformed JSON with 400 and a non-JSON body with 415', async () => {
    const broken = await api.call('POST', '/requirements', { text: '{"metadata": ', contentType: 'application/json' });
    expect(broken.status).toBe(400);
    expect((broken.json as ErrorJson).error.issues?.[0]?.message).toMatch(/JSON syntax error/);
    const yaml = await api.call('POST', '/requirements', { text: 'metadata: {name: a}', contentType: 'text/plain' });
    expect(yaml.status).toBe(415);
  });

  it('reports references to unknown definitions', async () => {
    const res = await api.call('POST', '/implementations', {
      body: { metadata: { name: 'impl' }, spec: { requirements: ['sc-28'], targets: {}, attestations: ['nope'] } },
    });
    expect(res.status).toBe(400);
    expect((res.json as ErrorJson).error.issues?.map((i) => i.path)).toEqual(['spec.requirements[0]', 'spec.attestations[0]']);
  });

  it('updates with a matching If-Match, refuses a stale one with 412', async () => {
    await api.call('POST', '/requirements', { body: requirement('sc-8') });
    const ok = await api.call('PUT', '/requirements/sc-8', { body: requirement('sc-8', { version: 2 }), headers: { 'if-match': '"1"' } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('etag')).toBe('"2"');
    const stale = await api.call('PUT', '/requirements/sc-8', { body: requirement('sc-8', { version: 3 }), headers: { 'if-match': '"1"' } });
    expect(stale.status).toBe(412);
    const got = await api.call('GET', '/requirements/sc-8');
    expect((got.json as { spec: { version: number } }).spec.version).toBe(2);
  });

  it('creates with PUT when absent and no If-Match is given; 404 with If-Match', async () => {
    const missing = await api.call('PUT', '/requirements/new-one', { body: requirement('new-one'), headers: { 'if-match': '"1"' } });
    expect(missing.status).toBe(404);
    const created = await api.call('PUT', '/requirements/new-one', { body: { spec: { title: 'name from the path' } } });
    expect(created.status).toBe(201);
    expect((created.json as { metadata: { name: string } }).metadata.name).toBe('new-one');
  });

  it('refuses a PUT whose body names another definition than the path', async () => {
    const res = await api.call('PUT', '/requirements/a', { body: requirement('b') });
    expect(res.status).toBe(400);
    expect((res.json as ErrorJson).error.issues?.[0]?.path).toBe('metadata.name');
  });

  it('answers 409 to the loser of two concurrent updates based on the same version', async () => {
    await api.call('POST', '/requirements', { body: requirement('race') });
    const results = await Promise.all(
      [2, 3, 4, 5].map((v) => api.call('PUT', '/requirements/race', { body: requirement('race', { version: v }), headers: { 'if-match': '"1"' } })),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.every((s) => s === 200 || s === 409 || s === 412)).toBe(true);
  });

  it('lists with limit and an opaque nextToken until the last page', async () => {
    for (const n of ['r1', 'r2', 'r3', 'r4', 'r5']) await api.call('POST', '/requirements', { body: requirement(n) });
    const names: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const res = await api.call('GET', `/requirements?limit=2${token ? `&nextToken=${encodeURIComponent(token)}` : ''}`);
      expect(res.status).toBe(200);
      const page = res.json as { items: Array<{ metadata: { name: string } }>; nextToken?: string };
      names.push(...page.items.map((i) => i.metadata.name));
      token = page.nextToken;
      pages++;
    } while (token);
    expect(names).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
    expect(pages).toBe(3);
    expect((await api.call('GET', '/requirements?limit=0')).status).toBe(400);
    expect((await api.call('GET', '/requirements?nextToken=garbage')).status).toBe(400);
  });

  it('deletes a definition, refusing while others refer to it', async () => {
    await api.call('POST', '/requirements', { body: requirement('cp-9') });
    await api.call('POST', '/waivers', {
      body: { metadata: { name: 'w' }, spec: { requirement: 'cp-9', resources: {}, reason: 'r', approver: 'a@example.com', expires: '2099-01-01T00:00:00Z' } },
    });
    const refused = await api.call('DELETE', '/requirements/cp-9');
    expect(refused.status).toBe(409);
    expect((refused.json as ErrorJson).error.message).toContain('Waiver/w');
    expect((await api.call('DELETE', '/waivers/w', { headers: { 'if-match': '"7"' } })).status).toBe(412);
    expect((await api.call('DELETE', '/waivers/w')).status).toBe(204);
    expect((await api.call('DELETE', '/requirements/cp-9')).status).toBe(204);
    expect((await api.call('GET', '/requirements/cp-9')).status).toBe(404);
    expect((await api.call('DELETE', '/requirements/cp-9')).status).toBe(404);
  });

  it('stores inline attestations with their implementation in one write and removes them with it', async () => {
    await api.call('POST', '/requirements', { body: requirement('sc-28') });
    await api.call('POST', '/resources', { body: { metadata: { name: 'stack' }, spec: { type: 'AWS::CloudFormation::Stack' } } });
    const impl = {
      metadata: { name: 'enc' },
      spec: { requirements: ['sc-28'], targets: { ids: ['stack'] }, attestations: [{ name: 'has-key', provider: 'cel', params: { expression: 'true' } }] },
    };
    expect((await api.call('POST', '/implementations', { body: impl })).status).toBe(201);
    expect((await api.call('GET', '/attestations/enc.has-key')).status).toBe(200);
    expect((await api.call('DELETE', '/implementations/enc')).status).toBe(204);
    expect((await api.call('GET', '/attestations/enc.has-key')).status).toBe(404);
  });

  it('addresses names with a slash percent-encoded', async () => {
    await api.call('POST', '/resources', { body: { metadata: { name: 'stack' }, spec: { type: 'AWS::CloudFormation::Stack' } } });
    const res = await api.call('POST', '/resources', { body: { metadata: { name: 'stack/Bucket' }, spec: { type: 'AWS::S3::Bucket', parent: 'stack' } } });
    expect(res.headers.get('location')).toBe('/resources/stack%2FBucket');
    const got = await api.call('GET', '/resources/stack%2FBucket');
    expect(got.status).toBe(200);
  });

  it('answers 404 for unknown routes and 405 with Allow for a wrong method', async () => {
    expect((await api.call('GET', '/nothing')).status).toBe(404);
    const wrong = await api.call('PATCH', '/requirements/x');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, PUT, DELETE');
  });
});

describe('API authentication', () => {
  it('requires the bearer token on every route but /healthz when one is set', async () => {
    const api = await startTestApi({ token: 's3cret' });
    try {
      expect((await api.call('GET', '/healthz')).status).toBe(200);
      const denied = await api.call('GET', '/requirements');
      expect(denied.status).toBe(401);
      expect(denied.headers.get('www-authenticate')).toBe('Bearer');
      expect((await api.call('GET', '/requirements', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await api.call('GET', '/requirements', { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
    } finally {
      await api.close();
    }
  });
});
