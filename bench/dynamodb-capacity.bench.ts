/**
 * DynamoDB write capacity per attestation evaluation, measured on DynamoDB Local from the
 * ConsumedCapacity (ReturnConsumedCapacity INDEXES) of every request, at 0%, 1% and 100% churn
 * (share of resources whose results changed outcome in a reconcile where every pair is due).
 *
 * The shipped path, `reconcile` (docs/dynamodb-table-design.md, "CHECKED items"): a resource whose
 * re-run results did not change gets one small plain write of its CHECKED item; changed resources
 * get their full results item, in transactions of up to 100 (one per batch).
 *
 *   npx tsx bench/dynamodb-capacity.bench.ts [--resources 500] [--k 10]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import { DynamoDbFeedStore } from '../src/adapters/aws/dynamodb-feed-store.ts';
import { LocalRuntime } from '../src/adapters/local/local-runtime.ts';
import { API_VERSION, type AnyDefinition, type Attestation, type Resource } from '../src/core/model.ts';
import type { AttestationProvider, ProviderOutcome } from '../src/core/ports/attestation-provider.ts';
import { ProviderRegistry } from '../src/providers/registry.ts';
import { digestOf } from '../src/core/digest.ts';
import { startDynamoDbLocal } from '../test/support/dynamodb-local.ts';

const { values } = parseArgs({ options: { resources: { type: 'string', default: '500' }, k: { type: 'string', default: '10' } } });
const RESOURCES = Number(values.resources);
const K = Number(values.k);
const FRESHNESS = 3_600_000;
/** us-east-1 on-demand write request units, USD per million, as published in 2025 (from the author's knowledge, not fetched). */
const PRICE_PER_MILLION_WRU = 0.625;

/** Fails the pairs of resources in `flipped`, passes the rest: churn on demand. */
const flipped = new Set<string>();
const provider: AttestationProvider = {
  name: 'bench',
  validateParams: () => [],
  attest: (_a: Attestation, r: Resource): ProviderOutcome =>
    flipped.has(r.metadata.name) ? { outcome: 'Failed', message: 'flipped' } : { outcome: 'Passed', message: 'ok' },
};

function organisation(): AnyDefinition[] {
  const meta = (name: string) => ({ name, labels: {} });
  const defs: AnyDefinition[] = [];
  const attestations: string[] = [];
  for (let k = 0; k < K; k++) {
    attestations.push(`rule-${k}`);
    defs.push({ apiVersion: API_VERSION, kind: 'Attestation', metadata: meta(`rule-${k}`), spec: { provider: 'bench', params: {}, resourceTypes: ['Bench::Thing'], freshnessMs: FRESHNESS, timeoutMs: 1000 } });
  }
  defs.push({ apiVersion: API_VERSION, kind: 'Requirement', metadata: meta('req'), spec: { title: 'bench', version: 1, frameworks: [], severity: 'low', appliesTo: { types: ['Bench::Thing'] }, requiredImplementationClasses: [] } });
  defs.push({ apiVersion: API_VERSION, kind: 'Implementation', metadata: meta('impl'), spec: { requirements: ['req'], targets: {}, cascade: true, attestations, policy: 'all' } });
  for (let i = 0; i < RESOURCES; i++) {
    const document = { i };
    defs.push({ apiVersion: API_VERSION, kind: 'Resource', metadata: meta(`org/acct-${i % 10}/thing-${i}`), spec: { type: 'Bench::Thing', classes: [], document, digest: digestOf(document) } });
  }
  return defs;
}

interface Meter {
  table: number;
  indexes: number;
  requests: number;
}
let meter: Meter = { table: 0, indexes: 0, requests: 0 };
const WRITES = new Set(['TransactWriteItems', 'UpdateItem', 'DeleteItem', 'PutItem']);
/** Write units of one part: the WriteCapacityUnits field when given, else CapacityUnits (writes only). */
const units = (c: { WriteCapacityUnits?: number; CapacityUnits?: number } | undefined) => c?.WriteCapacityUnits ?? c?.CapacityUnits ?? 0;
const onConsumedCapacity = (op: string, capacity: readonly ConsumedCapacity[]) => {
  if (!WRITES.has(op)) return;
  if (process.env.BENCH_DEBUG) console.log(op, JSON.stringify(capacity));
  for (const c of capacity) {
    meter.requests++;
    meter.table += c.Table ? units(c.Table) : units(c);
    for (const g of Object.values(c.GlobalSecondaryIndexes ?? {})) meter.indexes += units(g);
  }
};
const measure = async (fn: () => Promise<number>) => {
  meter = { table: 0, indexes: 0, requests: 0 };
  const evaluations = await fn();
  return { evaluations, ...meter, perEval: (meter.table + meter.indexes) / evaluations };
};

const ddb = await startDynamoDbLocal();
const home = mkdtempSync(join(tmpdir(), 'argus-ddb-bench-'));
let now = Date.UTC(2025, 5, 1);
const clock = { now: () => now };
const rows: string[] = [];
try {
  const store = await DynamoDbFeedStore.open({ tableName: 'argus-bench', endpoint: ddb.endpoint, createTable: true, store: { onConsumedCapacity }, poller: { intervalMs: 60_000 } });
  const runtime = await LocalRuntime.open({ home, clock, store, providers: new ProviderRegistry([provider]) });
  const defs = organisation();
  for (let i = 0; i < defs.length; i += 100) await runtime.apply(defs.slice(i, i + 100));
  const names = defs.filter((d) => d.kind === 'Resource').map((d) => d.metadata.name);
  const first = await measure(async () => (await runtime.reconcile()).evaluated);
  console.log(`first attestation: ${first.evaluations} evaluations, ${first.table} table + ${first.indexes} index WCU = ${first.perEval.toFixed(3)} WCU/eval`);

  const churnSet = (fraction: number) => {
    flipped.clear();
    for (let i = 0; i < Math.round(names.length * fraction); i++) flipped.add(names[i] as string);
  };
  const report = (label: string, m: Awaited<ReturnType<typeof measure>>) => {
    const cost = m.perEval * PRICE_PER_MILLION_WRU;
    const line = `| ${label} | ${m.evaluations} | ${m.table} | ${m.indexes} | ${m.perEval.toFixed(3)} | $${cost.toFixed(3)} |`;
    rows.push(line);
    console.log(line);
  };
  console.log('| path, churn | evaluations | table WCU | index WCU | WCU per evaluation | USD per million evaluations |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  // Shipped path: every pair due (freshness expired), outcomes of `fraction` of the resources flip.
  for (const fraction of [0, 0.01, 1]) {
    now += FRESHNESS + 1;
    churnSet(fraction === 0 ? 0 : fraction);
    // Flip against the previous round: 0% keeps last outcomes (the previous round ended with no flips).
    const m = await measure(async () => (await runtime.reconcile()).evaluated);
    report(`reconcile, ${fraction * 100}%`, m);
    churnSet(0);
    now += FRESHNESS + 1;
    await runtime.reconcile(); // back to all-pass, not measured
  }
  await runtime.close();
} finally {
  await ddb.stop();
  rmSync(home, { recursive: true, force: true });
}
console.log(`\nprice: $${PRICE_PER_MILLION_WRU} per million write request units (us-east-1 on-demand, 2025, from knowledge); ${RESOURCES} resources x ${K} attestations`);
