/**
 * The `file` attestation provider: checks a file on the machine the provider runs on (an agent's
 * host, or the control plane's own machine for a `local` Provider): existence, permission bits,
 * owner, and lines that must or must not be there (RE2 patterns, linear time). With
 * `listeningPorts`, the file is a /proc/net/tcp table and the check is the set of listening ports.
 *
 * @example
 * spec:
 *   provider: file
 *   resourceTypes: [Host::File]
 *   params:
 *     path: /etc/shadow                 # default: the resource document's `path`
 *     forbiddenModeBits: "0077"         # no group/other access
 *     owner: 0
 *     require: ["^root:"]               # each pattern must match some line (tested line by line)
 *     forbid: ["^PermitRootLogin\\s+yes"]
 */
import { lstat, open } from 'node:fs/promises';
import { RE2JS } from '@bufbuild/re2';
import type { Attestation, Resource } from '../core/model.ts';
import type { AttestationProvider, ProviderOutcome } from '../core/ports/attestation-provider.ts';

const PARAMS = ['path', 'mustExist', 'maxMode', 'forbiddenModeBits', 'owner', 'group', 'require', 'forbid', 'maxBytes', 'listeningPorts'] as const;
const DEFAULT_MAX_BYTES = 1024 * 1024;
const HARD_MAX_BYTES = 16 * 1024 * 1024;

type Params = Readonly<Record<string, unknown>>;

function isMode(v: unknown): v is string {
  return typeof v === 'string' && /^0?[0-7]{3,4}$/.test(v);
}

function isStringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

