import { providerMap, type ApiContext } from '../../api/context.ts';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { outputPath } from './evidence-ledger.ts';
import type { LocalRuntime } from './local-runtime.ts';

export interface LocalApiExtras {
  readonly requestReconcile?: ApiContext['requestReconcile'];
  readonly evidenceHref?: ApiContext['evidenceHref'];
}

/**
 * The API over a local runtime: the embedded store, and its live engine (the store's change feed
 * updates it synchronously on commit, so a read after a write sees the write).
 */
export function localApiContext(runtime: LocalRuntime, extras: LocalApiExtras = {}): ApiContext {
  return {
    store: runtime.store,
    providers: providerMap(runtime.providers),
    clock: runtime.clock,
    // A store that delivers its feed asynchronously (DynamoDB) is caught up first: reads see writes.
    engine: async () => {
      await runtime.store.catchUp?.();
      return runtime.engine;
    },
    ...(extras.requestReconcile ? { requestReconcile: extras.requestReconcile } : {}),
    ...(extras.evidenceHref ? { evidenceHref: extras.evidenceHref } : {}),
  };
}

/** Evidence links and reads over the runtime's evidence ledger (`<home>/evidence/outputs`). */
export function localEvidence(runtime: LocalRuntime): {
  readonly href: NonNullable<ApiContext['evidenceHref']>;
  readonly read: (hex: string) => Promise<string | undefined>;
} {
  return {
    // Linked only when the ledger holds the output (runs that bypass the ledger have a digest only).
    href: (_resource, _attestation, digest) => {
      const hex = digest.replace(/^sha256:/, '');
      return /^[0-9a-f]{64}$/.test(hex) && existsSync(join(runtime.evidence.dir, outputPath(hex))) ? `/evidence/${hex}` : undefined;
    },
    read: async (hex) => {
      try {
        return await readFile(join(runtime.evidence.dir, outputPath(hex)), 'utf8');
      } catch {
        return undefined;
      }
    },
  };
}
