import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileProvider, listeningPortsOf } from '../../src/providers/file-provider.ts';
import { attestation, resource } from '../support/builders.ts';

describe('file provider', () => {
  const provider = new FileProvider();
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'argus-file-provider-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  const check = (params: Record<string, unknown>, document: unknown = {}) => provider.attest(attestation('a', { provider: 'file', params }), resource('host/x/file', 'Host::File', { document }));

  it('passes a file within its mode and fails a world-writable one, naming the bits', async () => {
    const ok = join(dir, 'ok');
    const open = join(dir, 'open');
    await writeFile(ok, 'x');
    await writeFile(open, 'x');
    await chmod(ok, 0o640);
    await chmod(open, 0o666);
    expect(await check({ forbiddenModeBits: '0002', maxMode: '0644' }, { path: ok })).toMatchObject({ outcome: 'Passed', output: { mode: '0640' } });
    const failed = await check({ path: open, forbiddenModeBits: '0002' });
    expect(failed.outcome).toBe('Failed');
    expect(failed.message).toContain('forbidden bits 02');
  });

  it('checks required and forbidden lines (sshd style)', async () => {
    const conf = join(dir, 'sshd_config');
    await writeFile(conf, '# comment\nPermitRootLogin no\nPasswordAuthentication yes\n');
    expect((await check({ path: conf, require: ['^PermitRootLogin\\s+no\\b'] })).outcome).toBe('Passed');
    const r = await check({ path: conf, forbid: ['^PasswordAuthentication\\s+yes'] });
    expect(r).toMatchObject({ outcome: 'Failed' });
    expect(r.message).toContain('PasswordAuthentication yes');
  });

  it('fails a missing file unless mustExist is false, and errors without a path', async () => {
    expect((await check({ path: join(dir, 'absent') })).outcome).toBe('Failed');
    expect((await check({ path: join(dir, 'absent'), mustExist: false })).outcome).toBe('Passed');
    expect((await check({})).outcome).toBe('Errored');
  });

  it('reads listening ports from a /proc/net/tcp table', async () => {
    const table = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0',
      '   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0',
      '   2: 0100007F:A2B4 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0',
    ].join('\n');
    expect(listeningPortsOf(table)).toEqual([22, 8080]);
    const path = join(dir, 'tcp');
    await writeFile(path, table);
    const r = await check({ path, listeningPorts: { allowed: [22] } });
    expect(r).toMatchObject({ outcome: 'Failed', message: 'unexpected listening port(s) 8080' });
  });

  it('rejects bad params at apply time', () => {
    expect(provider.validateParams({ path: 'relative', maxMode: '999', require: ['('], colour: 1 }).map(([p]) => p)).toEqual(['colour', 'path', 'maxMode', 'require[0]']);
  });
});
