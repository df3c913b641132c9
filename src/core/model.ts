/**
 * The Argus domain model: definitions written by people (manifests) and the derived state the
 * engine computes from them. Pure types, no I/O. See docs/concepts.md and DESIGN §1.
 */

export const API_VERSION = 'argus.dev/v1alpha1';

export const DEFINITION_KINDS = [
  'Requirement',
  'Implementation',
  'Attestation',
  'Resource',
  'Provider',
  'Waiver',
  'ComplianceObjective',
] as const;
export type DefinitionKind = (typeof DEFINITION_KINDS)[number];

export type Labels = Readonly<Record<string, string>>;

export interface ObjectMeta {
  readonly name: string;
  readonly labels: Labels;
}

/**
 * Selects resources. Every given field must match (AND); an empty selector matches everything.
 * `types` entries may end in `*` (prefix match, e.g. `AWS::S3::*`).
 */
export interface ResourceSelector {
  readonly ids?: readonly string[];
  readonly types?: readonly string[];
  readonly classes?: readonly string[];
  readonly matchLabels?: Labels;
}

export type Severity = 'low' | 'medium' | 'high' | 'critical';

export interface RequirementSpec {
  readonly title: string;
  readonly description?: string;
  /** Integer >= 1. A new version invalidates results recorded under older ones. */
  readonly version: number;
  /** Framework references, `framework:control` (e.g. `nist-800-53:SC-28`). */
  readonly frameworks: readonly string[];
  readonly severity: Severity;
  /** Which resources the requirement applies to. */
  readonly appliesTo: ResourceSelector;
  /** Every class listed must be covered by a valid implementation of that class. */
  readonly requiredImplementationClasses: readonly string[];
  /** Control parameters kept from the catalog (OSCAL params), informational. */
  readonly parameters?: Readonly<Record<string, unknown>>;
}

export type ImplementationPolicy = 'all' | 'any';

export interface ImplementationSpec {
  readonly requirements: readonly string[];
  readonly targets: ResourceSelector;
  /** When true (default) the implementation applies to every descendant of a target too. */
  readonly cascade: boolean;
  /** e.g. PreventativeControl, DetectiveControl. */
  readonly class?: string;
  /** Names of Attestation definitions (inline attestations are expanded by the manifest loader). */
  readonly attestations: readonly string[];
  /** How the results of its attestations on a resource combine (default all must pass). */
  readonly policy: ImplementationPolicy;
}

export interface AttestationSpec {
  readonly provider: string;
  readonly params: Readonly<Record<string, unknown>>;
  /** Resource types this attestation can check; empty = any. `*` suffix = prefix match. */
  readonly resourceTypes: readonly string[];
  /** How long a result stays valid, in milliseconds. */
  readonly freshnessMs: number;
  /** How long one run may take, in milliseconds. */
  readonly timeoutMs: number;
}

export interface ResourceSpec {
  readonly type: string;
  readonly parent?: string;
  readonly classes: readonly string[];
  /** Name of the Provider that observed it. */
  readonly provider?: string;
  /** The configuration document attestations look at. */
  readonly document: unknown;
  /** SHA-256 of the canonical JSON of `document` (computed when not given). */
  readonly digest: string;
}

export type ProviderType = 'local' | 'aws-account' | 'agent';

export interface ProviderSpec {
  readonly type: ProviderType;
  readonly description?: string;
  readonly accountId?: string;
  readonly roleArn?: string;
  readonly externalId?: string;
  readonly heartbeatTimeoutMs?: number;
}

export interface WaiverSpec {
  readonly requirement: string;
  readonly resources: ResourceSelector;
  readonly reason: string;
  readonly approver: string;
  /** Epoch milliseconds after which the waiver stops counting. */
  readonly expiresAt: number;
}

export interface ComplianceObjectiveSpec {
  readonly description?: string;
  readonly requirements: readonly string[];
  readonly frameworks: readonly string[];
  readonly resources: ResourceSelector;
  /** Target ratio in (0, 1], e.g. 0.99. */
  readonly target: number;
  readonly windowMs: number;
  /** Unknown pairs count as not compliant unless this is true. */
  readonly unknownIsCompliant: boolean;
}

