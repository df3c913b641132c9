/**
 * DynamoDB failures as Argus errors, and the backoff for the ones worth retrying.
 * Conditional-check failures become ConflictError naming the key; throttling that outlasts the
 * retries becomes ThrottledError; everything else StoreError with the AWS error as `cause`.
 */
import { ArgusError, ConflictError, StoreError } from '../../core/errors.ts';
import type { VersionCondition, WriteOp } from '../../core/ports/store.ts';

/** DynamoDB kept refusing for lack of capacity after every retry. Safe to retry later. */
export class ThrottledError extends ArgusError {
  constructor(message: string, context: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('THROTTLED', message, context, options);
    this.name = 'ThrottledError';
  }
}

/** More writes than one DynamoDB transaction takes (100); nothing was written. */
export class TransactionTooLargeError extends StoreError {
  constructor(writes: number, max: number) {
    super(
      `a transaction of ${writes} writes exceeds DynamoDB's limit of ${max}; nothing was written. ` +
        `Split the change into parts of at most ${max} writes (for manifests: apply the files in smaller groups; ` +
        `each part is all or nothing), or reconcile with --batch-size ${max} or less`,
      { writes, max },
    );
    this.name = 'TransactionTooLargeError';
  }
}

const THROTTLE_NAMES = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded', 'LimitExceededException']);
/** Cancellation reasons of a transaction that a later attempt may not meet. */
const RETRYABLE_REASONS = new Set(['TransactionConflict', 'ProvisionedThroughputExceeded', 'ThrottlingError', 'RequestLimitExceeded']);

export interface CancellationReason {
  readonly Code?: string;
  readonly Message?: string;
  readonly Item?: Record<string, unknown>;
}

interface AwsErrorShape {
  readonly name: string;
  readonly message: string;
  readonly CancellationReasons?: readonly CancellationReason[];
  readonly Item?: Record<string, unknown>;
}

function asAwsError(error: unknown): AwsErrorShape | undefined {
  return error instanceof Error ? (error as Error & AwsErrorShape) : undefined;
}

export function isThrottle(error: unknown): boolean {
  const e = asAwsError(error);
  if (!e) return false;
  if (THROTTLE_NAMES.has(e.name)) return true;
  return e.name === 'TransactionCanceledException' && (e.CancellationReasons ?? []).some((r) => r.Code === 'ProvisionedThroughputExceeded' || r.Code === 'ThrottlingError');
}

/** A cancelled transaction whose only obstacles were contention or capacity (no failed condition). */
export function isRetryableCancellation(error: unknown): boolean {
  const e = asAwsError(error);
  if (e?.name !== 'TransactionCanceledException') return false;
  const reasons = e.CancellationReasons ?? [];
  return reasons.some((r) => RETRYABLE_REASONS.has(r.Code ?? '')) && !reasons.some((r) => r.Code === 'ConditionalCheckFailed');
}

/** `version` of an item returned with a failed condition (raw attribute value or plain). */
function versionOf(item: Record<string, unknown> | undefined): number | 'absent' {
  const v = item?.version;
  if (typeof v === 'number') return v;
  if (typeof v === 'object' && v !== null && 'N' in v && typeof (v as { N: unknown }).N === 'string') return Number((v as { N: string }).N);
  return 'absent';
}

export function conflictFor(op: WriteOp, item: Record<string, unknown> | undefined): ConflictError {
  const expected: VersionCondition = op.ifVersion;
  const actual = versionOf(item);
  const what = expected === 'absent' ? 'to be absent' : `at version ${expected}`;
  const found = actual === 'absent' ? 'no item' : `version ${actual}`;
  return new ConflictError(`${op.type} ${op.pk} / ${op.sk}: expected the item ${what}, found ${found}`, { pk: op.pk, sk: op.sk, expected, actual });
}

/** Maps a failed write to an Argus error: the first failed condition, throttling, or a StoreError. */
export function writeError(error: unknown, ops: readonly WriteOp[], table: string): ArgusError {
  if (error instanceof ArgusError) return error;
  const e = asAwsError(error);
  if (e?.name === 'ConditionalCheckFailedException' && ops[0]) return conflictFor(ops[0], e.Item);
  if (e?.name === 'TransactionCanceledException') {
    const reasons = e.CancellationReasons ?? [];
    const index = reasons.findIndex((r) => r.Code === 'ConditionalCheckFailed');
    const op = ops[index];
    if (op) return conflictFor(op, reasons[index]?.Item);
  }
  if (isThrottle(error)) return new ThrottledError(`DynamoDB table ${table} is throttling writes; retried with backoff and gave up`, { table, writes: ops.length }, { cause: error });
  if (e?.name === 'IdempotentParameterMismatchException') {
    return new StoreError('client token was already used for different writes', { table }, { cause: error });
  }
  return storeError(error, 'write', { table, firstKey: ops[0] ? { pk: ops[0].pk, sk: ops[0].sk } : undefined });
}

export function storeError(error: unknown, what: string, context: Record<string, unknown>): ArgusError {
  if (error instanceof ArgusError) return error;
  if (isThrottle(error)) return new ThrottledError(`DynamoDB throttled a ${what}; retried with backoff and gave up`, context, { cause: error });
  const e = asAwsError(error);
  const detail = e ? `${e.name}: ${e.message}` : String(error);
  return new StoreError(`DynamoDB ${what} failed: ${detail}`, context, { cause: error });
}

export interface BackoffOptions {
  /** Attempts in all, the first included. @default 6 */
  readonly attempts?: number;
  /** @default 50 */
  readonly baseDelayMs?: number;
  /** @default 2000 */
  readonly maxDelayMs?: number;
}

/** Runs `fn`, retrying with full-jitter exponential backoff while `retryable(error)` holds. */
export async function withBackoff<T>(fn: () => Promise<T>, retryable: (error: unknown) => boolean, options: BackoffOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 6;
  const base = options.baseDelayMs ?? 50;
  const max = options.maxDelayMs ?? 2000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= attempts || !retryable(error)) throw error;
      const delay = Math.random() * Math.min(max, base * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
