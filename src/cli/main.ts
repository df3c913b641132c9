#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from 'commander';
import { stringify } from 'yaml';
import type { LocalRuntime } from '../adapters/local/local-runtime.ts';
import { resolveHome } from '../adapters/local/home.ts';
import { cmp } from '../core/compliance/evaluate-resource.ts';
import { ArgusError, ValidationError } from '../core/errors.ts';
import { toManifest } from '../core/manifest/parse.ts';
import type { AnyDefinition } from '../core/model.ts';
import type { ApplyOutcome } from '../core/use-cases/apply-definitions.ts';
import type { ApplyPreview } from '../core/use-cases/preview-apply.ts';
import { describe } from './describe.ts';
import { parseKind } from './kinds.ts';
import { reconcileWithProgress } from './progress.ts';
import { gate, printReport, type ReportCommandOptions } from './report-command.ts';
import { renderTable } from './table.ts';
import { registerEvidenceCommands } from './commands/evidence.ts';
import { oscalAssessmentResults, registerOscalCommands } from './commands/oscal.ts';
import { registerSloCommands } from './commands/slo.ts';
import { registerServeCommand } from './commands/serve-command.ts';
import { apiClientOf, remoteApply, remoteGet, remoteReport } from './remote-client.ts';
import { registerAgentCommands } from './commands/agent.ts';
import { registerCloudControlCommand } from './commands/cloudcontrol.ts';

/**
 * Opens the runtime for one command and always closes it (releases the state directory lock).
 * `readOnly` takes no lock, so it works while `argus serve` holds the directory, and sees the
 * state committed when it opened.
 */
async function withRuntime<T>(program: Command, fn: (runtime: LocalRuntime) => Promise<T>, access: { readonly readOnly?: boolean } = {}): Promise<T> {
  const opts = program.opts<{ home?: string; store?: string; endpoint?: string; table?: string; region?: string }>();
  // The AWS SDK loads only when asked for: the embedded default stays quick to start.
  const store =
    opts.store === 'dynamodb'
      ? await (await import('../adapters/aws/dynamodb-feed-store.ts')).DynamoDbFeedStore.open({
          tableName: opts.table ?? 'argus',
          endpoint: opts.endpoint,
          region: opts.region,
          createTable: opts.endpoint !== undefined,
        })
      : undefined;
  // Loaded on use: `--help` and argument errors don't pay for the engine and providers.
  const { LocalRuntime } = await import('../adapters/local/local-runtime.ts');
  const runtime = await LocalRuntime.open({ home: resolveHome(opts.home), readOnly: access.readOnly === true, ...(store ? { store } : {}) });
  try {
    return await fn(runtime);
  } finally {
    await runtime.close();
  }
}

/** For commands that only read: they run beside `argus serve`. */
const READ = { readOnly: true } as const;

function printOutcome(outcome: ApplyOutcome): void {
  for (const [verb, refs] of [['created', outcome.created], ['configured', outcome.configured], ['unchanged', outcome.unchanged], ['deleted', outcome.deleted]] as const) {
    if (refs.length === 0) continue;
    if (refs.length <= 20) for (const r of refs) console.log(`${r.kind.toLowerCase()}/${r.name} ${verb}`);
    else console.log(`${refs.length} definitions ${verb}`);
  }
}

/**
 * An apply's outcome, as JSON or as lines; a dry run's preview after it: what the change would do
 * to the pairs and their compliance. A dry run without a preview (a server that predates them)
 * still says it wrote nothing.
 */
function printApplied(answer: ApplyOutcome | ApplyPreview, options: { readonly json: boolean; readonly dryRun: boolean }): void {
  if (options.json) return console.log(JSON.stringify(answer, null, 2));
  printOutcome(answer);
  if (options.dryRun) console.log('dry run: nothing written');
  if (!('preview' in answer)) return;
  const { due, newlyDue, totals } = answer.preview;
  const reasons = Object.entries(newlyDue).map(([why, n]) => `${n} ${why}`);
  const newly = reasons.length > 0 ? ` (newly due: ${reasons.join(', ')})` : '';
  console.log(`pairs due: ${due.now} now, ${due.after} after the apply${newly}`);
  console.log(`compliance: ${totalsText(totals.now)} now; ${totalsText(totals.after)} after the apply, until a reconcile runs what is due`);
}

function totalsText(t: ApplyPreview['preview']['totals']['now']): string {
  return `${t.compliant}/${t.pairs} pairs compliant, ${t.nonCompliant} noncompliant, ${t.unknown} unknown, ${t.exempt} exempt`;
}

