/**
 * The API's middy stack: JSON bodies in, errors out. Middleware first, handler last; onError runs
 * in reverse order, so `mapErrors` turns domain errors into HTTP errors before
 * http-error-handler renders them (a 4xx shows its message, a 5xx a generic one).
 */
import middy from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import jsonBodyParser from '@middy/http-json-body-parser';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ValidationError } from '../core/errors.ts';
import { GENERIC_SERVER_ERROR, mapError, REQUEST_FILE, type ErrorBody } from './errors.ts';

/** The event as handlers see it: a JSON body is already parsed, other bodies stay text. */
export type ApiEvent = Omit<APIGatewayProxyEventV2, 'body'> & { body?: unknown };
export type ApiResult = APIGatewayProxyStructuredResultV2;

/** Receives 5xx errors with their cause (the response reveals nothing). */
export type ErrorLogger = (error: unknown, event: { readonly routeKey: string; readonly requestId: string }) => void;

export const defaultErrorLogger: ErrorLogger = (error, event) => {
  const detail = error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : { message: String(error) };
  console.error(JSON.stringify({ level: 'error', msg: 'request failed', routeKey: event.routeKey, requestId: event.requestId, error: detail }));
};

interface MiddyHttpError extends Error {
  statusCode: number;
  expose?: boolean;
  cause?: unknown;
}

/** What http-error-handler renders: statusCode, expose and the message as the body. */
class RenderedHttpError extends Error implements MiddyHttpError {
  readonly expose = true;
  constructor(
    readonly statusCode: number,
    body: ErrorBody,
  ) {
    super(JSON.stringify(body));
    this.name = 'RenderedHttpError';
  }
}

function isMiddyHttpError(error: unknown): error is MiddyHttpError {
  return error instanceof Error && typeof (error as Partial<MiddyHttpError>).statusCode === 'number';
}

/** Translates errors thrown by the body parser (415 for bad JSON) into the API's shapes. */
function normalise(error: unknown): unknown {
  if (!isMiddyHttpError(error)) return error;
  if (error.message === 'Invalid or malformed JSON was provided') {
    const cause = error.cause as { message?: unknown } | undefined;
    const why = typeof cause?.message === 'string' ? `: ${cause.message}` : '';
    return new ValidationError([{ file: REQUEST_FILE, doc: 1, path: '', message: `JSON syntax error${why}` }]);
  }
  return error;
}

function mapErrors(logger: ErrorLogger): middy.MiddlewareObj<ApiEvent, ApiResult> {
  return {
    name: 'argus-map-errors',
    onError: (request) => {
      if (request.response !== undefined && request.response !== null) return;
      const error = normalise(request.error);
      if (isMiddyHttpError(error) && error.statusCode < 500) {
        const body: ErrorBody = { error: { code: error.name.replace(/Error$/, '').replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase(), message: error.message } };
        request.error = new RenderedHttpError(error.statusCode, body);
        return;
      }
      const mapped = mapError(error);
      if (mapped.statusCode >= 500) logger(request.error, { routeKey: request.event.routeKey, requestId: request.event.requestContext?.requestId ?? '' });
      request.error = new RenderedHttpError(mapped.statusCode, mapped.body);
    },
  };
}

export interface HandlerOptions {
  readonly logger?: ErrorLogger;
}

/** Wraps a route handler with the API's middleware. */
export function withApiMiddleware(
  handler: (event: ApiEvent) => Promise<ApiResult>,
  options: HandlerOptions = {},
): middy.MiddyfiedHandler<APIGatewayProxyEventV2, ApiResult> {
  const fallback: ErrorBody = { error: { code: 'INTERNAL', message: GENERIC_SERVER_ERROR } };
  // timeoutEarlyInMillis 0: the local server passes no Lambda deadline; API Gateway has its own.
  return middy<APIGatewayProxyEventV2, ApiResult>({ timeoutEarlyInMillis: 0 })
    .use(httpErrorHandler({ logger: false, fallbackMessage: JSON.stringify(fallback) }))
    .use(mapErrors(options.logger ?? defaultErrorLogger))
    .use(jsonBodyParser({ disableContentTypeError: true }))
    .handler(async (event) => handler(event as ApiEvent));
}

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): ApiResult {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}
