import type { ResourceAttestationState, ResourceAttestationStatus, StaleReason } from '../model.ts';
import { StoredAttestationState } from './attestation-state.ts';
import type { ResourceResults } from './resource-results.ts';
import { SlotKeyedMap, type Slots } from './slot-map.ts';

/**
 * The attestation states of one evaluated resource: a read-only map over its evaluation plan's
 * attestation keys that keeps one status per pair and makes a pair's state object when it is
 * first read. The engine re-evaluates every pair of every resource a full reconcile touches and
 * itself reads only their statuses (due work, resolution), so most states are never made; an
 * object per pair made anyway was a tenth of what a reconcile allocated and kept.
 */
export class AttestationStates extends SlotKeyedMap<ResourceAttestationState> {
  readonly #resource: string;
  readonly #statuses: readonly ResourceAttestationStatus[];
  /** Why each Stale pair is stale, by slot; undefined when none is. */
  readonly #staleReasons: readonly (StaleReason | undefined)[] | undefined;
  /** The results the statuses were derived from (every status but Pending has its entry there). */
  readonly #results: ResourceResults | undefined;
  /** States made so far, by slot: a state read twice is the same object. */
  #made: ResourceAttestationState[] | undefined;

  /** `statuses[i]` is the status of `slots.keys[i]`; every slot has one. */
  constructor(
    resource: string,
    slots: Slots,
    statuses: readonly ResourceAttestationStatus[],
    staleReasons: readonly (StaleReason | undefined)[] | undefined,
    results: ResourceResults | undefined,
  ) {
    super(slots);
    this.#resource = resource;
    this.#statuses = statuses;
    this.#staleReasons = staleReasons;
    this.#results = results;
  }

  /**
   * Attestations whose pair needs a run (never attested, or Stale), in key order; undefined when
   * none. When every pair is due (a full reconcile) it is the plan's own frozen key list, shared
   * by every resource of the plan: no list per resource, and a runner can tell it by identity.
   */
  due(): readonly string[] | undefined {
    const keys = this.keyList;
    const statuses = this.#statuses;
    let due: string[] | undefined;
    for (let i = 0; i < statuses.length; i++) {
      const status = statuses[i];
      if (status === 'Pending' || status === 'Stale') {
        if (due === undefined && i === 0 && allDue(statuses)) return keys;
        (due ??= []).push(keys[i] as string);
      }
    }
    return due;
  }

  /** The status of an attestation's pair without making its state; undefined when it is not a key. */
  statusOf(attestation: string): ResourceAttestationStatus | undefined {
    const slot = this.slotOfKey(attestation);
    return slot === undefined ? undefined : this.#statuses[slot];
  }

  protected valueAt(slot: number): ResourceAttestationState {
    const made = (this.#made ??= []);
    const known = made[slot];
    if (known !== undefined) return known;
    const attestation = this.keyList[slot] as string;
    const status = this.#statuses[slot] as ResourceAttestationStatus;
    const entry = status === 'Pending' ? undefined : this.#results?.entry(attestation);
    const state: ResourceAttestationState =
      entry === undefined || this.#results === undefined
        ? { resource: this.#resource, attestation, status }
        : new StoredAttestationState(this.#resource, attestation, status, this.#staleReasons?.[slot], this.#results, entry);
    made[slot] = state;
    return state;
  }
}

function allDue(statuses: readonly ResourceAttestationStatus[]): boolean {
  for (let i = 0; i < statuses.length; i++) {
    const status = statuses[i];
    if (status !== 'Pending' && status !== 'Stale') return false;
  }
  return true;
}