export function buildProgram(): Command {
  const program = new Command('argus')
    .description('Continuous compliance attestation: requirements, implementations, attestations and resources, reconciled.')
    .option('--home <dir>', 'state directory (default: $ARGUS_HOME or ./.argus)')
    .addOption(new Option('--store <kind>', 'where definitions and results live').choices(['embedded', 'dynamodb']).default('embedded'))
    .option('--endpoint <url>', 'DynamoDB endpoint, e.g. http://127.0.0.1:8000 for DynamoDB Local (the table is created when missing)')
    .option('--table <name>', 'DynamoDB table name (default: argus)')
    .option('--region <region>', 'AWS region (default: $AWS_REGION or us-east-1)')
    .option('--api <url>', 'use a running Argus API instead of the store (get, apply, report): the deployed API (SigV4-signed with your AWS credentials) or `argus serve` on loopback (unsigned; $ARGUS_API_TOKEN as bearer)')
    .showHelpAfterError();

  program
    .command('apply')
    .description('validate manifests and apply them all or nothing')
    .requiredOption('-f, --filename <paths...>', 'manifest files or directories (YAML or JSON)')
    .option('--dry-run', 'validate and show what would change (definitions, pairs due, compliance), write nothing')
    .addOption(new Option('-o, --output <format>', 'output format of the outcome (json: for tools)').choices(['text', 'json']).default('text'))
    .action(async (opts: { filename: string[]; dryRun?: boolean; output: string }) => {
      const print = { json: opts.output === 'json', dryRun: opts.dryRun === true };
      const api = apiClientOf(program.opts());
      if (api) return remoteApply(api, opts.filename, (answer) => printApplied(answer, print), { dryRun: print.dryRun });
      if (print.dryRun) return withRuntime(program, async (rt) => printApplied(await rt.previewFiles(opts.filename), print), READ);
      await withRuntime(program, async (rt) => printApplied(await rt.applyFiles(opts.filename), print));
    });

  program
    .command('import')
    .description('import resources from a source')
    .command('cloudformation')
    .description('import CloudFormation templates (JSON/YAML) or cdk.out folders as Resources')
    .argument('<paths...>', 'template files, folders of templates or cdk.out folders')
    .option('--dry-run', 'show what would change (resources, pairs due, compliance), write nothing')
    .action(async (paths: string[], opts: { dryRun?: boolean }) => {
      if (opts.dryRun) return withRuntime(program, async (rt) => printApplied(await rt.previewCloudFormation(paths), { json: false, dryRun: true }), READ);
      await withRuntime(program, async (rt) => printOutcome(await rt.importCloudFormation(paths)));
    });

  program
    .command('delete')
    .description('delete a definition (a deleted Resource takes its results along)')
    .argument('<kind>', 'Requirement, Implementation, Attestation, Resource, Provider, Waiver or ComplianceObjective')
    .argument('<name>', 'metadata.name')
    .action(async (kindText: string, name: string) => {
      const kind = parseKind(kindText);
      await withRuntime(program, async (rt) => {
        const outcome = await rt.apply([], [{ kind, name }]);
        if (outcome.deleted.length === 0) throw new ArgusError('NOT_FOUND', `${kind} "${name}" not found`);
        printOutcome(outcome);
      });
    });

  program
    .command('get')
    .description('list definitions of a kind')
    .argument('<kind>', 'Requirement, Implementation, Attestation, Resource, Provider, Waiver or ComplianceObjective')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'yaml', 'json']).default('table'))
    .action(async (kindText: string, opts: { output: string }) => {
      const kind = parseKind(kindText);
      const api = apiClientOf(program.opts());
      if (api) return remoteGet(api, kind, opts.output);
      await withRuntime(program, async (rt) => {
        const defs = [...rt.engine.index.all()].filter((d) => d.kind === kind).sort((a, b) => cmp(a.metadata.name, b.metadata.name));
        if (opts.output === 'json') console.log(JSON.stringify(defs.map(toManifest), null, 2));
        else if (opts.output === 'yaml') console.log(defs.map((d) => stringify(toManifest(d))).join('---\n'));
        else console.log(defs.length === 0 ? `No ${kind} definitions.` : renderTable(['name', 'summary'], defs.map((d) => [d.metadata.name, summarise(d)])));
      }, READ);
    });

  program
    .command('describe')
    .description('show a definition and why it stands where it does (requirement → implementation → attestation results, children roll-up)')
    .argument('<kind>', 'Resource, Requirement, Implementation, Attestation, ...')
    .argument('<name>', 'metadata.name')
    .action(async (kindText: string, name: string) => {
      const kind = parseKind(kindText);
      await withRuntime(program, async (rt) => {
        rt.engine.advanceTo(rt.clock.now());
        rt.engine.flush();
        console.log(describe(rt.engine, kind, name));
      }, READ);
    });

  program
    .command('attest')
    .description('run one reconcile: attest everything never attested, stale or expired')
    .option('--batch-size <n>', 'resources committed per transaction', positiveInteger, 250)
    .action(async (opts: { batchSize: number }) => {
      await withRuntime(program, async (rt) => {
        const summary = await reconcileWithProgress(rt, opts.batchSize);
        console.log(
          `attested ${summary.evaluated} of ${summary.planned} due pairs in ${summary.durationMs} ms: ` +
            `${summary.passed} passed, ${summary.failed} failed, ${summary.errored} errored`,
        );
      });
    });

  program
    .command('report')
    .description('compliance per requirement and per resource')
    .addOption(new Option('--format <format>', 'output format (csv: every pair, for a spreadsheet; markdown: for a pull request or CI summary)').choices(['table', 'json', 'csv', 'markdown', 'oscal-ar']).default('table'))
    .addOption(new Option('--fail-on <status>', 'exit 1 when any pair has this status (for CI gates)').choices(['noncompliant', 'unknown']))
    .option('--all', 'list compliant pairs too, not only the ones needing attention')
    .option('--requirement <names...>', 'only these requirements (the gate too)')
    .option('--framework <names...>', 'only requirements mapped to these frameworks (soc2) or controls (soc2:CC6.1), the gate too')
    .action(async (opts: ReportCommandOptions) => {
      const api = apiClientOf(program.opts());
      if (api) return remoteReport(api, opts);
      await withRuntime(program, async (rt) => {
        if (opts.format !== 'oscal-ar') return printReport(rt.report(), opts);
        if (opts.requirement || opts.framework) throw new ArgusError('USAGE', '--format oscal-ar exports every requirement; --requirement and --framework go with the other formats');
        console.log(JSON.stringify(oscalAssessmentResults(rt, resolveHome(program.opts<{ home?: string }>().home)), null, 2));
        gate(rt.report(), opts.failOn);
      }, READ);
    });

  program
    .command('quickstart')
    .description('apply the quickstart catalog, import its template, attest, print the table, then serve the API and reconcile on a schedule until Ctrl-C')
    .option('--schedule <expression>', 'when to reconcile, as EventBridge Scheduler takes it: rate(5 minutes), cron(0/15 * * * ? *)', 'rate(1 minute)')
    .option('--port <port>', 'port of the local API after the first table (0 picks a free one)', (v) => Number.parseInt(v, 10), 8080)
    .option('--once', 'attest and print once, then exit')
    .option('--dir <dir>', 'quickstart folder (catalog.yaml, template.yaml)')
    .action(async (opts: { schedule: string; port: number; once?: boolean; dir?: string }) => {
      const { runQuickstart } = await import('./quickstart.ts');
      await runQuickstart({ home: resolveHome(program.opts<{ home?: string }>().home), schedule: opts.schedule, port: opts.port, once: opts.once === true, dir: opts.dir });
    });

  registerSloCommands(program);
  registerEvidenceCommands(program);
  registerOscalCommands(program);
  registerServeCommand(program);
  registerAgentCommands(program);
  registerCloudControlCommand(program, (fn) => withRuntime(program, fn), printOutcome);
  return program;
}

