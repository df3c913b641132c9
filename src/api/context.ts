import type { ComplianceEngine } from '../core/compliance/engine.ts';
import type { AttestationProvider } from '../core/ports/attestation-provider.ts';
import type { Clock } from '../core/ports/clock.ts';
import type { Store } from '../core/ports/store.ts';

/** What the API handlers need; created once per Lambda module on AWS, injected locally. */
export interface ApiContext {
  readonly store: Store;
  /** Attestation providers by name (to validate `params`, and to label results). */
  readonly providers: ReadonlyMap<string, AttestationProvider>;
  readonly clock: Clock;
  /**
   * Derived state as of now, including every committed write: the live engine locally (fed
   * synchronously by the store's change feed), one loaded from the store on AWS.
   */
  engine(): Promise<ComplianceEngine>;
  /** Asks the runtime for a reconcile soon (POST /reconcile); absent where a schedule alone runs it. */
  requestReconcile?(): { readonly accepted: boolean; readonly running: boolean };
  /** Where the evidence behind a result can be read, when an evidence store is attached. */
  evidenceHref?(resource: string, attestation: string, digest: string): string | undefined;
}

/** A provider registry as a map (the registry itself is a class with `names()`/`get()`). */
export function providerMap(registry: { names(): string[]; get(name: string): AttestationProvider | undefined }): Map<string, AttestationProvider> {
  const out = new Map<string, AttestationProvider>();
  for (const name of registry.names()) {
    const p = registry.get(name);
    if (p) out.set(name, p);
  }
  return out;
}
