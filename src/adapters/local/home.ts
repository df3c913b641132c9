import { resolve } from 'node:path';

export const DEFAULT_HOME = '.argus';

/** `--home`, else `ARGUS_HOME`, else `.argus` in the working directory. */
export function resolveHome(flag?: string): string {
  return resolve(flag ?? process.env.ARGUS_HOME ?? DEFAULT_HOME);
}
