import { digestOf } from '../../src/core/digest.ts';
import {
  API_VERSION,
  type Attestation,
  type AttestationResult,
  type AttestationSpec,
  type Implementation,
  type ImplementationSpec,
  type Requirement,
  type RequirementSpec,
  type Resource,
  type Waiver,
  type WaiverSpec,
} from '../../src/core/model.ts';
import type { ComplianceEngine } from '../../src/core/compliance/engine.ts';

/** Concise builders for definitions in tests (manifests have their own tests). */
export function requirement(name: string, spec: Partial<RequirementSpec> = {}): Requirement {
  return {
    apiVersion: API_VERSION,
    kind: 'Requirement',
    metadata: { name, labels: {} },
    spec: { title: name, version: 1, frameworks: [], severity: 'medium', appliesTo: {}, requiredImplementationClasses: [], ...spec },
  };
}

export function implementation(name: string, spec: Partial<ImplementationSpec> & Pick<ImplementationSpec, 'requirements' | 'attestations'>): Implementation {
  return {
    apiVersion: API_VERSION,
    kind: 'Implementation',
    metadata: { name, labels: {} },
    spec: { targets: {}, cascade: true, policy: 'all', ...spec },
  };
}

export function attestation(name: string, spec: Partial<AttestationSpec> = {}): Attestation {
  return {
    apiVersion: API_VERSION,
    kind: 'Attestation',
    metadata: { name, labels: {} },
    spec: { provider: 'cel', params: { expression: 'true' }, resourceTypes: [], freshnessMs: 3_600_000, timeoutMs: 10_000, ...spec },
  };
}

export function resource(
  name: string,
  type: string,
  opts: { parent?: string; labels?: Record<string, string>; classes?: string[]; document?: unknown } = {},
): Resource {
  const document = opts.document ?? {};
  return {
    apiVersion: API_VERSION,
    kind: 'Resource',
    metadata: { name, labels: opts.labels ?? {} },
    spec: { type, parent: opts.parent, classes: opts.classes ?? [], document, digest: digestOf(document) },
  };
}

export function waiver(name: string, spec: Partial<WaiverSpec> & Pick<WaiverSpec, 'requirement' | 'expiresAt'>): Waiver {
  return {
    apiVersion: API_VERSION,
    kind: 'Waiver',
    metadata: { name, labels: {} },
    spec: { resources: {}, reason: 'accepted risk', approver: 'ciso@example.com', ...spec },
  };
}

/** A result recorded against the engine's current context for the pair. */
export function resultFor(
  engine: ComplianceEngine,
  resourceName: string,
  attestationName: string,
  outcome: AttestationResult['outcome'],
  executedAt = engine.now,
): AttestationResult {
  const ctx = engine.runContext(resourceName, attestationName);
  if (!ctx) throw new Error(`no run context for ${resourceName}/${attestationName}`);
  return { resource: resourceName, attestation: attestationName, outcome, message: outcome, executedAt, durationMs: 1, ...ctx };
}

/** An engine's results in a fixed order (resource, then attestation), to compare two engines. */
export function resultsInOrder(engine: ComplianceEngine): AttestationResult[] {
  return [...engine.allResults()].sort((a, b) => `${a.resource}/${a.attestation}`.localeCompare(`${b.resource}/${b.attestation}`));
}
