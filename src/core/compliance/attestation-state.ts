import type { AttestationResult, ResourceAttestationState, ResourceAttestationStatus, StaleReason } from '../model.ts';
import type { StoredResult } from '../results-item.ts';
import type { ResourceResults } from './resource-results.ts';

/**
 * The state of a pair that has a result, the result made from its stored entry when first read
 * (a state is made when read, by `AttestationStates`, and its result is often not read even
 * then). What it keeps for that is private (`#`), so equality and JSON see a state's fields only.
 */
export class StoredAttestationState implements ResourceAttestationState {
  readonly #results: ResourceResults;
  readonly #entry: StoredResult;
  #made: AttestationResult | undefined = undefined;

  constructor(
    readonly resource: string,
    readonly attestation: string,
    readonly status: ResourceAttestationStatus,
    readonly staleReason: StaleReason | undefined,
    results: ResourceResults,
    entry: StoredResult,
  ) {
    this.#results = results;
    this.#entry = entry;
  }

  get result(): AttestationResult {
    return (this.#made ??= this.#results.resultOf(this.#entry));
  }

  toJSON(): ResourceAttestationState {
    return plainAttestationState(this);
  }
}

/** The state as a plain object (what deep equality and JSON see): its result, if any, included. */
export function plainAttestationState(state: ResourceAttestationState): ResourceAttestationState {
  const { resource, attestation, status, staleReason, result } = state;
  if (result === undefined) return staleReason === undefined ? { resource, attestation, status } : { resource, attestation, status, staleReason };
  return staleReason === undefined ? { resource, attestation, status, result } : { resource, attestation, status, staleReason, result };
}
