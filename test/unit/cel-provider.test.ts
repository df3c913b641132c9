import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deepFreeze } from '../../src/adapters/local/deep-freeze.ts';
import { digestOf } from '../../src/core/digest.ts';
import { API_VERSION, type Attestation, type Resource } from '../../src/core/model.ts';
import { CelProvider, type CompiledCel } from '../../src/providers/cel-provider.ts';
import { defaultProviders, ProviderRegistry } from '../../src/providers/registry.ts';

function bucket(document: unknown, labels: Record<string, string> = {}): Resource {
  return {
    apiVersion: API_VERSION,
    kind: 'Resource',
    metadata: { name: 'app/Logs', labels },
    spec: { type: 'AWS::S3::Bucket', parent: 'app', classes: [], document, digest: digestOf(document) },
  };
}

function celAttestation(params: Record<string, unknown>, timeoutMs = 10_000): Attestation {
  return {
    apiVersion: API_VERSION,
    kind: 'Attestation',
    metadata: { name: 'check', labels: {} },
    spec: { provider: 'cel', params, resourceTypes: [], freshnessMs: 3_600_000, timeoutMs },
  };
}

function compiled(cel: CelProvider, expression: string): CompiledCel {
  const result = cel.compile(expression);
  if (!result.ok) throw new Error(result.error);
  return result.compiled;
}

const list = (n: number): string => `[${Array.from({ length: n }, (_, i) => i).join(',')}]`;

const encrypted = {
  BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }] },
  VersioningConfiguration: { Status: 'Enabled' },
  Tags: Array.from({ length: 300 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })),
};

