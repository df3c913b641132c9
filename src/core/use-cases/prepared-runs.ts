import type { PlanRunRecords } from '../compliance/definition-index.ts';
import type { Attestation, Resource } from '../model.ts';
import type { AttestationProvider, ProviderOutcome } from '../ports/attestation-provider.ts';

export interface ProviderLookup {
  get(name: string): AttestationProvider | undefined;
}

/**
 * One attestation's run on a resource, as a reconcile makes it: its provider's outcome, or
 * Errored when the provider is unknown, throws or (when asynchronous) times out.
 */
export type AttestationRun = (resource: Resource) => ProviderOutcome | Promise<ProviderOutcome>;

/**
 * The runs of a reconcile's attestations, each made once (its provider looked up and, where the
 * provider can, its check prepared) and kept per plan in the order of the plan's attestation keys:
 * a run then reaches the compiled check in one step from the resource's plan, instead of reading
 * the attestation, its provider and its params, and looking up the compiled check, on each run.
 * One per reconcile (or batch of one): providers and definitions stay as they are for its length.
 */
export class PreparedRuns {
  private readonly byPlan = new WeakMap<PlanRunRecords, ReadonlyArray<AttestationRun | undefined>>();
  private readonly byAttestation = new WeakMap<Attestation, AttestationRun>();

  constructor(private readonly providers: ProviderLookup) {}

  /** The run of each of the plan's attestation keys, by position (undefined where it records nothing). */
  ofPlan(plan: PlanRunRecords): ReadonlyArray<AttestationRun | undefined> {
    let runs = this.byPlan.get(plan);
    if (runs === undefined) {
      runs = plan.inKeyOrder.map((record) => (record === undefined ? undefined : this.of(record.attestation)));
      this.byPlan.set(plan, runs);
    }
    return runs;
  }

  /** The run of one attestation. */
  of(attestation: Attestation): AttestationRun {
    let run = this.byAttestation.get(attestation);
    if (run === undefined) {
      run = prepareRun(this.providers.get(attestation.spec.provider), attestation);
      this.byAttestation.set(attestation, run);
    }
    return run;
  }
}

function prepareRun(provider: AttestationProvider | undefined, attestation: Attestation): AttestationRun {
  if (!provider) return () => ({ outcome: 'Errored', message: `unknown provider "${attestation.spec.provider}"` });
  let check: (resource: Resource) => ProviderOutcome | Promise<ProviderOutcome>;
  try {
    check = provider.prepare !== undefined ? provider.prepare(attestation) : (resource) => provider.attest(attestation, resource);
  } catch (error) {
    // A provider that cannot prepare the check errs on every run, as its `attest` would.
    return () => threw(provider, error);
  }
  const timeoutMs = attestation.spec.timeoutMs;
  return (resource) => {
    try {
      const value = check(resource);
      // Synchronous providers (CEL) skip the timer: their own bound applies.
      return value instanceof Promise ? withTimeout(value, timeoutMs).catch((error: unknown) => threw(provider, error)) : value;
    } catch (error) {
      return threw(provider, error);
    }
  };
}

// Module level, not a closure per run: this sits on the path of every attestation.
function threw(provider: AttestationProvider, error: unknown): ProviderOutcome {
  return { outcome: 'Errored', message: `provider ${provider.name} threw: ${error instanceof Error ? error.message : String(error)}` };
}

function withTimeout(promise: Promise<ProviderOutcome>, ms: number): Promise<ProviderOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ProviderOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ outcome: 'Errored', message: `timed out after ${ms} ms` }), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
