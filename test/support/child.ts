/**
 * Child processes for integration and e2e tests: run a command, see its stdout line by line as it
 * comes (to kill it at a chosen point), and get its whole output and how it ended.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The `argus` command as installed (`bin` in package.json). */
export const ARGUS_CLI = fileURLToPath(new URL('../../bin/argus-cli.js', import.meta.url));

/**
 * tsx's loader for `node --import <it> script.ts`, resolved from this repository: a bare
 * `--import tsx` resolves from the child's working directory, which tests set elsewhere.
 */
export const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export interface ChildOutcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ChildOptions {
  readonly cwd?: string;
  /** Replaces the environment (the parent's is not inherited, so ARGUS_HOME never leaks in). */
  readonly env?: NodeJS.ProcessEnv;
  /** Called with each complete stdout line; `kill` sends SIGKILL. */
  readonly onLine?: (line: string, kill: () => void) => void;
  /** Called once the child is spawned, with the same `kill`. */
  readonly onSpawn?: (kill: () => void) => void;
  /** Kills the child and fails after this long (a hung child must not hang the suite). @default 120000 */
  readonly timeoutMs?: number;
}

/** A clean environment for children: PATH and HOME only, plus `extra`. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', NO_COLOR: '1' };
  if (process.env.HOME !== undefined) env.HOME = process.env.HOME;
  if (process.env.TMPDIR !== undefined) env.TMPDIR = process.env.TMPDIR;
  return { ...env, ...extra };
}

/**
 * Runs `node <args>` and resolves once the child exited and its output was read to the end
 * ('close', not 'exit': lines printed just before a kill are still counted).
 */
export function runNode(args: readonly string[], options: ChildOptions = {}): Promise<ChildOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...args], {
      cwd: options.cwd,
      env: options.env ?? childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const kill = (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, options.timeoutMs ?? 120_000);
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        options.onLine?.(line, kill);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(new Error(`node ${args.join(' ')} timed out\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      else resolve({ code, signal, stdout, stderr });
    });
    options.onSpawn?.(kill);
  });
}

/** Runs the `argus` CLI the way a user does: `node bin/argus-cli.js <args>`. */
export function runArgus(args: readonly string[], options: ChildOptions = {}): Promise<ChildOutcome> {
  return runNode([ARGUS_CLI, ...args], options);
}