describe('CelProvider', () => {
  it('passes when the expression is true', () => {
    const cel = new CelProvider();

    const outcome = cel.attest(celAttestation({ expression: "resource.VersioningConfiguration.Status == 'Enabled'" }), bucket(encrypted));

    expect(outcome.outcome).toBe('Passed');
  });

  it('fails with the message param when the expression is false', () => {
    const cel = new CelProvider();
    const check = celAttestation({ expression: 'has(resource.BucketEncryption)', message: 'bucket is not encrypted' });

    const outcome = cel.attest(check, bucket({}));

    expect(outcome).toMatchObject({ outcome: 'Failed', message: 'bucket is not encrypted' });
  });

  it('fails with a default message naming the expression and the resource', () => {
    const cel = new CelProvider();

    const outcome = cel.attest(celAttestation({ expression: 'has(resource.BucketEncryption)' }), bucket({}));

    expect(outcome.message).toBe('expression has(resource.BucketEncryption) is false for app/Logs');
  });

  it('errors on a missing field, while has() turns absence into false', () => {
    const cel = new CelProvider();

    const missing = cel.attest(celAttestation({ expression: "resource.VersioningConfiguration.Status == 'Enabled'" }), bucket({}));
    const guarded = cel.attest(
      celAttestation({ expression: "has(resource.VersioningConfiguration) && resource.VersioningConfiguration.Status == 'Enabled'" }),
      bucket({}),
    );

    expect(missing).toMatchObject({ outcome: 'Errored', message: expect.stringContaining('VersioningConfiguration') });
    expect(guarded.outcome).toBe('Failed');
  });

  it('errors when the result is not a bool, or on a runtime error', () => {
    const cel = new CelProvider();

    expect(cel.attest(celAttestation({ expression: 'resource.Tags' }), bucket(encrypted))).toMatchObject({
      outcome: 'Errored',
      message: 'expression must return a bool, got list',
    });
    expect(cel.attest(celAttestation({ expression: '1 / 0 == 1' }), bucket({})).outcome).toBe('Errored');
  });

  it('sees type, name and labels', () => {
    const cel = new CelProvider();
    const expression = "type == 'AWS::S3::Bucket' && name.startsWith('app/') && labels['argus.dev/stack'] == 'app'";

    expect(cel.attest(celAttestation({ expression }), bucket({}, { 'argus.dev/stack': 'app' })).outcome).toBe('Passed');
    expect(cel.attest(celAttestation({ expression }), bucket({}, {})).outcome).toBe('Errored');
  });

  it('compares CloudFormation numbers (doubles) with int literals', () => {
    const cel = new CelProvider();
    const logGroup = bucket({ RetentionInDays: 365 });

    expect(cel.attest(celAttestation({ expression: 'resource.RetentionInDays >= 365' }), logGroup).outcome).toBe('Passed');
  });

  it('gives a frozen document, run by rule after rule, the outcomes the library gives a fresh copy of it', () => {
    const expressions = ['has(resource.a)', 'resource.a == 1', 'size(resource) > 1', '"b" in resource', 'resource.b.exists(x, x == true)', 'has(resource.a.c)', 'resource == {}'];
    const key = fc.constantFrom('a', 'b', 'c', 'constructor', '$typeName', 'toString');
    const document = fc.dictionary(key, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 });
    fc.assert(
      fc.property(fc.array(document, { minLength: 1, maxLength: 4 }), (documents) => {
        // The runtime's documents are frozen; one provider runs every rule on one, then the next.
        const cel = new CelProvider();
        for (const doc of documents) {
          const frozen = bucket(deepFreeze(structuredClone(doc)));
          for (const expression of expressions) {
            const attestation = celAttestation({ expression });
            const seen = cel.attest(attestation, frozen);
            const fresh = new CelProvider().attest(attestation, bucket(structuredClone(doc)));
            expect({ outcome: seen.outcome, message: seen.message }).toEqual({ outcome: fresh.outcome, message: fresh.message });
          }
        }
      }),
    );
  });

  it('sees a change to a document that is not frozen between two runs on it', () => {
    const cel = new CelProvider();
    const document: Record<string, unknown> = { Status: 'Suspended' };
    const versioned = bucket(document);
    const rule = celAttestation({ expression: 'resource.Status == "Enabled"' });

    expect(cel.attest(rule, versioned).outcome).toBe('Failed');
    document.Status = 'Enabled';
    expect(cel.attest(rule, versioned).outcome).toBe('Passed');
  });

  it('compiles an expression once and reuses it', () => {
    const cel = new CelProvider();

    const first = cel.compile('true');
    const second = cel.compile('true');

    expect(second).toBe(first);
  });

  it('prepares a check once, bound to the params it was prepared with, for every resource', () => {
    const cel = new CelProvider({ limits: { maxIterations: 50 } });
    const cases: Array<[params: Record<string, unknown>, outcomes: string[]]> = [
      [{ expression: "resource.VersioningConfiguration.Status == 'Enabled'" }, ['Passed', 'Errored']],
      [{ expression: 'has(resource.BucketEncryption)', message: 'bucket not encrypted' }, ['Passed', 'Failed: bucket not encrypted']],
      [{ expression: 'labels.env == "prod"' }, ['Passed', 'Errored']],
      [{ expression: `${list(100)}.all(x, x >= 0)` }, ['Errored', 'Errored']],
      [{ expression: '1 + 1' }, ['Errored: expression must return a bool, got int', 'Errored: expression must return a bool, got int']],
      [{ expression: 'has(resource.' }, ['Errored', 'Errored']],
      [{ expression: 42 }, ['Errored: param expression must be a string', 'Errored: param expression must be a string']],
    ];
    const resources = [deepFreeze(bucket(structuredClone(encrypted), { env: 'prod' })), bucket({})];
    for (const [params, expected] of cases) {
      const own: Record<string, unknown> = { ...params };
      const check = cel.prepare(celAttestation(own));
      // Changing the params afterwards changes nothing: they were read when prepared.
      own.expression = 'false';
      const seen = resources.map((r) => check(r)).map((o, i) => (expected[i]?.includes(':') ? `${o.outcome}: ${o.message}` : o.outcome));
      expect(seen, String(params.expression)).toEqual(expected);
    }
  });

  describe('validateParams', () => {
    it('accepts a valid expression and message', () => {
      expect(new CelProvider().validateParams({ expression: 'has(resource.A)', message: 'no A' })).toEqual([]);
    });

    it('reports a syntax error with its position', () => {
      const problems = new CelProvider().validateParams({ expression: 'resource.a = 1' });

      expect(problems).toEqual([['expression', 'syntax error at 1:12: found = but expecting end of input']]);
    });

    it('reports a missing or mistyped expression, a mistyped message and unknown params', () => {
      const cel = new CelProvider();

      expect(cel.validateParams({})).toEqual([['expression', 'required']]);
      expect(cel.validateParams({ expression: 3, message: true, expresion: 'x' })).toEqual([
        ['expression', 'must be a string, got number'],
        ['message', 'must be a string, got boolean'],
        ['expresion', 'unknown parameter (expected expression, message)'],
      ]);
    });
  });

  describe('bounds on hostile expressions', () => {
    it('rejects comprehensions nested deeper than the limit', () => {
      const nested = `${list(3)}.all(a, ${list(3)}.all(b, ${list(3)}.all(c, ${list(3)}.all(d, true))))`;

      const [problem] = new CelProvider().validateParams({ expression: nested });

      expect(problem?.[1]).toMatch(/nested 4 deep, the limit is 3/);
    });

    it('rejects nested loops over literal lists whose iterations exceed the budget', () => {
      const nested = `${list(60)}.all(a, ${list(60)}.all(b, ${list(60)}.exists(c, c < 0)))`;

      const [problem] = new CelProvider().validateParams({ expression: nested });

      expect(problem?.[1]).toMatch(/at least \d+ loop iterations, the limit is 100000/);
    });

    it('rejects over-long and too deeply nested expressions', () => {
      const cel = new CelProvider();

      expect(cel.validateParams({ expression: `true || ${'x'.repeat(5000)}` })[0]?.[1]).toMatch(/characters long/);
      expect(cel.validateParams({ expression: `${'('.repeat(1500)}1${')'.repeat(1500)} == 1` })[0]?.[1]).toMatch(
        /nested too deeply|nodes/,
      );
    });

    it('stops loops over document data at the iteration budget', () => {
      const cel = new CelProvider({ limits: { maxEvalMs: 10_000 } });
      const cube = compiled(cel, 'resource.Tags.all(a, resource.Tags.all(b, resource.Tags.all(c, c.Value == "v")))');

      const started = performance.now();
      const outcome = cel.evaluate(cube, bucket(encrypted));

      expect(outcome).toMatchObject({ outcome: 'Errored', message: 'evaluation exceeded 100000 loop iterations' });
      expect(performance.now() - started).toBeLessThan(5_000);
    });

    it('stops list building at the time budget', () => {
      const cel = new CelProvider({ limits: { maxEvalMs: 50, maxIterations: 1e12 } });
      const blowUp = compiled(cel, 'resource.Tags.map(a, resource.Tags.map(b, resource.Tags.map(c, resource.Tags))).size() > 0');

      const started = performance.now();
      const outcome = cel.evaluate(blowUp, bucket(encrypted));

      expect(outcome).toMatchObject({ outcome: 'Errored', message: 'evaluation exceeded its time budget' });
      expect(performance.now() - started).toBeLessThan(5_000);
    });

    it('still errors when || or && would absorb the budget error', () => {
      const cel = new CelProvider();
      const absorbed = compiled(cel, 'resource.Tags.all(a, resource.Tags.all(b, resource.Tags.all(c, true))) || true');

      expect(cel.evaluate(absorbed, bucket(encrypted)).outcome).toBe('Errored');
    });

    it('uses the attestation timeout when it is shorter than the provider budget', () => {
      const cel = new CelProvider({ limits: { maxIterations: 1e12 } });
      const check = celAttestation({ expression: 'resource.Tags.all(a, resource.Tags.all(b, resource.Tags.all(c, true)))' }, 20);

      const started = performance.now();
      const outcome = cel.attest(check, bucket(encrypted));

      expect(outcome.message).toBe('evaluation exceeded its time budget');
      expect(performance.now() - started).toBeLessThan(5_000);
    });

    it('matches regexes in linear time (RE2), so a backtracking pattern cannot hang', () => {
      const cel = new CelProvider();
      const redos = compiled(cel, `'${'a'.repeat(3000)}!'.matches('^(a+)+$')`);

      const started = performance.now();
      const outcome = cel.evaluate(redos, bucket({}));

      expect(outcome.outcome).toBe('Failed');
      expect(performance.now() - started).toBeLessThan(5_000);
    });

    it('resets the budget between evaluations', () => {
      const cel = new CelProvider({ limits: { maxIterations: 500 } });
      const loop = compiled(cel, 'resource.Tags.all(t, t.Value == "v")');

      expect(cel.evaluate(loop, bucket(encrypted)).outcome).toBe('Passed');
      expect(cel.evaluate(loop, bucket(encrypted)).outcome).toBe('Passed');
    });
  });
});

describe('ProviderRegistry', () => {
  it('registers cel by default and returns undefined for unknown names', () => {
    const registry = defaultProviders();

    expect(registry.get('cel')).toBeInstanceOf(CelProvider);
    expect(registry.get('cell')).toBeUndefined();
    expect(registry.names()).toEqual(['cel', 'http']);
  });

  it('replaces a provider registered under the same name', () => {
    const first = new CelProvider();
    const second = new CelProvider();

    const registry = new ProviderRegistry([first]).register(second);

    expect(registry.get('cel')).toBe(second);
  });
});
