/**
 * Errors the API raises besides the domain's, and the one place where errors become HTTP status
 * codes (STYLE: map to HTTP only at the edge; a 4xx shows its message, a 5xx a generic one).
 */
import { ArgusError, ConflictError, NotFoundError, ValidationError, type ManifestIssue } from '../core/errors.ts';
import { SourceError } from '../sources/source-error.ts';

/** The request names a version (If-Match) that is not the stored one. */
export class PreconditionFailedError extends ArgusError {
  constructor(message: string, context: { kind: string; name: string; expected: string; actual: number | undefined }) {
    super('PRECONDITION_FAILED', message, context);
    this.name = 'PreconditionFailedError';
  }
}

/** A request the API cannot take as sent (bad query parameter, wrong media type, no body). */
export class BadRequestError extends ArgusError {
  readonly status: 400 | 401 | 404 | 405 | 413 | 415;
  constructor(message: string, status: 400 | 401 | 404 | 405 | 413 | 415 = 400, context: Record<string, unknown> = {}) {
    super(status === 401 ? 'UNAUTHORIZED' : status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : status === 413 ? 'TOO_LARGE' : status === 404 ? 'NOT_FOUND' : status === 405 ? 'METHOD_NOT_ALLOWED' : 'BAD_REQUEST', message, context);
    this.name = 'BadRequestError';
    this.status = status;
  }
}

/** The definition is still referenced by others, so deleting it would leave them dangling. */
export class InUseError extends ArgusError {
  constructor(kind: string, name: string, readonly referencedBy: readonly string[]) {
    const shown = referencedBy.slice(0, 10).join(', ') + (referencedBy.length > 10 ? `, and ${referencedBy.length - 10} more` : '');
    super('IN_USE', `${kind} "${name}" is still referenced by ${shown}; delete or change those first`, { kind, name, referencedBy });
    this.name = 'InUseError';
  }
}

/** `file` of the issues of a single-definition request (POST, PUT). */
export const REQUEST_FILE = 'request';
/** `file` of the issues of a multi-document apply: their `doc` numbers are shown. */
export const APPLY_FILE = 'apply';

/** One field problem as the API reports it. `doc` is the 1-based document of a multi-document apply. */
export interface FieldIssue {
  readonly path: string;
  readonly message: string;
  readonly doc?: number;
}

export interface ErrorBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly issues?: readonly FieldIssue[];
  };
}

export interface HttpErrorMapping {
  readonly statusCode: number;
  readonly body: ErrorBody;
}

export const GENERIC_SERVER_ERROR = 'internal error; the server log has the details';

export function toFieldIssues(issues: readonly ManifestIssue[], withDoc: boolean): FieldIssue[] {
  return issues.map((i) => (withDoc ? { doc: i.doc, path: i.path, message: i.message } : { path: i.path, message: i.message }));
}

/** Status and body for an error; unknown errors become a 500 that reveals nothing. */
export function mapError(error: unknown): HttpErrorMapping {
  if (error instanceof ValidationError) {
    const issues = toFieldIssues(error.issues, error.issues.some((i) => i.file === APPLY_FILE));
    const message = `${issues.length} problem(s), nothing written`;
    return { statusCode: 400, body: { error: { code: error.code, message, issues } } };
  }
  if (error instanceof NotFoundError) return simple(404, error);
  if (error instanceof PreconditionFailedError) return simple(412, error);
  if (error instanceof ConflictError || error instanceof InUseError) return simple(409, error);
  if (error instanceof BadRequestError) return simple(error.status, error);
  if (error instanceof SourceError) return simple(400, error);
  return { statusCode: 500, body: { error: { code: 'INTERNAL', message: GENERIC_SERVER_ERROR } } };
}

function simple(statusCode: number, error: ArgusError): HttpErrorMapping {
  return { statusCode, body: { error: { code: error.code, message: error.message } } };
}
