import { describe, expect, it } from 'vitest';
import { ComplianceEngine } from '../../src/core/compliance/engine.ts';
import { computeDerivedState } from '../../src/core/compliance/derived-state.ts';
import type { AnyDefinition } from '../../src/core/model.ts';
import { attestation, implementation, requirement, resource, resultFor, waiver } from '../support/builders.ts';

const T0 = Date.UTC(2026, 10, 25);
const HOUR = 3_600_000;

/** org → account → bucket-a, bucket-b; encryption requirement on buckets, implemented on the org. */
function organisation(): AnyDefinition[] {
  return [
    resource('org', 'Org'),
    resource('acct', 'Account', { parent: 'org' }),
    resource('bucket-a', 'AWS::S3::Bucket', { parent: 'acct', document: { enc: true } }),
    resource('bucket-b', 'AWS::S3::Bucket', { parent: 'acct', document: { enc: false } }),
    requirement('sc-28', { appliesTo: { types: ['AWS::S3::Bucket'] } }),
    attestation('encrypted', { resourceTypes: ['AWS::S3::*'], freshnessMs: HOUR }),
    implementation('encrypt-all', { requirements: ['sc-28'], attestations: ['encrypted'], targets: { ids: ['org'] } }),
  ];
}

function engineWith(defs: AnyDefinition[] = organisation()) {
  return ComplianceEngine.load(defs, [], T0);
}

function own(engine: ComplianceEngine, res: string, req: string) {
  return engine.evaluation(res)?.requirements.get(req);
}

function attestationStatus(engine: ComplianceEngine, res: string, att: string) {
  return engine.evaluation(res)?.attestations.get(att);
}

describe('cascade down', () => {
  it('puts an implementation on a parent onto every descendant it can act on', () => {
    const engine = engineWith();
    for (const r of ['bucket-a', 'bucket-b']) {
      expect(engine.evaluation(r)?.implementations.get('encrypt-all')?.attestations).toEqual(['encrypted']);
    }
  });

  it('does not materialise an implementation where none of its attestations or requirements apply', () => {
    const engine = engineWith();
    expect(engine.evaluation('acct')?.implementations.has('encrypt-all')).toBe(false);
  });

  it('creates attestation pairs only on resources of a type the attestation can check', () => {
    const engine = engineWith();
    expect(attestationStatus(engine, 'bucket-a', 'encrypted')?.status).toBe('Pending');
    expect(attestationStatus(engine, 'acct', 'encrypted')).toBeUndefined();
  });

  it('stays on the target alone when cascade is false', () => {
    const defs = organisation().map((d) =>
      d.kind === 'Implementation' ? implementation('encrypt-all', { ...d.spec, targets: { ids: ['acct'] }, cascade: false }) : d,
    );
    const engine = engineWith(defs);
    expect(engine.evaluation('bucket-a')?.implementations.has('encrypt-all')).toBe(false);
    expect(own(engine, 'bucket-a', 'sc-28')).toMatchObject({ status: 'NonCompliant', reason: 'NoImplementation' });
  });
});

