/** One base error; each error has a stable `code` and carries its context and `cause`. */
export class ArgusError extends Error {
  readonly code: string;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, context: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ArgusError';
    this.code = code;
    this.context = context;
  }
}

/** One problem in a manifest: file, document index (1-based), field path and what is wrong. */
export interface ManifestIssue {
  readonly file: string;
  readonly doc: number;
  readonly path: string;
  readonly message: string;
}

export function formatManifestIssue(issue: ManifestIssue): string {
  const where = issue.path ? `${issue.path}: ` : '';
  return `${issue.file} doc ${issue.doc}: ${where}${issue.message}`;
}

export class ValidationError extends ArgusError {
  readonly issues: readonly ManifestIssue[];

  constructor(issues: readonly ManifestIssue[]) {
    const lines = issues.map(formatManifestIssue);
    super('VALIDATION', lines.join('\n'), { count: issues.length });
    this.name = 'ValidationError';
    this.issues = issues;
  }
}

/** An optimistic-concurrency condition did not hold: someone else wrote first. */
export class ConflictError extends ArgusError {
  constructor(message: string, context: { pk: string; sk: string; expected: unknown; actual: unknown }) {
    super('CONFLICT', message, context);
    this.name = 'ConflictError';
  }
}

export class NotFoundError extends ArgusError {
  constructor(kind: string, name: string) {
    super('NOT_FOUND', `${kind} "${name}" not found`, { kind, name });
    this.name = 'NotFoundError';
  }
}

/** The store cannot be used: corrupt files, locked by another process, closed. */
export class StoreError extends ArgusError {
  constructor(message: string, context: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('STORE', message, context, options);
    this.name = 'StoreError';
  }
}

export class ProviderError extends ArgusError {
  constructor(message: string, context: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('PROVIDER', message, context, options);
    this.name = 'ProviderError';
  }
}