/** Option parser: `0`, `-5` or `abc` would hang or silently skip a reconcile. */
function positiveInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer.');
  return n;
}

function summarise(d: AnyDefinition): string {
  switch (d.kind) {
    case 'Requirement': return `v${d.spec.version} ${d.spec.severity} ${d.spec.frameworks.join(',')} ${d.spec.title}`;
    case 'Implementation': return `${d.spec.requirements.join(',')} ← ${d.spec.attestations.length} attestation(s)${d.spec.cascade ? ', cascades' : ''}`;
    case 'Attestation': return `${d.spec.provider} on ${d.spec.resourceTypes.join(',') || 'any type'}`;
    case 'Resource': return `${d.spec.type}${d.spec.parent ? ` in ${d.spec.parent}` : ''}`;
    case 'Provider': return d.spec.type;
    case 'Waiver': return `${d.spec.requirement} until ${new Date(d.spec.expiresAt).toISOString()} (${d.spec.approver})`;
    case 'ComplianceObjective': return `target ${d.spec.target}`;
  }
}

export async function main(argv: readonly string[]): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (error) {
    if (error instanceof ValidationError) {
      console.error(`error: ${error.issues.length} problem(s), nothing applied:\n${error.message}`);
    } else if (error instanceof ArgusError) {
      console.error(`error: ${error.message}`);
    } else {
      console.error(error instanceof Error ? `error: ${error.message}` : error);
    }
    process.exitCode = 2;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('main.ts')) {
  await main(process.argv);
}
