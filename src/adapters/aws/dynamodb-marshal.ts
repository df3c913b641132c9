/**
 * Between the port's items and DynamoDB's: data goes in as JSON would store it (the embedded
 * store's semantics: undefined fields vanish, NaN becomes null), and stream images come back as
 * plain values without the index attributes.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb-streams';
import { StoreError } from '../../core/errors.ts';
import type { StoredItem } from '../../core/ports/store.ts';

/** What JSON keeps of `data`, as a fresh value (callers may mutate theirs afterwards). */
export function normaliseData(data: unknown, where: { pk: string; sk: string }): unknown {
  let text: string | undefined;
  try {
    text = JSON.stringify(data);
  } catch (cause) {
    throw new StoreError(`write data for ${where.pk} / ${where.sk} is not JSON-serialisable`, where, { cause });
  }
  return text === undefined ? null : (JSON.parse(text) as unknown);
}

/** Plain value of one DynamoDB attribute value (the Streams API returns them raw). */
export function fromAttributeValue(value: AttributeValue): unknown {
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return Number(value.N);
  if (value.BOOL !== undefined) return value.BOOL;
  if (value.NULL !== undefined) return null;
  if (value.M !== undefined) return fromAttributeMap(value.M);
  if (value.L !== undefined) return value.L.map(fromAttributeValue);
  if (value.SS !== undefined) return [...value.SS];
  if (value.NS !== undefined) return value.NS.map(Number);
  if (value.B !== undefined) return value.B;
  if (value.BS !== undefined) return [...value.BS];
  throw new StoreError('unknown DynamoDB attribute type in a stream image', { value });
}

export function fromAttributeMap(map: Record<string, AttributeValue>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(map)) out[k] = fromAttributeValue(v);
  return out;
}

/** The port's view of a table item: key, version and data; index attributes stay behind. */
export function toStoredItem(raw: Record<string, unknown>): StoredItem {
  const { pk, sk, version, data } = raw;
  if (typeof pk !== 'string' || typeof sk !== 'string' || typeof version !== 'number') {
    throw new StoreError('table item is not an Argus store item (pk, sk, version expected)', { pk, sk });
  }
  return { pk, sk, version, data: data === undefined ? null : data };
}
