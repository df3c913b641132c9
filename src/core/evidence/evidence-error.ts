import { ArgusError } from '../errors.ts';

/** The evidence ledger cannot be used as asked: corrupt or truncated files, a missing key, a mismatched digest. */
export class EvidenceError extends ArgusError {
  constructor(message: string, context: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('EVIDENCE', message, context, options);
    this.name = 'EvidenceError';
  }
}

/** The chain head moved under this writer: someone else appended first, so this append was refused. */
export class EvidenceConflictError extends ArgusError {
  constructor(message: string, context: { expected: unknown; actual: unknown; file?: string }) {
    super('CONFLICT', message, context);
    this.name = 'EvidenceConflictError';
  }
}
