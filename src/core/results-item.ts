import type { AttestationResult } from './model.ts';

/** The stored item that holds the latest results of one resource, by attestation name. */
export interface ResultsItem {
  readonly resource: string;
  readonly results: Readonly<Record<string, AttestationResult>>;
}
