import { ArgusError } from '../core/errors.ts';

/** A resource source cannot read its input: unreadable file, invalid template or assembly. */
export class SourceError extends ArgusError {
  readonly file: string;

  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super('SOURCE', `${file}: ${problem}`, { file }, options);
    this.name = 'SourceError';
    this.file = file;
  }
}
