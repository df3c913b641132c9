/**
 * The `command` attestation provider: runs one program with an explicit argv (never a shell),
 * a timeout, a cap on the output it reads and a clean environment, then checks the exit code and
 * the output.
 *
 * Trust model: attestations are definitions that administrators author (manifests, the admin
 * API); an agent runs what they name on its host, with the agent's privileges. So no argv comes
 * from a resource document or an agent report, there is no shell (no expansion, no pipes, no
 * `;`), the program must be an absolute path or a bare name found on PATH, and the run is bounded
 * in time and output. Run agents as an unprivileged user where the checks allow it.
 *
 * @example
 * spec:
 *   provider: command
 *   resourceTypes: [Host]
 *   params:
 *     argv: [dpkg-query, -W, "-f=${Version}", openssl]
 *     expectExitCode: 0                 # default 0; a list allows several
 *     stdoutMatches: "^3\\."             # RE2, on the whole stdout
 *     minVersion: "3.0.2"               # stdout (trimmed) compared as a dotted version
 *     maxOutputBytes: 65536             # default 64 KiB; output beyond is cut and noted
 */
import { spawn } from 'node:child_process';
import { RE2JS } from '@bufbuild/re2';
import type { Attestation, Resource } from '../core/model.ts';
import type { AttestationProvider, ProviderOutcome } from '../core/ports/attestation-provider.ts';

const PARAMS = ['argv', 'expectExitCode', 'stdoutMatches', 'stdoutNotMatches', 'minVersion', 'maxOutputBytes'] as const;
const DEFAULT_MAX_OUTPUT = 64 * 1024;
const HARD_MAX_OUTPUT = 4 * 1024 * 1024;
const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

type Params = Readonly<Record<string, unknown>>;

export interface CommandRun {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly truncated: boolean;
  readonly timedOut: boolean;
}

/** Runs argv without a shell; kills it after `timeoutMs`; keeps at most `maxBytes` of each stream. */
export function runArgv(argv: readonly string[], timeoutMs: number, maxBytes: number): Promise<CommandRun> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = argv;
    if (file === undefined) return reject(new Error('empty argv'));
    const child = spawn(file, args, { shell: false, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: SAFE_PATH, LC_ALL: 'C' }, windowsHide: true });
    let stdout: Buffer = Buffer.alloc(0);
    let stderr: Buffer = Buffer.alloc(0);
    let truncated = false;
    let timedOut = false;
    const keep = (into: Buffer, chunk: Buffer): Buffer => {
      if (into.length >= maxBytes) {
        truncated = true;
        return into;
      }
      if (into.length + chunk.length > maxBytes) truncated = true;
      return Buffer.concat([into, chunk.subarray(0, maxBytes - into.length)]);
    };
    child.stdout.on('data', (c: Buffer) => (stdout = keep(stdout, c)));
    child.stderr.on('data', (c: Buffer) => (stderr = keep(stderr, c)));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ exitCode: code, signal, stdout: stdout.toString('utf8'), stderr: stderr.toString('utf8'), truncated, timedOut });
    });
  });
}

/** Compares dotted versions numerically, Debian epochs and revisions aside (`1:3.0.2-0ubuntu1` → 3.0.2). */
export function compareVersions(a: string, b: string): number {
  const norm = (v: string) =>
    v
      .trim()
      .replace(/^\d+:/, '')
      .split(/[-+~]/)[0]!
      .split('.')
      .map((x) => Number.parseInt(x, 10) || 0);
  const x = norm(a);
  const y = norm(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export class CommandProvider implements AttestationProvider {
  readonly name = 'command';

  validateParams(params: Params): Array<[path: string, message: string]> {
    const problems: Array<[string, string]> = [];
    for (const key of Object.keys(params)) if (!(PARAMS as readonly string[]).includes(key)) problems.push([key, `unknown parameter (expected ${PARAMS.join(', ')})`]);
    const argv = params.argv;
    if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) problems.push(['argv', 'required: a non-empty list of strings (program and arguments; no shell)']);
    else {
      const program = argv[0] as string;
      if (program === '' || (program.includes('/') && !program.startsWith('/'))) problems.push(['argv[0]', 'expected an absolute path or a program name found on PATH']);
      if (argv.some((a) => (a as string).includes('\u0000'))) problems.push(['argv', 'arguments may not contain NUL']);
    }
    const e = params.expectExitCode;
    if (e !== undefined && !(Number.isInteger(e) || (Array.isArray(e) && e.length > 0 && e.every((x) => Number.isInteger(x))))) problems.push(['expectExitCode', 'expected an exit code or a list of them']);
    for (const k of ['stdoutMatches', 'stdoutNotMatches'] as const) {
      const v = params[k];
      if (v === undefined) continue;
      if (typeof v !== 'string') problems.push([k, 'expected an RE2 pattern']);
      else {
        try {
          RE2JS.compile(v);
        } catch (error) {
          problems.push([k, `not a valid RE2 pattern: ${error instanceof Error ? error.message : String(error)}`]);
        }
      }
    }
    if (params.minVersion !== undefined && (typeof params.minVersion !== 'string' || !/^\d+(\.\d+)*$/.test(params.minVersion))) problems.push(['minVersion', 'expected a dotted version such as "3.0.2"']);
    const m = params.maxOutputBytes;
    if (m !== undefined && !(Number.isInteger(m) && (m as number) > 0 && (m as number) <= HARD_MAX_OUTPUT)) problems.push(['maxOutputBytes', `expected an integer in [1, ${HARD_MAX_OUTPUT}]`]);
    return problems;
  }

  async attest(attestation: Attestation, _resource: Resource): Promise<ProviderOutcome> {
    const p = attestation.spec.params;
    if (this.validateParams(p).length > 0) return { outcome: 'Errored', message: 'invalid params' };
    const argv = p.argv as string[];
    const max = typeof p.maxOutputBytes === 'number' ? p.maxOutputBytes : DEFAULT_MAX_OUTPUT;
    let run: CommandRun;
    try {
      run = await runArgv(argv, attestation.spec.timeoutMs, max);
    } catch (error) {
      return { outcome: 'Errored', message: `cannot run ${argv[0]}: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
    }
    const output = { argv, exitCode: run.exitCode, signal: run.signal, stdout: run.stdout, stderr: run.stderr, truncated: run.truncated };
    if (run.timedOut) return { outcome: 'Errored', message: `${argv[0]} timed out after ${attestation.spec.timeoutMs} ms`, output };
    const expected = p.expectExitCode === undefined ? [0] : Array.isArray(p.expectExitCode) ? (p.expectExitCode as number[]) : [p.expectExitCode as number];
    const problems: string[] = [];
    if (run.exitCode === null || !expected.includes(run.exitCode)) problems.push(`exit code ${run.exitCode ?? run.signal}, expected ${expected.join(' or ')}`);
    if (typeof p.stdoutMatches === 'string' && !RE2JS.compile(p.stdoutMatches).test(run.stdout)) problems.push(`stdout does not match ${JSON.stringify(p.stdoutMatches)}`);
    if (typeof p.stdoutNotMatches === 'string' && RE2JS.compile(p.stdoutNotMatches).test(run.stdout)) problems.push(`stdout matches ${JSON.stringify(p.stdoutNotMatches)}`);
    if (typeof p.minVersion === 'string' && compareVersions(run.stdout, p.minVersion) < 0) problems.push(`version ${run.stdout.trim().slice(0, 60)} < ${p.minVersion}`);
    return problems.length === 0 ? { outcome: 'Passed', message: `${argv[0]} ok`, output } : { outcome: 'Failed', message: problems.join('; '), output };
  }
}
