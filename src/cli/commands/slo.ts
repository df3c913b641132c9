/** `argus slo …`: Prometheus rules, status, CloudWatch alarm specs and a remote-write push for ComplianceObjectives. */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import type { LocalRuntime } from '../../adapters/local/local-runtime.ts';
import { resolveHome } from '../../adapters/local/home.ts';
import { RemoteWritePublisher } from '../../adapters/local/remote-write-publisher.ts';
import { parseDuration } from '../../core/duration.ts';
import { ArgusError } from '../../core/errors.ts';
import type { ComplianceObjective } from '../../core/model.ts';
import { basicAuth, bearerAuth, type RemoteWriteAuth } from '../../core/remote-write/auth.ts';
import { RemoteWriteClient } from '../../core/remote-write/client.ts';
import { objectiveAlarms } from '../../core/slo/alarms.ts';
import { readObjectiveStatuses, type ObjectiveStatus } from '../../core/slo/objective-status.ts';
import { promDuration, sloRules } from '../../core/slo/rules.ts';
import { renderTable } from '../table.ts';

/** `readOnly` (no lock) for the commands that only read, so they run beside `argus serve`. */
async function withRuntime<T>(program: Command, fn: (rt: LocalRuntime) => Promise<T>, access: { readonly readOnly?: boolean } = {}): Promise<T> {
  const { LocalRuntime } = await import('../../adapters/local/local-runtime.ts');
  const runtime = await LocalRuntime.open({ home: resolveHome(program.opts<{ home?: string }>().home), readOnly: access.readOnly === true });
  try {
    return await fn(runtime);
  } finally {
    await runtime.close();
  }
}

const READ = { readOnly: true } as const;

function selectObjectives(rt: LocalRuntime, names: readonly string[] | undefined): ComplianceObjective[] {
  const all = [...rt.engine.index.objectives.values()];
  if (!names || names.length === 0) return all;
  return names.map((n) => {
    const o = rt.engine.index.objectives.get(n);
    if (!o) throw new ArgusError('NOT_FOUND', `ComplianceObjective "${n}" not found`, { name: n });
    return o;
  });
}

const pct = (x: number | undefined): string => (x === undefined ? '-' : Number.isFinite(x) ? `${(x * 100).toFixed(2)}%` : String(x));
const num = (x: number | undefined): string => (x === undefined ? '-' : Number.isFinite(x) ? x.toFixed(2) : String(x));

export function formatObjectiveStatuses(statuses: readonly ObjectiveStatus[]): string {
  return renderTable(
    ['objective', 'target', 'window', 'SLI now', 'SLI window', 'budget left', 'burn 1h', 'burn 6h', 'burn 1d', 'pairs ok/bad/unknown/exempt'],
    statuses.map((s) => [
      s.objective,
      pct(s.target),
      promDuration(s.windowMs),
      pct(s.sli),
      pct(s.windowSli),
      pct(s.errorBudgetRemaining),
      num(s.burnRates['1h']),
      num(s.burnRates['6h']),
      num(s.burnRates['1d']),
      `${s.pairs.compliant}/${s.pairs.nonCompliant}/${s.pairs.unknown}/${s.pairs.exempt}`,
    ]),
  );
}

function authFrom(opts: { bearerTokenEnv?: string; basicUser?: string; basicPasswordEnv?: string }): RemoteWriteAuth | undefined {
  const env = (name: string): string => {
    const v = process.env[name];
    if (v === undefined || v === '') throw new ArgusError('CONFIG', `environment variable ${name} is not set`, { name });
    return v;
  };
  if (opts.bearerTokenEnv) return bearerAuth(() => env(opts.bearerTokenEnv as string));
  if (opts.basicUser) return basicAuth(opts.basicUser, opts.basicPasswordEnv ? env(opts.basicPasswordEnv) : '');
  return undefined;
}

