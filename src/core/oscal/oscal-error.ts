import { ArgusError } from '../errors.ts';

/** An OSCAL document Argus cannot import or produce: names the file and the JSON path. */
export class OscalError extends ArgusError {
  constructor(message: string, context: { file?: string; path?: string } & Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('OSCAL', message, context, options);
    this.name = 'OscalError';
  }
}