function compiles(pattern: string): string | undefined {
  try {
    RE2JS.compile(pattern);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Listening TCP ports of a /proc/net/tcp or tcp6 table (state 0A). */
export function listeningPortsOf(table: string): number[] {
  const ports = new Set<number>();
  for (const line of table.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    const local = cols[1];
    if (cols[3] !== '0A' || local === undefined) continue;
    const port = Number.parseInt(local.split(':')[1] ?? '', 16);
    if (Number.isInteger(port)) ports.add(port);
  }
  return [...ports].sort((a, b) => a - b);
}

export class FileProvider implements AttestationProvider {
  readonly name = 'file';

  validateParams(params: Params): Array<[path: string, message: string]> {
    const problems: Array<[string, string]> = [];
    for (const key of Object.keys(params)) if (!(PARAMS as readonly string[]).includes(key)) problems.push([key, `unknown parameter (expected ${PARAMS.join(', ')})`]);
    const p = params;
    if (p.path !== undefined && (typeof p.path !== 'string' || !p.path.startsWith('/'))) problems.push(['path', 'expected an absolute path']);
    if (p.mustExist !== undefined && typeof p.mustExist !== 'boolean') problems.push(['mustExist', 'expected true or false']);
    for (const k of ['maxMode', 'forbiddenModeBits'] as const) if (p[k] !== undefined && !isMode(p[k])) problems.push([k, 'expected an octal mode string such as "0644"']);
    for (const k of ['owner', 'group'] as const) if (p[k] !== undefined && !(Number.isInteger(p[k]) && (p[k] as number) >= 0)) problems.push([k, 'expected a numeric id >= 0']);
    for (const k of ['require', 'forbid'] as const) {
      const v = p[k];
      if (v === undefined) continue;
      if (!isStringList(v)) problems.push([k, 'expected a list of patterns']);
      else v.forEach((pattern, i) => {
        const why = compiles(pattern);
        if (why) problems.push([`${k}[${i}]`, `not a valid RE2 pattern: ${why}`]);
      });
    }
    if (p.maxBytes !== undefined && !(Number.isInteger(p.maxBytes) && (p.maxBytes as number) > 0 && (p.maxBytes as number) <= HARD_MAX_BYTES)) problems.push(['maxBytes', `expected an integer in [1, ${HARD_MAX_BYTES}]`]);
    const lp = p.listeningPorts;
    if (lp !== undefined) {
      if (typeof lp !== 'object' || lp === null || Array.isArray(lp)) problems.push(['listeningPorts', 'expected { allowed: [ports] }']);
      else {
        const allowed = (lp as Record<string, unknown>).allowed;
        if (!Array.isArray(allowed) || !allowed.every((x) => Number.isInteger(x) && (x as number) > 0 && (x as number) < 65536)) problems.push(['listeningPorts.allowed', 'expected a list of TCP ports']);
        for (const key of Object.keys(lp)) if (key !== 'allowed') problems.push([`listeningPorts.${key}`, 'unknown parameter (expected allowed)']);
      }
    }
    return problems;
  }

  async attest(attestation: Attestation, resource: Resource): Promise<ProviderOutcome> {
    const p = attestation.spec.params;
    const doc = resource.spec.document as { path?: unknown } | null;
    const path = typeof p.path === 'string' ? p.path : typeof doc?.path === 'string' ? doc.path : undefined;
    if (path === undefined) return { outcome: 'Errored', message: 'no path: give params.path or a resource document with `path`' };
    let stats;
    try {
      stats = await lstat(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        return p.mustExist === false ? { outcome: 'Passed', message: `${path} does not exist`, output: { path, exists: false } } : { outcome: 'Failed', message: `${path} does not exist`, output: { path, exists: false } };
      }
      return { outcome: 'Errored', message: `cannot stat ${path}: ${code ?? String(error)}` };
    }
    const mode = stats.mode & 0o7777;
    const problems: string[] = [];
    const output: Record<string, unknown> = { path, exists: true, mode: `0${mode.toString(8).padStart(3, '0')}`, uid: stats.uid, gid: stats.gid, size: stats.size };
    if (isMode(p.maxMode)) {
      const extra = mode & ~Number.parseInt(p.maxMode, 8);
      if (extra !== 0) problems.push(`mode ${output.mode as string} has bits beyond ${p.maxMode} (0${extra.toString(8)})`);
    }
    if (isMode(p.forbiddenModeBits)) {
      const bad = mode & Number.parseInt(p.forbiddenModeBits, 8);
      if (bad !== 0) problems.push(`mode ${output.mode as string} has forbidden bits 0${bad.toString(8)}`);
    }
    if (typeof p.owner === 'number' && stats.uid !== p.owner) problems.push(`owner uid ${stats.uid}, expected ${p.owner}`);
    if (typeof p.group === 'number' && stats.gid !== p.group) problems.push(`group gid ${stats.gid}, expected ${p.group}`);
    const needsContent = isStringList(p.require) || isStringList(p.forbid) || p.listeningPorts !== undefined;
    if (needsContent) {
      if (!stats.isFile()) return { outcome: 'Errored', message: `${path} is not a regular file`, output };
      let text: string;
      try {
        text = await readCapped(path, typeof p.maxBytes === 'number' ? p.maxBytes : DEFAULT_MAX_BYTES);
      } catch (error) {
        return { outcome: 'Errored', message: `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, output };
      }
      const lines = text.split('\n');
      for (const pattern of isStringList(p.require) ? p.require : []) {
        const re = RE2JS.compile(pattern);
        if (!lines.some((line) => re.test(line))) problems.push(`no line matches ${JSON.stringify(pattern)}`);
      }
      for (const pattern of isStringList(p.forbid) ? p.forbid : []) {
        const re = RE2JS.compile(pattern);
        const hit = lines.find((line) => re.test(line));
        if (hit !== undefined) problems.push(`forbidden ${JSON.stringify(pattern)} matches ${JSON.stringify(hit.slice(0, 120))}`);
      }
      const lp = p.listeningPorts as { allowed?: unknown } | undefined;
      if (lp && Array.isArray(lp.allowed)) {
        const ports = listeningPortsOf(text);
        output.listeningPorts = ports;
        const unexpected = ports.filter((port) => !(lp.allowed as unknown[]).includes(port));
        if (unexpected.length > 0) problems.push(`unexpected listening port(s) ${unexpected.join(', ')}`);
      }
    }
    return problems.length === 0 ? { outcome: 'Passed', message: `${path} ok`, output } : { outcome: 'Failed', message: problems.join('; '), output: { ...output, problems } };
  }
}

async function readCapped(path: string, max: number): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(max);
    let size = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, size, max - size, null);
      if (bytesRead === 0 || size + bytesRead >= max) {
        size += bytesRead;
        break;
      }
      size += bytesRead;
    }
    return buf.subarray(0, size).toString('utf8');
  } finally {
    await handle.close();
  }
}
