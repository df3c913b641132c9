import { Option, type Command } from 'commander';
import type { LogFormat } from '../../adapters/local/api-logger.ts';
import { resolveHome } from '../../adapters/local/home.ts';
import { parseDuration } from '../../core/duration.ts';

/** Adds `argus serve` to the CLI. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve the API, /metrics and /openapi.json, and reconcile on a schedule, until SIGTERM/SIGINT')
    .option('--port <port>', 'TCP port (0 picks a free one)', (v) => Number.parseInt(v, 10), 8080)
    .option('--host <host>', 'address to bind; beyond loopback a token is required', '127.0.0.1')
    .option('--token <token>', 'bearer token every request but /healthz must carry (default: $ARGUS_API_TOKEN)')
    .option('--schedule <expression>', "reconcile schedule: rate(...), cron(...) or 'off'", 'rate(5 minutes)')
    .addOption(new Option('--log-format <format>', 'log lines').choices(['text', 'json']).default('text'))
    .addOption(new Option('--runner <runner>', 'workflow: the reconcile state machine as on AWS; direct: one in-process reconcile').choices(['workflow', 'direct']).default('workflow'))
    .option('--no-initial-reconcile', 'do not reconcile at start')
    .option('--work-lease <duration>', "lease of an agent's work item, e.g. 30s (docs/agents.md)", '30s')
    .action(async (opts: { port: number; host: string; token?: string; schedule: string; logFormat: LogFormat; runner: 'workflow' | 'direct'; initialReconcile: boolean; workLease: string }) => {
      const token = opts.token ?? process.env.ARGUS_API_TOKEN;
      // The API, metrics and workflow modules load only when serving: other commands start faster.
      const { runServe } = await import('../serve.ts');
      await runServe({
        home: resolveHome(program.opts<{ home?: string }>().home),
        host: opts.host,
        port: opts.port,
        ...(token ? { token } : {}),
        schedule: opts.schedule,
        logFormat: opts.logFormat,
        runner: opts.runner,
        initialReconcile: opts.initialReconcile,
        workLeaseMs: parseDuration(opts.workLease),
      });
    });
}
