/** One-line logs for the local server: JSON (for machines) or text (for people). */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  log(level: LogLevel, msg: string, fields?: LogFields): void;
}

export type LogFormat = 'json' | 'text';

export function createLogger(format: LogFormat, write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Logger {
  return {
    log(level, msg, fields = {}) {
      const time = new Date().toISOString();
      if (format === 'json') {
        write(JSON.stringify({ time, level, msg, ...fields }));
        return;
      }
      const rest = Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
        .join(' ');
      write(`${time} ${level.toUpperCase().padEnd(5)} ${msg}${rest ? ` ${rest}` : ''}`);
    },
  };
}

/** Drops everything (tests). */
export const silentLogger: Logger = { log: () => undefined };