describe('requirement status', () => {
  it('is Unknown while results are pending', () => {
    expect(own(engineWith(), 'bucket-a', 'sc-28')).toMatchObject({ status: 'Unknown', reason: 'AttestationPending' });
  });

  it('is Compliant when an implementation is valid and NonCompliant when its attestation failed', () => {
    const engine = engineWith();
    engine.putResult(resultFor(engine, 'bucket-a', 'encrypted', 'Passed'));
    engine.putResult(resultFor(engine, 'bucket-b', 'encrypted', 'Failed'));
    engine.flush();
    expect(own(engine, 'bucket-a', 'sc-28')).toMatchObject({ status: 'Compliant', reason: 'Implemented' });
    expect(own(engine, 'bucket-b', 'sc-28')).toMatchObject({ status: 'NonCompliant', reason: 'AttestationFailed' });
  });

  it('reports a requirement without any implementation as a NoImplementation gap', () => {
    const engine = engineWith([...organisation(), requirement('cp-9', { appliesTo: { types: ['AWS::S3::Bucket'] } })]);
    expect(own(engine, 'bucket-a', 'cp-9')).toMatchObject({ status: 'NonCompliant', reason: 'NoImplementation' });
  });

  it('treats an Errored result as Unknown, never as Failed', () => {
    const engine = engineWith();
    engine.putResult(resultFor(engine, 'bucket-a', 'encrypted', 'Errored'));
    engine.flush();
    expect(own(engine, 'bucket-a', 'sc-28')).toMatchObject({ status: 'Unknown', reason: 'AttestationErrored' });
  });

  it('needs every required implementation class covered', () => {
    const defs = [
      ...organisation().filter((d) => d.kind !== 'Requirement'),
      requirement('sc-28', { appliesTo: { types: ['AWS::S3::Bucket'] }, requiredImplementationClasses: ['Preventative', 'Detective'] }),
    ].map((d) => (d.kind === 'Implementation' ? implementation('encrypt-all', { ...d.spec, class: 'Preventative' }) : d));
    const engine = engineWith(defs);
    expect(own(engine, 'bucket-a', 'sc-28')).toMatchObject({ status: 'NonCompliant', reason: 'MissingImplementationClass' });
  });

  it('with policy any, one passing attestation makes the implementation valid', () => {
    const defs = [
      ...organisation().filter((d) => d.kind !== 'Implementation'),
      attestation('versioned', { resourceTypes: ['AWS::S3::Bucket'] }),
      implementation('encrypt-all', { requirements: ['sc-28'], attestations: ['encrypted', 'versioned'], targets: { ids: ['org'] }, policy: 'any' }),
    ];
    const engine = engineWith(defs);
    engine.putResult(resultFor(engine, 'bucket-a', 'encrypted', 'Failed'));
    engine.putResult(resultFor(engine, 'bucket-a', 'versioned', 'Passed'));
    engine.flush();
    expect(engine.evaluation('bucket-a')?.implementations.get('encrypt-all')?.valid).toBe(true);
  });
});

describe('roll-up', () => {
  it('makes a parent only as compliant as its worst child', () => {
    const engine = engineWith();
    engine.putResult(resultFor(engine, 'bucket-a', 'encrypted', 'Passed'));
    engine.putResult(resultFor(engine, 'bucket-b', 'encrypted', 'Failed'));
    engine.flush();
    expect(engine.effective('acct')?.get('sc-28')).toEqual({ status: 'NonCompliant', reason: 'ChildNonCompliant' });
    expect(engine.effective('org')?.get('sc-28')).toEqual({ status: 'NonCompliant', reason: 'ChildNonCompliant' });
  });

  it('turns the parent compliant once the last child is fixed', () => {
    const engine = engineWith();
    engine.putResult(resultFor(engine, 'bucket-a', 'encrypted', 'Passed'));
    engine.putResult(resultFor(engine, 'bucket-b', 'encrypted', 'Failed'));
    engine.flush();
    engine.putResult(resultFor(engine, 'bucket-b', 'encrypted', 'Passed'));
    engine.flush();
    expect(engine.effective('org')?.get('sc-28')?.status).toBe('Compliant');
  });
});

describe('invalidation', () => {
  function attested() {
    const engine = engineWith();
    engine.putResult(resultFor(engine, 'bucket-a', 'encrypted', 'Passed'));
    engine.putResult(resultFor(engine, 'bucket-b', 'encrypted', 'Passed'));
    engine.flush();
    return engine;
  }

  it("marks results Stale when a requirement's version changes", () => {
    const engine = attested();
    engine.upsertDefinition(requirement('sc-28', { appliesTo: { types: ['AWS::S3::Bucket'] }, version: 2 }));
    engine.flush();
    expect(attestationStatus(engine, 'bucket-a', 'encrypted')).toMatchObject({ status: 'Stale', staleReason: 'RequirementVersionChanged' });
    expect(own(engine, 'bucket-a', 'sc-28')?.status).toBe('Unknown');
    expect([...engine.dueWork()]).toHaveLength(2);
  });

  it("marks results Stale when an attestation's spec changes", () => {
    const engine = attested();
    engine.upsertDefinition(attestation('encrypted', { resourceTypes: ['AWS::S3::*'], freshnessMs: HOUR, params: { expression: 'false' } }));
    engine.flush();
    expect(attestationStatus(engine, 'bucket-b', 'encrypted')).toMatchObject({ status: 'Stale', staleReason: 'AttestationChanged' });
  });

  it("marks only that resource's results Stale when its configuration digest changes", () => {
    const engine = attested();
    engine.upsertDefinition(resource('bucket-b', 'AWS::S3::Bucket', { parent: 'acct', document: { enc: true } }));
    engine.flush();
    expect(attestationStatus(engine, 'bucket-b', 'encrypted')).toMatchObject({ status: 'Stale', staleReason: 'ResourceChanged' });
    expect(attestationStatus(engine, 'bucket-a', 'encrypted')?.status).toBe('Passed');
  });

  it('expires a result after its freshness', () => {
    const engine = attested();
    engine.advanceTo(T0 + HOUR - 1);
    engine.flush();
    expect(attestationStatus(engine, 'bucket-a', 'encrypted')?.status).toBe('Passed');
    engine.advanceTo(T0 + HOUR);
    engine.flush();
    expect(attestationStatus(engine, 'bucket-a', 'encrypted')).toMatchObject({ status: 'Stale', staleReason: 'Expired' });
  });
});

