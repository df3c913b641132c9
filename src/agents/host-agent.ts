/**
 * The host agent: attests the machine it runs on. It reports the host (`Host`) and the files it
 * is told to watch (`Host::File`, child of the host, document `{ path }`), and runs the `file` and
 * `command` attestation providers for the work the control plane assigns it.
 *
 * @example
 * argus agent host --control-plane https://argus.example.com --provider web-01 --key "$ARGUS_AGENT_KEY"
 */
import { readFile } from 'node:fs/promises';
import { arch, hostname, platform, release } from 'node:os';
import { hostProviders } from '../providers/registry.ts';
import type { ReportedResource } from '../provider-runtime/client.ts';
import { ProviderRuntime, type AgentLog } from '../provider-runtime/runtime.ts';

/** Files a host agent watches unless told otherwise. */
export const DEFAULT_HOST_FILES = ['/etc/passwd', '/etc/shadow', '/etc/group', '/etc/ssh/sshd_config'] as const;

export interface HostAgentOptions {
  readonly controlPlane: string;
  readonly provider: string;
  readonly key: string;
  /** Name of the host resource (`host/<name>`). @default os.hostname() */
  readonly name?: string;
  readonly files?: readonly string[];
  readonly version?: string;
  readonly claimMax?: number;
  readonly pollIntervalMs?: number;
  readonly log?: AgentLog;
}

function osRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=("?)(.*)\2$/.exec(line.trim());
    if (m && ['ID', 'VERSION_ID', 'PRETTY_NAME'].includes(m[1] ?? '')) out[m[1] ?? ''] = m[3] ?? '';
  }
  return out;
}

/** The host and its watched files, as resources. */
export async function discoverHost(name: string, files: readonly string[]): Promise<ReportedResource[]> {
  const host = `host/${name}`;
  const os = await readFile('/etc/os-release', 'utf8').then(osRelease, () => ({}));
  return [
    { name: host, type: 'Host', labels: { 'argus.dev/agent': 'host' }, document: { hostname: hostname(), platform: platform(), release: release(), arch: arch(), os } },
    ...files.map((path) => ({ name: `${host}/file:${path}`, type: 'Host::File', parent: host, document: { path } })),
  ];
}

export function hostAgent(options: HostAgentOptions): ProviderRuntime {
  const name = options.name ?? hostname();
  const files = options.files ?? DEFAULT_HOST_FILES;
  return new ProviderRuntime({
    controlPlane: options.controlPlane,
    provider: options.provider,
    key: options.key,
    agentId: `host-agent@${name}:${process.pid}`,
    hostname: hostname(),
    providers: hostProviders(),
    discover: () => discoverHost(name, files),
    ...(options.version === undefined ? {} : { version: options.version }),
    ...(options.claimMax === undefined ? {} : { claimMax: options.claimMax }),
    ...(options.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.pollIntervalMs }),
    ...(options.log === undefined ? {} : { log: options.log }),
  });
}
