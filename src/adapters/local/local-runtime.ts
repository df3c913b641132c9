import { join } from 'node:path';
import type { ComplianceEngine } from '../../core/compliance/engine.ts';
import type { AnyDefinition, Resource } from '../../core/model.ts';
import { indexDefinitions } from '../../core/manifest/references.ts';
import type { AttestationProvider } from '../../core/ports/attestation-provider.ts';
import type { ChangeRecord, Store } from '../../core/ports/store.ts';
import { systemClock, type Clock } from '../../core/ports/clock.ts';
import { StoreError } from '../../core/errors.ts';
import { buildReport, type ComplianceReport } from '../../core/report.ts';
import { applyChangeRecords } from '../../core/use-cases/apply-change-records.ts';
import { applyDefinitions, type ApplyOutcome, type DefinitionRef } from '../../core/use-cases/apply-definitions.ts';
import { loadEngine } from '../../core/use-cases/load-engine.ts';
import { previewApply, type ApplyPreview } from '../../core/use-cases/preview-apply.ts';
import { reconcile, type ReconcileOptions, type ReconcileSummary } from '../../core/use-cases/reconcile.ts';
import { allProviders, type ProviderRegistry } from '../../providers/registry.ts';
import { CloudFormationSource, STACK_LABEL, STACK_TYPE } from '../../sources/cloudformation.ts';
import { EmbeddedStore } from './embedded-store.ts';
import { EVIDENCE_DIR, LocalEvidenceLedger } from './evidence-ledger.ts';
import { loadManifestPaths } from './manifest-files.ts';

export { DEFAULT_HOME, resolveHome } from './home.ts';

export interface LocalRuntimeOptions {
  readonly home: string;
  readonly clock?: Clock;
  readonly providers?: ProviderRegistry;
  /** @default true */
  readonly fsync?: boolean;
  /** A store other than the embedded one (e.g. DynamoDB); the runtime closes it. @default the embedded store in `home` */
  readonly store?: ChangeFeedStore;
  /**
   * For reading beside a process that holds the state directory (`argus serve`, `npm start`):
   * the embedded store opened read-only (no lock; the state committed at open), the evidence
   * ledger not opened (nothing created, no key made), and apply, import and reconcile refused.
   * @default false
   */
  readonly readOnly?: boolean;
}

/** A store with a change feed: listeners get every committed change (the embedded store, DynamoDB + stream poller). */
export interface ChangeFeedStore extends Store {
  subscribe(listener: (records: readonly ChangeRecord[]) => void): () => void;
  /** Resolves once every write so far has reached the listeners (absent: delivery is synchronous). */
  catchUp?(): Promise<void>;
  /** Writes one transaction may hold (DynamoDB: 100). */
  readonly maxTransactionWrites?: number;
}

/**
 * The engine on one machine: the embedded store in the state directory, the engine fed by the
 * store's change feed, and the attestation providers. The CLI and `npm start` use it.
 */
export class LocalRuntime {
  private constructor(
    readonly store: ChangeFeedStore,
    readonly engine: ComplianceEngine,
    readonly providers: ProviderRegistry,
    readonly clock: Clock,
    private readonly unsubscribe: () => void,
    /** Undefined when read-only. */
    private readonly ledger: LocalEvidenceLedger | undefined,
    /** Opened with `readOnly`: writes are refused. */
    readonly readOnly: boolean,
  ) {}