describe('run context', () => {
  it('records every requirement of the implementations through which the attestation reaches the resource', () => {
    const engine = engineWith();
    expect(engine.runContext('bucket-a', 'encrypted')).toEqual({
      attestationDigest: engine.index.attestationDigest('encrypted'),
      resourceDigest: engine.index.resources.get('bucket-a')?.spec.digest,
      requirementVersions: { 'sc-28': 1 },
    });
    expect(engine.runContext('acct', 'encrypted')?.requirementVersions).toEqual({});
  });

  // Each case asks first, so that the change meets the contexts cached for the resources.
  it('records a requirement version bumped since the last run context', () => {
    const engine = engineWith();
    expect(engine.runContext('bucket-a', 'encrypted')?.requirementVersions).toEqual({ 'sc-28': 1 });
    engine.upsertDefinition(requirement('sc-28', { appliesTo: { types: ['AWS::S3::Bucket'] }, version: 2 }));
    expect(engine.runContext('bucket-a', 'encrypted')?.requirementVersions).toEqual({ 'sc-28': 2 });
    expect(engine.runContext('bucket-b', 'encrypted')?.requirementVersions).toEqual({ 'sc-28': 2 });
  });

  it('records the requirements of an implementation as changed since the last run context', () => {
    const engine = engineWith([...organisation(), requirement('sc-13')]);
    expect(engine.runContext('bucket-a', 'encrypted')?.requirementVersions).toEqual({ 'sc-28': 1 });
    engine.upsertDefinition(implementation('encrypt-all', { requirements: ['sc-28', 'sc-13'], attestations: ['encrypted'], targets: { ids: ['org'] } }));
    expect(engine.runContext('bucket-a', 'encrypted')?.requirementVersions).toEqual({ 'sc-28': 1, 'sc-13': 1 });
    engine.removeDefinition('Implementation', 'encrypt-all');
    expect(engine.runContext('bucket-a', 'encrypted')?.requirementVersions).toEqual({});
  });

  it('records the digest of an attestation spec changed since the last run context', () => {
    const engine = engineWith();
    const before = engine.runContext('bucket-a', 'encrypted')?.attestationDigest;
    engine.upsertDefinition(attestation('encrypted', { resourceTypes: ['AWS::S3::*'], freshnessMs: 2 * HOUR }));
    const after = engine.runContext('bucket-a', 'encrypted')?.attestationDigest;
    expect(after).toBe(engine.index.attestationDigest('encrypted'));
    expect(after).not.toBe(before);
  });

  it('drops the requirements of an attestation narrowed away from the resource type', () => {
    const engine = engineWith();
    expect(engine.runContext('bucket-a', 'encrypted')?.requirementVersions).toEqual({ 'sc-28': 1 });
    engine.upsertDefinition(attestation('encrypted', { resourceTypes: ['AWS::RDS::*'], freshnessMs: HOUR }));
    expect(engine.runContext('bucket-a', 'encrypted')?.requirementVersions).toEqual({});
  });
});

describe('waivers', () => {
  it('makes a waived pair Exempt until the waiver expires', () => {
    const defs = [...organisation(), waiver('legacy', { requirement: 'sc-28', resources: { ids: ['bucket-b'] }, expiresAt: T0 + 2 * HOUR })];
    const engine = engineWith(defs);
    expect(own(engine, 'bucket-b', 'sc-28')).toMatchObject({ status: 'Exempt', reason: 'Waived', waiver: 'legacy' });
    engine.advanceTo(T0 + 2 * HOUR);
    engine.flush();
    expect(own(engine, 'bucket-b', 'sc-28')).toMatchObject({ status: 'Unknown' });
  });
});

describe('from-scratch agreement', () => {
  it('matches computeDerivedState after a mixed sequence', () => {
    const defs = organisation();
    const engine = engineWith(defs);
    engine.putResult(resultFor(engine, 'bucket-a', 'encrypted', 'Passed'));
    engine.flush();
    expect(engine.snapshot()).toEqual(computeDerivedState(defs, [...engine.allResults()], T0));
  });
});