export interface SpecByKind {
  Requirement: RequirementSpec;
  Implementation: ImplementationSpec;
  Attestation: AttestationSpec;
  Resource: ResourceSpec;
  Provider: ProviderSpec;
  Waiver: WaiverSpec;
  ComplianceObjective: ComplianceObjectiveSpec;
}

export interface Definition<K extends DefinitionKind = DefinitionKind> {
  readonly apiVersion: typeof API_VERSION;
  readonly kind: K;
  readonly metadata: ObjectMeta;
  readonly spec: SpecByKind[K];
}

export type Requirement = Definition<'Requirement'>;
export type Implementation = Definition<'Implementation'>;
export type Attestation = Definition<'Attestation'>;
export type Resource = Definition<'Resource'>;
export type Provider = Definition<'Provider'>;
export type Waiver = Definition<'Waiver'>;
export type ComplianceObjective = Definition<'ComplianceObjective'>;

export type AnyDefinition = { [K in DefinitionKind]: Definition<K> }[DefinitionKind];

// ---------------------------------------------------------------------------------------------
// Results and derived state
// ---------------------------------------------------------------------------------------------

export type AttestationOutcome = 'Passed' | 'Failed' | 'Errored';

/** What a provider run recorded for one (resource, attestation) pair. */
export interface AttestationResult {
  readonly resource: string;
  readonly attestation: string;
  readonly outcome: AttestationOutcome;
  /** What failed, or why it errored; short and human readable. */
  readonly message: string;
  readonly executedAt: number;
  readonly durationMs: number;
  /** The context the run was made against; any change to it makes the result Stale. */
  readonly attestationDigest: string;
  readonly resourceDigest: string;
  readonly requirementVersions: Readonly<Record<string, number>>;
  /** SHA-256 of the full output kept as evidence. */
  readonly evidenceDigest?: string;
  /**
   * Latest re-run that confirmed this result unchanged (epoch ms), from the resource's CHECKED
   * item; only set when later than `executedAt`. Freshness (Expired) counts from
   * max(executedAt, lastCheckedAt); nothing else uses it. Never stored in a results item.
   */
  readonly lastCheckedAt?: number;
}

export type ResourceAttestationStatus =
  | 'Pending'
  | 'Scheduled'
  | 'Running'
  | 'Passed'
  | 'Failed'
  | 'Errored'
  | 'Aborted'
  | 'Stale';

export type StaleReason =
  | 'RequirementVersionChanged'
  | 'AttestationChanged'
  | 'ResourceChanged'
  | 'Expired';

export type ComplianceStatus = 'Compliant' | 'NonCompliant' | 'Unknown' | 'Exempt';

export type ComplianceReason =
  | 'Implemented'
  | 'NoImplementation'
  | 'MissingImplementationClass'
  | 'AttestationFailed'
  | 'AttestationErrored'
  | 'AttestationPending'
  | 'NoApplicableAttestation'
  | 'Waived'
  | 'ChildNonCompliant'
  | 'ChildUnknown';

export interface ResourceAttestationState {
  readonly resource: string;
  readonly attestation: string;
  readonly status: ResourceAttestationStatus;
  readonly staleReason?: StaleReason;
  readonly result?: AttestationResult;
}

export interface ResourceImplementationState {
  readonly resource: string;
  readonly implementation: string;
  readonly valid: boolean;
  /** Attestations of the implementation that apply to this resource's type. */
  readonly attestations: readonly string[];
}

export interface ResourceRequirementState {
  readonly resource: string;
  readonly requirement: string;
  readonly status: ComplianceStatus;
  readonly reason: ComplianceReason;
  /** Worst of own status and the effective status of children holding the same requirement. */
  readonly effectiveStatus: ComplianceStatus;
  readonly effectiveReason: ComplianceReason;
  /** Implementations that reach the resource, valid or not. */
  readonly implementations: readonly string[];
  readonly waiver?: string;
}

/** Severity order used by the roll-up: a parent is only as compliant as its worst child. */
export const COMPLIANCE_RANK: Readonly<Record<ComplianceStatus, number>> = {
  Exempt: 0,
  Compliant: 1,
  Unknown: 2,
  NonCompliant: 3,
};
