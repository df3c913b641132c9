import { describe, expect, it } from 'vitest';
import { ComplianceEngine } from '../../src/core/compliance/engine.ts';
import { checkedKey, resultsKey } from '../../src/core/keys.ts';
import type { AnyDefinition, AttestationResult } from '../../src/core/model.ts';
import type { ChangeRecord } from '../../src/core/ports/store.ts';
import { resultsItemOf, type KeyedResultsItem } from '../../src/core/results-item.ts';
import { applyChangeRecords } from '../../src/core/use-cases/apply-change-records.ts';
import { attestation, implementation, requirement, resource, resultFor } from '../support/builders.ts';

const T0 = Date.UTC(2026, 10, 25);
const HOUR = 3_600_000;

function definitions(): AnyDefinition[] {
  return [
    resource('org', 'Org'),
    resource('bucket', 'AWS::S3::Bucket', { parent: 'org' }),
    requirement('sc-28', { appliesTo: { types: ['AWS::S3::Bucket'] } }),
    attestation('encrypted', { resourceTypes: ['AWS::S3::Bucket'], freshnessMs: HOUR }),
    attestation('versioned', { resourceTypes: ['AWS::S3::Bucket'], freshnessMs: HOUR }),
    implementation('s3', { requirements: ['sc-28'], attestations: ['encrypted', 'versioned'], targets: { ids: ['org'] } }),
  ];
}

let sequence = 0;

function put(key: { pk: string; sk: string }, data: unknown): ChangeRecord {
  const SequenceNumber = String(++sequence);
  return { eventID: SequenceNumber, eventName: 'MODIFY', dynamodb: { Keys: key, NewImage: { ...key, version: sequence, data }, SequenceNumber, ApproximateCreationDateTime: 0 } };
}

function remove(key: { pk: string; sk: string }): ChangeRecord {
  const SequenceNumber = String(++sequence);
  return { eventID: SequenceNumber, eventName: 'REMOVE', dynamodb: { Keys: key, SequenceNumber, ApproximateCreationDateTime: 0 } };
}

function resultsItem(...results: AttestationResult[]): ChangeRecord {
  return put(resultsKey('bucket'), resultsItemOf('bucket', results));
}

/** A results item in the first, keyed form (written by earlier versions). */
function keyedResultsItem(...results: AttestationResult[]): ChangeRecord {
  const item: KeyedResultsItem = { resource: 'bucket', results: Object.fromEntries(results.map((r) => [r.attestation, r])) };
  return put(resultsKey('bucket'), item);
}

describe('applyChangeRecords', () => {
  it('replaces all results of a resource with those of its results item', () => {
    const engine = ComplianceEngine.load(definitions(), [], T0);
    applyChangeRecords(engine, [resultsItem(resultFor(engine, 'bucket', 'encrypted', 'Passed'), resultFor(engine, 'bucket', 'versioned', 'Failed'))]);
    applyChangeRecords(engine, [resultsItem(resultFor(engine, 'bucket', 'versioned', 'Passed'))]);
    engine.flush();
    expect([...(engine.resultsOf('bucket')?.values() ?? [])].map((r) => r.attestation)).toEqual(['versioned']);
    expect(engine.evaluation('bucket')?.attestations.get('encrypted')?.status).toBe('Pending');
    expect(engine.evaluation('bucket')?.attestations.get('versioned')?.status).toBe('Passed');
  });

  it('replaces the results of a resource from a results item in the keyed form of earlier versions', () => {
    const engine = ComplianceEngine.load(definitions(), [], T0);
    const encrypted = resultFor(engine, 'bucket', 'encrypted', 'Passed');
    const versioned = resultFor(engine, 'bucket', 'versioned', 'Failed');
    applyChangeRecords(engine, [keyedResultsItem(encrypted, versioned)]);
    engine.flush();
    expect(engine.resultsOf('bucket')?.get('encrypted')).toEqual(encrypted);
    expect(engine.resultsOf('bucket')?.get('versioned')).toEqual(versioned);
    expect(engine.evaluation('bucket')?.attestations.get('versioned')?.status).toBe('Failed');
  });

  it('merges the checked-at times of the resource into the replaced results', () => {
    const engine = ComplianceEngine.load(definitions(), [], T0);
    applyChangeRecords(engine, [put(checkedKey('bucket'), { resource: 'bucket', checkedAt: { encrypted: T0 + HOUR } })]);
    applyChangeRecords(engine, [resultsItem(resultFor(engine, 'bucket', 'encrypted', 'Passed'), resultFor(engine, 'bucket', 'versioned', 'Passed'))]);
    expect(engine.resultsOf('bucket')?.get('encrypted')?.lastCheckedAt).toBe(T0 + HOUR);
    expect(engine.resultsOf('bucket')?.get('versioned')?.lastCheckedAt).toBeUndefined();
    // Freshness counts from the later check: still Passed an hour after the run.
    engine.advanceTo(T0 + HOUR);
    engine.flush();
    expect(engine.evaluation('bucket')?.attestations.get('encrypted')?.status).toBe('Passed');
    expect(engine.evaluation('bucket')?.attestations.get('versioned')).toMatchObject({ status: 'Stale', staleReason: 'Expired' });
  });

  it('drops the results of a resource when its results item is removed', () => {
    const engine = ComplianceEngine.load(definitions(), [], T0);
    applyChangeRecords(engine, [resultsItem(resultFor(engine, 'bucket', 'encrypted', 'Passed'))]);
    engine.flush();
    applyChangeRecords(engine, [remove(resultsKey('bucket'))]);
    engine.flush();
    expect(engine.resultsOf('bucket')).toBeUndefined();
    expect(engine.evaluation('bucket')?.attestations.get('encrypted')?.status).toBe('Pending');
  });
});
