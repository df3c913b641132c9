/**
 * `argus agent host`: runs the host agent until SIGTERM/SIGINT. Log lines are JSON on stdout.
 * Exit codes: 0 stopped by a signal, 2 refused by the control plane (wrong or revoked key,
 * unsupported version: the message says which versions are accepted).
 */
import type { Command } from 'commander';
import { ArgusError } from '../../core/errors.ts';
import type { AgentLog } from '../../provider-runtime/runtime.ts';

const jsonLog: AgentLog = (level, msg, fields = {}) => {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
};

export function registerAgentCommands(program: Command): void {
  const agent = program.command('agent').description('run an agent that pulls its work from a control plane (docs/agents.md)');
  agent
    .command('host')
    .description('attest this machine: files and commands, as the control plane assigns them')
    .requiredOption('--control-plane <url>', 'the control plane, e.g. http://127.0.0.1:8080')
    .requiredOption('--provider <name>', 'the agent Provider this host is')
    .option('--key <key>', 'the provider key (default: $ARGUS_AGENT_KEY)')
    .option('--name <name>', 'host resource name, host/<name> (default: the hostname)')
    .option('--files <paths>', 'comma-separated files to watch (default: /etc/passwd,/etc/shadow,/etc/group,/etc/ssh/sshd_config)')
    .option('--claim <n>', 'work items per claim', (v) => Number.parseInt(v, 10), 5)
    .option('--poll <ms>', 'pause when there is no work, in ms', (v) => Number.parseInt(v, 10), 2000)
    .action(async (opts: { controlPlane: string; provider: string; key?: string; name?: string; files?: string; claim: number; poll: number }) => {
      const key = opts.key ?? process.env.ARGUS_AGENT_KEY;
      if (!key) throw new ArgusError('USAGE', 'give --key or ARGUS_AGENT_KEY');
      // Only for compatibility tests: report another runtime version than this build's.
      const version = process.env.ARGUS_AGENT_REPORTED_VERSION;
      const { hostAgent } = await import('../../agents/host-agent.ts');
      const { ControlPlaneRejectedError } = await import('../../provider-runtime/client.ts');
      const runtime = hostAgent({
        controlPlane: opts.controlPlane,
        provider: opts.provider,
        key,
        ...(opts.name ? { name: opts.name } : {}),
        ...(opts.files ? { files: opts.files.split(',').filter(Boolean) } : {}),
        ...(version ? { version } : {}),
        claimMax: opts.claim,
        pollIntervalMs: opts.poll,
        log: jsonLog,
      });
      const stop = new AbortController();
      process.once('SIGTERM', () => stop.abort());
      process.once('SIGINT', () => stop.abort());
      try {
        await runtime.run(stop.signal);
        jsonLog('info', 'stopped');
      } catch (error) {
        if (error instanceof ControlPlaneRejectedError) {
          jsonLog('error', 'refused by the control plane', { status: error.status, code: error.errorCode, error: error.message });
          process.stderr.write(`argus agent: ${error.message}\n`);
          process.exitCode = 2;
          return;
        }
        throw error;
      }
    });
}
