/**
 * functions/stream-handler.ts as Lambda calls it: a DynamoDBStreamEvent in, ReportBatchItemFailures
 * out. Records are unmarshalled into the port's ChangeRecord shape and applied in order.
 */
import { marshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createChangeBatchHandler, createStreamHandler, type ChangeBatchHandler } from '../../functions/stream-handler.ts';
import { ComplianceEngine } from '../../src/core/compliance/engine.ts';
import { definitionKey } from '../../src/core/keys.ts';
import type { AnyDefinition } from '../../src/core/model.ts';
import type { ChangeRecord } from '../../src/core/ports/store.ts';
import { attestation, implementation, requirement, resource } from '../support/builders.ts';

const NOW = Date.UTC(2025, 0, 1);

/** Lambda's event carries attribute values as JSON: what marshall gives, once serialised. */
function lambdaImage(image: object): Record<string, AttributeValue> {
  return JSON.parse(JSON.stringify(image)) as Record<string, AttributeValue>;
}

/** A stream record as Lambda delivers it (attribute values as JSON). */
function insertRecord(def: AnyDefinition, seq: number): DynamoDBRecord {
  const key = definitionKey(def.kind, def.metadata.name);
  const image = marshall({ ...key, version: 1, data: def }, { removeUndefinedValues: true });
  return {
    eventID: `e${seq}`,
    eventName: 'INSERT',
    eventSource: 'aws:dynamodb',
    dynamodb: {
      Keys: lambdaImage(marshall(key)),
      NewImage: lambdaImage(image),
      SequenceNumber: String(100 + seq),
      ApproximateCreationDateTime: NOW / 1000,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

const defs: AnyDefinition[] = [
  requirement('encrypted'),
  attestation('enc-on'),
  implementation('enc-impl', { requirements: ['encrypted'], attestations: ['enc-on'] }),
  resource('bucket-1', 'AWS::S3::Bucket'),
  resource('bucket-2', 'AWS::S3::Bucket'),
];

describe('stream handler', () => {
  it('unmarshals DynamoDB stream records into the change records the engine applies', async () => {
    const engine = new ComplianceEngine(NOW);
    const handler = createStreamHandler(createChangeBatchHandler({ engine }));

    const response = await handler({ Records: defs.map((d, i) => insertRecord(d, i)) });

    expect(response).toEqual({ batchItemFailures: [] });
    expect([...engine.index.resources.keys()].sort()).toEqual(['bucket-1', 'bucket-2']);
    expect([...engine.dueWork()].length).toBe(2);
  });

  it('reports the first failing record by its SequenceNumber and does not apply the records after it', async () => {
    const engine = new ComplianceEngine(NOW);
    const apply = createChangeBatchHandler({ engine });
    const seen: ChangeRecord[] = [];
    const failing: ChangeBatchHandler = async (records) => {
      const at = records.findIndex((r) => r.dynamodb.Keys.sk === 'bucket-1');
      seen.push(...records);
      const outcome = await apply(records.slice(0, at));
      return { processed: outcome.processed, failure: { sequenceNumber: (records[at] as ChangeRecord).dynamodb.SequenceNumber, error: new Error('boom') } };
    };
    const reported: string[] = [];
    const handler = createStreamHandler(failing, (f) => reported.push(f.sequenceNumber));
    const event: DynamoDBStreamEvent = { Records: defs.map((d, i) => insertRecord(d, i)) };

    const response = await handler(event);

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: '103' }] });
    expect(reported).toEqual(['103']);
    expect(seen[0]).toMatchObject({ eventName: 'INSERT', dynamodb: { Keys: { pk: 'DEF#Requirement', sk: 'encrypted' }, SequenceNumber: '100', ApproximateCreationDateTime: NOW / 1000 } });
    expect(engine.index.resources.has('bucket-1')).toBe(false);
    expect(engine.index.resources.has('bucket-2')).toBe(false);
  });

  it('stops the batch at a record it cannot unmarshal and reports that record', async () => {
    const engine = new ComplianceEngine(NOW);
    const handler = createStreamHandler(createChangeBatchHandler({ engine }));
    const records = defs.slice(0, 3).map((d, i) => insertRecord(d, i));
    const broken: DynamoDBRecord = { ...records[1], dynamodb: { ...records[1]?.dynamodb, Keys: undefined } };

    const response = await handler({ Records: [records[0] as DynamoDBRecord, broken, records[2] as DynamoDBRecord] });

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: '101' }] });
    expect(engine.index.requirements.has('encrypted')).toBe(true);
    expect(engine.index.implementations.has('enc-impl')).toBe(false);
  });

  it('applying a batch a second time (a Lambda retry) leaves the same state', async () => {
    const once = new ComplianceEngine(NOW);
    const twice = new ComplianceEngine(NOW);
    const event: DynamoDBStreamEvent = { Records: defs.map((d, i) => insertRecord(d, i)) };

    await createStreamHandler(createChangeBatchHandler({ engine: once }))(event);
    const h = createStreamHandler(createChangeBatchHandler({ engine: twice }));
    await h(event);
    await h(event);

    expect(twice.snapshot()).toEqual(once.snapshot());
  });
});
