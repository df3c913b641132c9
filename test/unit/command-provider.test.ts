import { describe, expect, it } from 'vitest';
import { CommandProvider, compareVersions } from '../../src/providers/command-provider.ts';
import { attestation, resource } from '../support/builders.ts';

describe('command provider', () => {
  const provider = new CommandProvider();
  const host = resource('host/x', 'Host');
  const check = (params: Record<string, unknown>, timeoutMs = 10_000) => provider.attest(attestation('a', { provider: 'command', params, timeoutMs }), host);

  it('runs argv without a shell: metacharacters are plain arguments', async () => {
    const r = await check({ argv: ['echo', 'a;', 'rm', '-rf', '$HOME', '|', 'cat'], stdoutMatches: '^a; rm -rf \\$HOME \\| cat\\n' });
    expect(r.outcome).toBe('Passed');
  });

  it('checks the exit code and the output', async () => {
    expect((await check({ argv: ['false'] })).message).toContain('exit code 1, expected 0');
    expect((await check({ argv: ['false'], expectExitCode: [1] })).outcome).toBe('Passed');
    expect((await check({ argv: ['echo', 'PermitRootLogin yes'], stdoutNotMatches: 'yes' })).outcome).toBe('Failed');
  });

  it('compares package versions (dpkg style)', async () => {
    expect(compareVersions('1:3.0.13-0ubuntu3', '3.0.2')).toBeGreaterThan(0);
    expect(compareVersions('2.9', '3.0.2')).toBeLessThan(0);
    expect((await check({ argv: ['echo', '9.1-1'], minVersion: '9.0' })).outcome).toBe('Passed');
    expect((await check({ argv: ['echo', '8.32-4'], minVersion: '9.0' })).message).toContain('< 9.0');
  });

  it('kills a command at its timeout and caps the output it keeps', async () => {
    expect(await check({ argv: ['sleep', '30'] }, 300)).toMatchObject({ outcome: 'Errored', message: 'sleep timed out after 300 ms' });
    const big = await check({ argv: ['head', '-c', '100000', '/dev/zero'], maxOutputBytes: 1024 });
    expect(big.output).toMatchObject({ truncated: true });
    expect((big.output as { stdout: string }).stdout.length).toBe(1024);
  });

  it('errors for a program that does not exist', async () => {
    expect((await check({ argv: ['/nonexistent/program'] })).outcome).toBe('Errored');
  });

  it('rejects a shell string, relative paths and bad patterns at apply time', () => {
    expect(provider.validateParams({ argv: 'ls -l | wc' }).map(([p]) => p)).toEqual(['argv']);
    expect(provider.validateParams({ argv: ['./script.sh'] }).map(([p]) => p)).toEqual(['argv[0]']);
    expect(provider.validateParams({ argv: ['ls'], stdoutMatches: '(', shell: true }).map(([p]) => p)).toEqual(['shell', 'stdoutMatches']);
  });
});
