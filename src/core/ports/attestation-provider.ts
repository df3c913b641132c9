import type { Attestation, AttestationOutcome, Resource } from '../model.ts';

/** What one provider run returns for one (resource, attestation) pair. */
export interface ProviderOutcome {
  readonly outcome: AttestationOutcome;
  /** Says what failed or why it errored; "ok" style text on a pass. */
  readonly message: string;
  /** Full output kept as evidence (small JSON-serialisable value). */
  readonly output?: unknown;
}

/**
 * An attestation provider checks one resource against one attestation's params.
 * It must not throw for a failing check: a failing check is `Failed`, a check that could not be
 * made (bad params, unreachable target, timeout) is `Errored`.
 */
export interface AttestationProvider {
  /** The name manifests use in `spec.provider`. */
  readonly name: string;
  /** Validates params at apply time; returns problems as [fieldPath relative to params, message]. */
  validateParams(params: Readonly<Record<string, unknown>>): Array<[path: string, message: string]>;
  attest(attestation: Attestation, resource: Resource): Promise<ProviderOutcome> | ProviderOutcome;
  /**
   * Optional: the check of one attestation made ready to run on many resources (its params read
   * and compiled once), giving the same outcomes as `attest`. A reconcile prepares each
   * attestation once and runs it on every resource it is due on.
   */
  prepare?(attestation: Attestation): PreparedCheck;
}

/** One attestation's check, prepared by its provider: `attest` with the attestation bound. */
export type PreparedCheck = (resource: Resource) => Promise<ProviderOutcome> | ProviderOutcome;
