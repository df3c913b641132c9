import type { CheckedItem } from '../checked-item.ts';
import type { ComplianceEngine } from '../compliance/engine.ts';
import { parseKey } from '../keys.ts';
import type { AnyDefinition } from '../model.ts';
import type { ChangeRecord } from '../ports/store.ts';
import type { AnyResultsItem } from '../results-item.ts';

/**
 * The stream handler: feeds committed store changes to the engine (definitions upserted or
 * removed, results replaced, checked-at times replaced or removed). The same function serves
 * the embedded store's change feed and, later, DynamoDB Streams. Applying a record twice leaves the same state (idempotent).
 */
export function applyChangeRecords(engine: ComplianceEngine, records: readonly ChangeRecord[]): void {
  // Indexed: every committed write comes through here (an iterator result per step otherwise).
  for (let i = 0; i < records.length; i++) {
    const record = records[i] as ChangeRecord;
    const { Keys, NewImage } = record.dynamodb;
    const key = parseKey(Keys.pk, Keys.sk);
    if (key.type === 'definition') {
      if (record.eventName === 'REMOVE' || !NewImage) engine.removeDefinition(key.kind, key.name);
      else engine.upsertDefinition(NewImage.data as AnyDefinition);
    } else if (key.type === 'results') {
      if (record.eventName === 'REMOVE' || !NewImage) engine.removeResults(key.resource);
      else engine.replaceResults(key.resource, NewImage.data as AnyResultsItem);
    } else if (key.type === 'checked') {
      if (record.eventName === 'REMOVE' || !NewImage) engine.removeChecked(key.resource);
      else engine.putChecked(key.resource, (NewImage.data as CheckedItem).checkedAt ?? {});
    }
  }
}
