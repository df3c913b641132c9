/**
 * The change-feed handler: committed store changes → engine (invalidate, cascade). DynamoDB
 * Streams drive it on AWS through Lambda's event source mapping; the local feed pump
 * (src/adapters/local/feed-pump.ts) drives the same `createChangeBatchHandler` from the embedded
 * store's feed. Partial batch failure as Lambda's ReportBatchItemFailures expects: records are
 * applied in order and the first failing record's SequenceNumber is reported, so the retry starts
 * there and the records before it are not processed twice.
 */
import type { AttributeValue as SdkAttributeValue, _Record as SdkStreamRecord } from '@aws-sdk/client-dynamodb-streams';
import type { AttributeValue as LambdaAttributeValue, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { toChangeRecord } from '../src/adapters/aws/dynamodb-stream.ts';
import type { ComplianceEngine } from '../src/core/compliance/engine.ts';
import type { ChangeRecord } from '../src/core/ports/store.ts';
import { applyChangeRecords } from '../src/core/use-cases/apply-change-records.ts';
import { resolveDeps, type DepsSource } from './reconcile-contract.ts';

/** What a batch handler reports: how many records it applied, and the first one that failed. */
export interface ChangeBatchOutcome {
  /** Records applied, from the start of the batch, before the failure (all when none). */
  readonly processed: number;
  readonly failure?: { readonly sequenceNumber: string; readonly error: unknown };
}

/** Handles one batch of change records in order; must not skip a record silently. */
export type ChangeBatchHandler = (records: readonly ChangeRecord[]) => Promise<ChangeBatchOutcome>;

export interface ChangeHandlerDeps {
  readonly engine: ComplianceEngine;
}

/**
 * Applies each record to the engine in order (idempotent per record), stops at the first that
 * fails, then flushes so the cascade and roll-up of what was applied are computed.
 */
export function createChangeBatchHandler(deps: DepsSource<ChangeHandlerDeps>): ChangeBatchHandler {
  return async (records) => {
    const { engine } = await resolveDeps(deps);
    let processed = 0;
    let failure: ChangeBatchOutcome['failure'];
    for (const record of records) {
      try {
        applyChangeRecords(engine, [record]);
      } catch (error) {
        failure = { sequenceNumber: record.dynamodb.SequenceNumber, error };
        break;
      }
      processed++;
    }
    engine.flush();
    return failure ? { processed, failure } : { processed };
  };
}

/**
 * The Lambda handler around a batch handler: unmarshals the stream records into the port's
 * ChangeRecord shape and reports the first record that could not be unmarshalled or applied.
 */
export function createStreamHandler(handle: ChangeBatchHandler, onFailure?: (failure: { sequenceNumber: string; error: unknown }) => void): (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse> {
  return async (event) => {
    const records: ChangeRecord[] = [];
    let unreadable: { sequenceNumber: string; error: unknown } | undefined;
    for (const raw of event.Records ?? []) {
      try {
        records.push(toChangeRecord(toSdkRecord(raw)));
      } catch (error) {
        // Without a sequence number Lambda cannot resume at the record: fail the whole batch.
        const sequenceNumber = raw.dynamodb?.SequenceNumber;
        if (sequenceNumber === undefined) throw error;
        unreadable = { sequenceNumber, error };
        break;
      }
    }
    const outcome = records.length > 0 ? await handle(records) : { processed: 0 };
    const failure = outcome.failure ?? unreadable;
    if (!failure) return { batchItemFailures: [] };
    onFailure?.(failure);
    return { batchItemFailures: [{ itemIdentifier: failure.sequenceNumber }] };
  };
}

/** Lambda delivers stream records with JSON attribute values (binary as base64). */
export function toSdkRecord(raw: DynamoDBRecord): SdkStreamRecord {
  const d = raw.dynamodb;
  return {
    eventID: raw.eventID,
    eventName: raw.eventName,
    eventSource: raw.eventSource,
    awsRegion: raw.awsRegion,
    dynamodb: d && {
      Keys: d.Keys && toSdkMap(d.Keys),
      NewImage: d.NewImage && toSdkMap(d.NewImage),
      OldImage: d.OldImage && toSdkMap(d.OldImage),
      SequenceNumber: d.SequenceNumber,
      SizeBytes: d.SizeBytes,
      StreamViewType: d.StreamViewType,
      ApproximateCreationDateTime: d.ApproximateCreationDateTime === undefined ? undefined : new Date(d.ApproximateCreationDateTime * 1000),
    },
  };
}

function toSdkMap(map: Readonly<Record<string, LambdaAttributeValue>>): Record<string, SdkAttributeValue> {
  const out: Record<string, SdkAttributeValue> = {};
  for (const [k, v] of Object.entries(map)) out[k] = toSdkValue(v);
  return out;
}

function toSdkValue(v: LambdaAttributeValue): SdkAttributeValue {
  if (v.S !== undefined) return { S: v.S };
  if (v.N !== undefined) return { N: v.N };
  if (v.BOOL !== undefined) return { BOOL: v.BOOL };
  if (v.NULL !== undefined) return { NULL: v.NULL };
  if (v.M !== undefined) return { M: toSdkMap(v.M) };
  if (v.L !== undefined) return { L: v.L.map(toSdkValue) };
  if (v.SS !== undefined) return { SS: v.SS };
  if (v.NS !== undefined) return { NS: v.NS };
  if (v.B !== undefined) return { B: Buffer.from(v.B, 'base64') };
  if (v.BS !== undefined) return { BS: v.BS.map((b) => Buffer.from(b, 'base64')) };
  return { $unknown: ['unknown', v] };
}

/**
 * AWS (index.handler): each batch is applied to an engine loaded from the table for this
 * invocation. Nothing on the table is derived from the stream yet (docs/dynamodb-table-design.md:
 * no `dueAt`, `PAIR#` or `CHECKED#` writes; the function's access is read-only), so on AWS this
 * checks that every record unmarshals and applies, and reports the first that does not so Lambda
 * retries from it and finally parks it on the on-failure queue. It costs one engine load per batch.
 */
export const handler = createStreamHandler(
  createChangeBatchHandler(async () => (await import('../src/adapters/aws/lambda-config.ts')).lambdaEngineDeps()),
  ({ sequenceNumber, error }) => console.error(`stream-handler: record ${sequenceNumber} not applied; Lambda retries the batch from it`, error),
);