  static async open(options: LocalRuntimeOptions): Promise<LocalRuntime> {
    const clock = options.clock ?? systemClock;
    const readOnly = options.readOnly === true;
    const store = options.store ?? (await EmbeddedStore.open({ dir: options.home, fsync: options.fsync ?? true, clock, readOnly }));
    try {
      const engine = await loadEngine(store, clock.now());
      const evidence = readOnly ? undefined : await LocalEvidenceLedger.open({ dir: join(options.home, EVIDENCE_DIR), fsync: options.fsync ?? true, clock });
      const unsubscribe = store.subscribe((records) => applyChangeRecords(engine, records));
      return new LocalRuntime(store, engine, options.providers ?? allProviders(), clock, unsubscribe, evidence, readOnly);
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  /** The evidence ledger under `<home>/evidence` (the store's lock covers it too); a read-only runtime has none. */
  get evidence(): LocalEvidenceLedger {
    if (!this.ledger) throw this.readOnlyError('appending evidence');
    return this.ledger;
  }

  /** Validates manifest files against what is stored, then applies them all or nothing. */
  async applyFiles(paths: readonly string[]): Promise<ApplyOutcome> {
    this.assertWritable('apply');
    return this.apply(await this.readManifests(paths));
  }

  /** What `applyFiles` would change, without writing: works on a read-only runtime too. */
  async previewFiles(paths: readonly string[]): Promise<ApplyPreview> {
    return this.preview(await this.readManifests(paths), []);
  }

  /** Validated definitions of manifest files, their references checked against the stored ones. */
  private async readManifests(paths: readonly string[]): Promise<AnyDefinition[]> {
    const parsed = await loadManifestPaths(paths, {
      providers: this.providerMap(),
      existing: indexDefinitions(this.engine.index.all()),
    });
    return parsed.map((p) => p.def);
  }

  async apply(defs: readonly AnyDefinition[], deletes: readonly DefinitionRef[] = []): Promise<ApplyOutcome> {
    this.assertWritable('apply');
    const outcome = await applyDefinitions(this.store, defs, { deletes });
    await this.store.catchUp?.();
    return outcome;
  }

  /**
   * Imports CloudFormation templates or cdk.out folders as Resources. Resources of the same stacks
   * that are no longer in the templates are deleted with their results.
   */
  async importCloudFormation(paths: readonly string[]): Promise<ApplyOutcome> {
    this.assertWritable('import');
    const { resources, deletes } = await this.readCloudFormation(paths);
    return this.apply(resources, deletes);
  }

  /** What `importCloudFormation` would change, without writing: works on a read-only runtime too. */
  async previewCloudFormation(paths: readonly string[]): Promise<ApplyPreview> {
    const { resources, deletes } = await this.readCloudFormation(paths);
    return this.preview(resources, deletes);
  }

  /** The stacks' Resources, and the stored Resources of those stacks that are gone from them. */
  private async readCloudFormation(paths: readonly string[]): Promise<{ resources: Resource[]; deletes: DefinitionRef[] }> {
    const resources = await new CloudFormationSource(paths).discover();
    const stacks = new Set(resources.filter((r) => r.spec.type === STACK_TYPE).map((r) => r.metadata.name));
    const present = new Set(resources.map((r) => r.metadata.name));
    const deletes: DefinitionRef[] = [];
    for (const r of this.engine.index.resources.values()) {
      const stack = r.metadata.labels[STACK_LABEL];
      if (stack !== undefined && stacks.has(stack) && !present.has(r.metadata.name)) deletes.push({ kind: 'Resource', name: r.metadata.name });
    }
    return { resources, deletes };
  }

  /** A dry run on a scratch engine loaded from the store: this runtime's own engine stays as it is. */
  private async preview(defs: readonly AnyDefinition[], deletes: readonly DefinitionRef[]): Promise<ApplyPreview> {
    const now = this.clock.now();
    return previewApply(this.store, await loadEngine(this.store, now), defs, deletes, now);
  }

  async reconcile(options: Pick<ReconcileOptions, 'onProgress' | 'signal' | 'batchSize'> = {}): Promise<ReconcileSummary> {
    // Before any provider runs: their results could not be committed.
    this.assertWritable('reconcile');
    await this.store.catchUp?.();
    // A store with a transaction limit (DynamoDB: 100) gets batches that fit; batches are for throughput only.
    const max = this.store.maxTransactionWrites;
    const batchSize = max === undefined ? options.batchSize : Math.min(options.batchSize ?? max, max);
    const run = () => reconcile({ store: this.store, engine: this.engine, providers: this.providers, clock: this.clock, evidence: this.evidence, ...options, batchSize });
    // The embedded store compacts once after the reconcile, not each time its log outgrows a snapshot.
    const summary = await (this.store instanceof EmbeddedStore ? this.store.holdingCompaction(run) : run());
    await this.store.catchUp?.();
    return summary;
  }

  report(): ComplianceReport {
    this.engine.advanceTo(this.clock.now());
    this.engine.flush();
    return buildReport(this.engine);
  }

  async close(): Promise<void> {
    this.unsubscribe();
    try {
      await this.ledger?.close();
    } finally {
      await this.store.close();
    }
  }

  private assertWritable(operation: string): void {
    if (this.readOnly) throw this.readOnlyError(operation);
  }

  private readOnlyError(operation: string): StoreError {
    return new StoreError(`runtime opened read-only: ${operation} refused (while \`argus serve\` or \`npm start\` holds the state directory, write through its API with --api)`, { operation });
  }

  private providerMap(): Map<string, AttestationProvider> {
    const out = new Map<string, AttestationProvider>();
    for (const name of this.providers.names()) {
      const p = this.providers.get(name);
      if (p) out.set(name, p);
    }
    return out;
  }
}