export function registerSloCommands(program: Command): void {
  const slo = program.command('slo').description('compliance objectives: Prometheus rules, status, alarms, remote-write');

  slo
    .command('rules')
    .description('write Prometheus recording and alerting rules (multi-window multi-burn-rate) for every objective')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .option('--objective <names...>', 'only these objectives')
    .option('--interval <duration>', 'rule group evaluation interval, e.g. 1m')
    .action(async (opts: { output?: string; objective?: string[]; interval?: string }) => {
      await withRuntime(program, async (rt) => {
        const objectives = selectObjectives(rt, opts.objective);
        if (objectives.length === 0) console.error('warning: no ComplianceObjective defined; the rule file has no groups');
        const yaml = stringify(sloRules(objectives, opts.interval ? { interval: promDuration(parseDuration(opts.interval)) } : {}), { lineWidth: 0 });
        if (opts.output) {
          await writeFile(opts.output, yaml);
          console.error(`wrote rules for ${objectives.length} objective(s) to ${opts.output}`);
        } else process.stdout.write(yaml);
      }, READ);
    });

  slo
    .command('status')
    .description('SLI now and over the window, error budget left and burn rates, from the recorded samples')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withRuntime(program, async (rt) => {
        const now = rt.clock.now();
        rt.engine.advanceTo(now);
        rt.engine.flush();
        const statuses = await readObjectiveStatuses(rt.store, rt.engine, now);
        if (opts.json) console.log(JSON.stringify(statuses, null, 2));
        else console.log(statuses.length === 0 ? 'No ComplianceObjective definitions.' : formatObjectiveStatuses(statuses));
      }, READ);
    });

  slo
    .command('alarms')
    .description('print the CloudWatch alarm specs of every objective (the data the CDK construct maps onto alarms)')
    .option('--period <duration>', 'publishing period', '60s')
    .action(async (opts: { period: string }) => {
      await withRuntime(program, async (rt) => {
        const periodSeconds = parseDuration(opts.period) / 1000;
        console.log(JSON.stringify(selectObjectives(rt, undefined).map((o) => objectiveAlarms(o, { periodSeconds })), null, 2));
      }, READ);
    });

  slo
    .command('push')
    .description('record SLI samples and push the compliance series with Prometheus remote-write, every interval')
    .requiredOption('--url <url>', 'remote-write endpoint, e.g. http://127.0.0.1:9090/api/v1/write')
    .option('--every <duration>', 'sampling and push interval', '60s')
    .option('--once', 'push once and exit')
    .option('--bearer-token-env <name>', 'environment variable holding a bearer token')
    .option('--basic-user <user>', 'basic auth user')
    .option('--basic-password-env <name>', 'environment variable holding the basic auth password')
    .action(async (opts: { url: string; every: string; once?: boolean; bearerTokenEnv?: string; basicUser?: string; basicPasswordEnv?: string }) => {
      await withRuntime(program, async (rt) => {
        const auth = authFrom(opts);
        const client = new RemoteWriteClient({ url: opts.url, clock: rt.clock, ...(auth ? { auth } : {}) });
        const publisher = new RemoteWritePublisher({ store: rt.store, engine: rt.engine, clock: rt.clock, client, intervalMs: parseDuration(opts.every) });
        const report = async (): Promise<void> => {
          const tick = await publisher.tick();
          const note = tick.flush.error ? `; ${tick.flush.pending} samples kept: ${tick.flush.error.message}` : '';
          console.log(`${new Date(tick.snapshot.at).toISOString()} pushed ${tick.flush.sent} samples in ${tick.flush.requests} request(s)${note}`);
        };
        await report();
        if (opts.once) {
          if (client.buffered > 0) process.exitCode = 1;
          return;
        }
        await new Promise<void>((resolve) => {
          const timer = setInterval(() => void report().catch((e: unknown) => console.error(`error: ${e instanceof Error ? e.message : String(e)}`)), parseDuration(opts.every));
          const stop = (): void => {
            clearInterval(timer);
            resolve();
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        await publisher.stop();
      });
    });
}
