/**
 * The `argus` CLI as a user runs it: every call is a child process (`node bin/argus-cli.js`),
 * with its state directory given by `--home` or by `ARGUS_HOME`, in a working directory of its
 * own. The journey goes from the quickstart catalog to a passing `report --fail-on` gate.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalRuntime } from '../../src/adapters/local/local-runtime.ts';
import type { ComplianceReport } from '../../src/core/report.ts';
import { childEnv, runArgus, runNode, TSX_LOADER, type ChildOutcome } from '../support/child.ts';
import { tempDirs } from '../support/temp-dirs.ts';

const QUICKSTART = fileURLToPath(new URL('../../examples/quickstart/', import.meta.url));
const CATALOG = path.join(QUICKSTART, 'catalog.yaml');
const TEMPLATE = path.join(QUICKSTART, 'template.yaml');
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
/** Generous: the machine is small and shared, and every step starts a Node process. */
const TIMEOUT = 240_000;

const tempDir = tempDirs('all');

/** Fails with the child's output, so a broken step says why. */
function expectExit(outcome: ChildOutcome, code: number): void {
  expect(outcome.code, `exit code\nstdout:\n${outcome.stdout}\nstderr:\n${outcome.stderr}`).toBe(code);
}

/** Command names listed under `Commands:` in commander's help, without `help` itself. */
function listedCommands(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1] as string).filter((c) => c !== 'help');
}

/** `argus <command...> --help` for every command at any depth, parsed in-process by the CLI's own program. */
async function helpOfEveryCommand(): Promise<Array<{ path: string; exitCode: number; output: string }>> {
  const { buildProgram } = await import('../../src/cli/main.ts');
  const paths = (cmd: Command, prefix: string[]): string[][] =>
    cmd.commands.filter((c) => c.name() !== 'help').flatMap((c) => [[...prefix, c.name()], ...paths(c, [...prefix, c.name()])]);
  const out: Array<{ path: string; exitCode: number; output: string }> = [];
  for (const argv of paths(buildProgram(), [])) {
    const program = buildProgram();
    let output = '';
    const quiet = (cmd: Command): void => {
      cmd.exitOverride().configureOutput({ writeOut: (text) => void (output += text), writeErr: (text) => void (output += text) });
      cmd.commands.forEach(quiet);
    };
    quiet(program);
    let exitCode = -1;
    try {
      await program.parseAsync([...argv, '--help'], { from: 'user' });
    } catch (error) {
      if (!(error instanceof CommanderError)) throw error;
      exitCode = error.exitCode;
    }
    out.push({ path: argv.join(' '), exitCode, output });
  }
  return out;
}

function expectConsistentTotals(report: ComplianceReport): void {
  const { totals, findings, requirements } = report;
  expect(totals.pairs).toBe(findings.length);
  expect(totals.compliant + totals.nonCompliant + totals.unknown + totals.exempt).toBe(totals.pairs);
  expect(totals.compliant).toBe(findings.filter((f) => f.status === 'Compliant').length);
  expect(totals.nonCompliant).toBe(findings.filter((f) => f.status === 'NonCompliant').length);
  expect(totals.unknown).toBe(findings.filter((f) => f.status === 'Unknown').length);
  expect(totals.exempt).toBe(findings.filter((f) => f.status === 'Exempt').length);
  expect(requirements.reduce((n, r) => n + r.applicable, 0)).toBe(totals.pairs);
  for (const r of requirements) {
    expect(r.compliant + r.nonCompliant + r.unknown + r.exempt, r.requirement).toBe(r.applicable);
    expect(r.applicable, r.requirement).toBe(findings.filter((f) => f.requirement === r.requirement).length);
    expect(r.ratio, r.requirement).toBeCloseTo(r.applicable === r.exempt ? 1 : r.compliant / (r.applicable - r.exempt), 10);
  }
}

describe('argus CLI, as a user runs it', () => {
  it.concurrent('prints help for every command and lists the commands', async () => {
    const cwd = tempDir('argus-e2e-help-');

    // As a user types it: the command list, and a nested command (each process costs seconds here).
    const top = await runArgus(['--help'], { cwd });
    const nested = await runArgus(['import', 'cloudformation', '--help'], { cwd });
    // Every command, nested ones included, through the CLI's own parser in this process.
    const all = await helpOfEveryCommand();

    expectExit(top, 0);
    expect(top.stdout).toMatch(/^Usage: argus /m);
    const commands = listedCommands(top.stdout);
    expect(commands).toEqual(expect.arrayContaining(['apply', 'import', 'delete', 'get', 'describe', 'attest', 'report', 'quickstart']));
    expectExit(nested, 0);
    expect(nested.stdout).toMatch(/^Usage: argus import cloudformation \[options\] <paths\.\.\.>/m);
    expect(all.map((h) => h.path)).toEqual(expect.arrayContaining([...commands, 'import cloudformation']));
    for (const { path: name, exitCode, output } of all) {
      expect(exitCode, name).toBe(0);
      expect(output, name).toMatch(new RegExp(`^Usage: argus ${name} `, 'm'));
    }
    // Nothing ran against a store: no state directory appeared in the working directory.
    expect(fs.readdirSync(cwd)).toEqual([]);
  }, TIMEOUT);

  it.concurrent('rejects an attest batch size of 0 instead of hanging, before touching any store', async () => {
    const cwd = tempDir('argus-e2e-batch-');

    const outcome = await runArgus(['attest', '--batch-size', '0'], { cwd, timeoutMs: 60_000 });

    expectExit(outcome, 1);
    expect(outcome.stderr).toContain("option '--batch-size <n>' argument '0' is invalid. must be a positive integer.");
    expect(fs.readdirSync(cwd)).toEqual([]);
  }, TIMEOUT);

  it.concurrent('runs the quickstart once (npm start) and prints a table with Compliant and NonCompliant rows, Argus itself included', async () => {
    const home = tempDir('argus-e2e-quickstart-');

    // What `npm start` runs (tsx src/cli/main.ts quickstart), state chosen by ARGUS_HOME.
    const outcome = await runNode(['--import', TSX_LOADER, MAIN, 'quickstart', '--once'], { cwd: tempDir('argus-e2e-cwd-'), env: childEnv({ ARGUS_HOME: home }) });

    expectExit(outcome, 0);
    expect(outcome.stdout).toContain(`state in ${home}`);
    expect(outcome.stdout).toMatch(/^REQUIREMENT +FRAMEWORKS +SEVERITY/m);
    expect(outcome.stdout).toMatch(/^REQUIREMENT +RESOURCE +TYPE +STATUS +WHY/m);
    expect(outcome.stdout).toMatch(/^\S+ +quickstart\/\S+ +\S+ +Compliant +all attestations passed/m);
    expect(outcome.stdout).toMatch(/^\S+ +quickstart\/\S+ +\S+ +NonCompliant +AttestationFailed: /m);
    // Argus's own stacks (examples/quickstart/argus-cdk.out) are attested beside the sample, and pass.
    expect(outcome.stdout).toMatch(/^au-11 +ArgusControlPlane\/\S+ +AWS::Logs::LogGroup +Compliant +all attestations passed/m);
    expect(outcome.stdout).not.toMatch(/^\S+ +Argus(Data|ControlPlane|MemberAccount)\/\S+ +\S+ +NonCompliant/m);
    expect(outcome.stdout).toMatch(/^Overall: \d+\/\d+ pairs compliant/m);
    expect(fs.existsSync(path.join(home, 'wal.jsonl'))).toBe(true);
  }, TIMEOUT);

  it.concurrent('rejects a manifest with a typo in a provider name, naming file, document and field, and applies nothing', async () => {
    const home = tempDir('argus-e2e-bad-');
    const file = path.join(tempDir('argus-e2e-bad-manifests-'), 'catalog.yaml');
    fs.writeFileSync(
      file,
      [
        'apiVersion: argus.dev/v1alpha1',
        'kind: Requirement',
        'metadata: { name: new-requirement }',
        'spec: { title: A new requirement }',
        '---',
        'apiVersion: argus.dev/v1alpha1',
        'kind: Attestation',
        'metadata: { name: new-attestation }',
        'spec: { provider: cel, params: { expression: "true" } }',
        '---',
        'apiVersion: argus.dev/v1alpha1',
        'kind: Implementation',
        'metadata: { name: new-implementation }',
        'spec:',
        '  requirements: [new-requirement]',
        '  targets: {}',
        '  attestations:',
        '    - provider: cell',
        '      params: { expression: "true" }',
        '    - new-attestation',
        '',
      ].join('\n'),
    );

    const applied = await runArgus(['--home', home, 'apply', '-f', file]);

    expect(applied.code).not.toBe(0);
    expect(applied.code).not.toBeNull();
    expect(applied.stderr).toContain(`${file} doc 3: spec.attestations[0].provider: unknown provider "cell"; did you mean "cel"?`);
    expect(applied.stdout).not.toMatch(/created|configured/);
    const requirements = await runArgus(['--home', home, 'get', 'requirements']);
    const attestations = await runArgus(['--home', home, 'get', 'attestations', '-o', 'json']);
    expectExit(requirements, 0);
    expect(requirements.stdout.trim()).toBe('No Requirement definitions.');
    expectExit(attestations, 0);
    expect(JSON.parse(attestations.stdout)).toEqual([]);
  }, TIMEOUT);

  it.concurrent('reads with get, describe, report and dry runs while another process holds the home, and refuses apply with the lock error', async () => {
    const home = tempDir('argus-e2e-locked-');
    const cwd = tempDir('argus-e2e-locked-cwd-');
    // What `argus serve` is to the CLI: a runtime in this process holds the home's lock throughout.
    const writer = await LocalRuntime.open({ home, fsync: false });
    try {
      await writer.applyFiles([CATALOG]);
      await writer.importCloudFormation([TEMPLATE]);
      await writer.reconcile();
      const expected = writer.report();
      // The catalog with SC-28 at version 2: a dry run shows its pairs invalidated, and writes nothing.
      const bumped = path.join(tempDir('argus-e2e-locked-bumped-'), 'catalog.yaml');
      fs.writeFileSync(bumped, fs.readFileSync(CATALOG, 'utf8').replace(/(name: sc-28\n[\s\S]*?\n  version: )1\n/, '$12\n'));

      const [table, json, requirements, described, applied, dryRun, dryImport, dryJson] = await Promise.all([
        runArgus(['--home', home, 'report'], { cwd }),
        runArgus(['--home', home, 'report', '--format', 'json'], { cwd }),
        runArgus(['--home', home, 'get', 'requirements'], { cwd }),
        runArgus(['--home', home, 'describe', 'resource', 'quickstart/AssetsBucket'], { cwd }),
        runArgus(['--home', home, 'apply', '-f', CATALOG], { cwd }),
        runArgus(['--home', home, 'apply', '-f', bumped, '--dry-run'], { cwd }),
        runArgus(['--home', home, 'import', 'cloudformation', TEMPLATE, '--dry-run'], { cwd }),
        runArgus(['--home', home, 'apply', '-f', bumped, '--dry-run', '-o', 'json'], { cwd }),
      ]);

      expectExit(table, 0);
      expect(table.stdout).toMatch(/^sc-28 +quickstart\/AssetsBucket +AWS::S3::Bucket +NonCompliant +AttestationFailed: /m);
      expect(table.stdout).toContain(`Overall: ${expected.totals.compliant}/${expected.totals.pairs} pairs compliant`);
      expectExit(json, 0);
      const report = JSON.parse(json.stdout) as ComplianceReport;
      expectConsistentTotals(report);
      expect(report.totals).toEqual(expected.totals);
      expectExit(requirements, 0);
      expect(requirements.stdout).toMatch(/^sc-28 +v1 high nist-800-53:SC-28,soc2:CC6.1 Protection of Information at Rest/m);
      expectExit(described, 0);
      expect(described.stdout).toMatch(/^ {2}requirement sc-28 v1 \(Protection of Information at Rest\): NonCompliant \(AttestationFailed\)/m);
      expectExit(applied, 2);
      expect(applied.stderr).toContain(`is locked by process ${process.pid}`);
      expect(applied.stderr).toContain('--api');
      expectExit(dryRun, 0);
      expect(dryRun.stdout).toMatch(/^requirement\/sc-28 configured$/m);
      expect(dryRun.stdout).toMatch(/^22 definitions unchanged$/m);
      expect(dryRun.stdout).toContain('dry run: nothing written');
      const sc28Pairs = expected.findings.filter((f) => f.requirement === 'sc-28').length;
      expect(dryRun.stdout).toContain(`pairs due: 0 now, ${sc28Pairs} after the apply (newly due: ${sc28Pairs} RequirementVersionChanged)`);
      expect(dryRun.stdout).toContain(`${expected.totals.unknown + sc28Pairs} unknown, 0 exempt after the apply`);
      expectExit(dryJson, 0);
      expect(JSON.parse(dryJson.stdout)).toMatchObject({
        configured: [{ kind: 'Requirement', name: 'sc-28' }],
        preview: { due: { now: 0, after: sc28Pairs }, newlyDue: { RequirementVersionChanged: sc28Pairs } },
      });
      expectExit(dryImport, 0);
      expect(dryImport.stdout).toContain('pairs due: 0 now, 0 after the apply\n');
      expect(writer.engine.index.requirements.get('sc-28')?.spec.version).toBe(1);
      // The readers left the writer's lock and state alone.
      expect(fs.readFileSync(path.join(home, 'LOCK'), 'utf8').trim()).toBe(String(process.pid));
      expect(fs.readdirSync(cwd)).toEqual([]);
      expect((await writer.apply([], [{ kind: 'Requirement', name: 'sc-8' }])).deleted).toEqual([{ kind: 'Requirement', name: 'sc-8' }]);
    } finally {
      await writer.close();
    }
  }, TIMEOUT);

  describe.concurrent('from the quickstart catalog to a passing compliance gate', () => {
    let home: string;
    let cwd: string;
    let work: string;
    /** `--home` with a decoy ARGUS_HOME: the flag must win. */
    let viaFlag: (args: readonly string[]) => Promise<ChildOutcome>;
    /** `ARGUS_HOME` only. */
    let viaEnv: (args: readonly string[]) => Promise<ChildOutcome>;
    let decoy: string;
    let firstReport: ComplianceReport;

    beforeAll(() => {
      home = tempDir('argus-e2e-home-');
      cwd = tempDir('argus-e2e-cwd-');
      work = tempDir('argus-e2e-work-');
      decoy = path.join(tempDir('argus-e2e-decoy-'), 'not-this-one');
      viaFlag = (args) => runArgus(['--home', home, ...args], { cwd, env: childEnv({ ARGUS_HOME: decoy }) });
      viaEnv = (args) => runArgus(args, { cwd, env: childEnv({ ARGUS_HOME: home }) });
    });

    it.sequential('applies the catalog with --home and imports the template with ARGUS_HOME into the same store', async () => {
      const applied = await viaFlag(['apply', '-f', CATALOG]);
      expectExit(applied, 0);
      expect(applied.stdout).toMatch(/definitions created|requirement\/sc-28 created/);

      const imported = await viaEnv(['import', 'cloudformation', TEMPLATE]);
      expectExit(imported, 0);
      expect(imported.stdout).toMatch(/created/);

      // --home beat ARGUS_HOME, and neither used ./.argus.
      expect(fs.existsSync(decoy)).toBe(false);
      expect(fs.readdirSync(cwd)).toEqual([]);
    }, TIMEOUT);

    it.sequential('lists requirements as a table, and as YAML that re-applies unchanged', async () => {
      // One command at a time, as a user types them (reads could share the home; writes hold its lock).
      const table = await viaFlag(['get', 'requirements']);
      const yaml = await viaEnv(['get', 'requirements', '-o', 'yaml']);

      expectExit(table, 0);
      expect(table.stdout).toMatch(/^NAME +SUMMARY/m);
      expect(table.stdout).toMatch(/^sc-28 +v1 high nist-800-53:SC-28,soc2:CC6.1 Protection of Information at Rest/m);
      expectExit(yaml, 0);
      const docs = yaml.stdout.split(/^---$/m).map((d) => parse(d) as { kind: string; metadata: { name: string } });
      expect(docs.every((d) => d.kind === 'Requirement')).toBe(true);
      expect(docs.map((d) => d.metadata.name)).toEqual(['ac-6', 'au-11', 'cp-9', 'sc-28', 'sc-8']);

      const file = path.join(work, 'requirements.yaml');
      fs.writeFileSync(file, yaml.stdout);
      const reapplied = await viaFlag(['apply', '-f', file]);
      expectExit(reapplied, 0);
      expect(reapplied.stdout.trim().split('\n').sort()).toEqual(docs.map((d) => `requirement/${d.metadata.name} unchanged`).sort());
    }, TIMEOUT);

    it.sequential('attests every pair, and the report gate fails on the noncompliant resources with their reasons', async () => {
      const attested = await viaEnv(['attest']);
      expectExit(attested, 0);
      const counts = /attested (\d+) of (\d+) due pairs in \d+ ms: (\d+) passed, (\d+) failed, (\d+) errored/.exec(attested.stdout);
      expect(counts, attested.stdout).not.toBeNull();
      const [, evaluated, planned, passed, failed, errored] = (counts ?? []).map(Number);
      expect(evaluated).toBe(planned);
      expect(passed).toBeGreaterThan(0);
      expect(failed).toBeGreaterThan(0);
      expect(errored).toBe(0);

      const gate = await viaFlag(['report', '--fail-on', 'noncompliant']);
      const json = await viaEnv(['report', '--format', 'json']);

      expectExit(gate, 1);
      expect(gate.stdout).toMatch(/^sc-28 +quickstart\/AssetsBucket +AWS::S3::Bucket +NonCompliant +AttestationFailed: s3-bucket-encrypted: bucket does not declare default encryption/m);
      expect(gate.stdout).toMatch(/^ac-6 +quickstart\/OpsAdminRole +AWS::IAM::Role +NonCompliant +AttestationFailed: iam-role-not-admin: role allows every action/m);
      expect(gate.stdout).not.toMatch(/ Compliant +all attestations passed/);
      expect(gate.stderr).toMatch(/\d+ pair\(s\) not compliant/);
      expectExit(json, 0);
      firstReport = JSON.parse(json.stdout) as ComplianceReport;
      expectConsistentTotals(firstReport);
      expect(firstReport.totals.unknown).toBe(0);
      expect(firstReport.totals.nonCompliant).toBe(failed);
      expect(firstReport.totals.compliant).toBeGreaterThan(0);
      expect(gate.stdout).toContain(`Overall: ${firstReport.totals.compliant}/${firstReport.totals.pairs} pairs compliant`);

      // A gate on one framework or one control counts only its pairs; a typo is refused, not passed.
      const [soc2, tls, typo, csv, oscalFiltered, markdown] = await Promise.all([
        viaEnv(['report', '--framework', 'soc2', '--format', 'json', '--fail-on', 'noncompliant']),
        viaEnv(['report', '--framework', 'nist-800-53:SC-8', '--fail-on', 'noncompliant']),
        viaEnv(['report', '--framework', 'soc3', '--fail-on', 'noncompliant']),
        viaEnv(['report', '--format', 'csv']),
        viaEnv(['report', '--format', 'oscal-ar', '--framework', 'soc2']),
        viaEnv(['report', '--format', 'markdown']),
      ]);
      expectExit(markdown, 0);
      expect(markdown.stdout).toContain(`## Compliance: ${firstReport.totals.compliant}/${firstReport.totals.pairs} pairs compliant`);
      expect(markdown.stdout).toMatch(/^\| sc-28 \| quickstart\/AssetsBucket \| AWS::S3::Bucket \| NonCompliant \| AttestationFailed: s3-bucket-encrypted: /m);
      expectExit(oscalFiltered, 2);
      expect(oscalFiltered.stderr).toContain('--format oscal-ar exports every requirement');
      expectExit(csv, 0);
      const csvLines = csv.stdout.trimEnd().split('\r\n');
      expect(csvLines[0]).toBe('requirement,frameworks,severity,resource,resource_type,status,reason,effective_status,detail,waiver,waiver_approver,waiver_expires_at');
      expect(csvLines).toHaveLength(firstReport.totals.pairs + 1);
      expect(csvLines).toContain('sc-28,nist-800-53:SC-28 soc2:CC6.1,high,quickstart/DataBucket,AWS::S3::Bucket,Compliant,Implemented,Compliant,,,,');
      expectExit(soc2, 1);
      const soc2Report = JSON.parse(soc2.stdout) as ComplianceReport;
      expect(soc2Report.requirements.map((r) => r.requirement).sort()).toEqual(['ac-6', 'cp-9', 'sc-28', 'sc-8']);
      expect(soc2Report.totals.pairs).toBe(firstReport.findings.filter((f) => f.requirement !== 'au-11').length);
      expectExit(tls, 1);
      expect(tls.stdout).toMatch(/^Overall: 1\/2 pairs compliant/m);
      expect(tls.stderr).toContain('1 pair(s) not compliant');
      expectExit(typo, 2);
      expect(typo.stderr).toContain('no requirement maps to framework "soc3"; did you mean "soc2"?');
    }, TIMEOUT);

    it.sequential('describes a failing bucket as requirement → implementation → attestation result with the failure message', async () => {
      const outcome = await viaFlag(['describe', 'resource', 'quickstart/AssetsBucket']);

      expectExit(outcome, 0);
      const lines = outcome.stdout.split('\n');
      const at = (re: RegExp): number => lines.findIndex((l) => re.test(l));
      const requirement = at(/^ {2}requirement sc-28 v1 \(Protection of Information at Rest\): NonCompliant \(AttestationFailed\)/);
      const implementation = at(/^ {4}implementation quickstart-encryption-at-rest \[PreventativeControl\] \(cascades from an ancestor\): not valid/);
      const attestation = at(/^ {6}attestation s3-bucket-encrypted: Failed at \S+: bucket does not declare default encryption/);
      expect([requirement, implementation, attestation].every((i) => i >= 0), outcome.stdout).toBe(true);
      expect(requirement).toBeLessThan(implementation);
      expect(implementation).toBeLessThan(attestation);
      expect(outcome.stdout).toMatch(/^ {6}attestation s3-bucket-versioning: Failed .*: bucket versioning is not enabled/m);
    }, TIMEOUT);

    it.sequential('describes the stack with its children rolling up into it', async () => {
      const outcome = await viaEnv(['describe', 'resource', 'quickstart']);

      expectExit(outcome, 0);
      expect(outcome.stdout).toMatch(/^ {2}requirement sc-28 \(from descendants\): NonCompliant \(ChildNonCompliant\)/m);
      expect(outcome.stdout).toContain('Children (roll up into this resource):');
      expect(outcome.stdout).toMatch(/^ {2}quickstart\/AssetsBucket \(AWS::S3::Bucket\): cp-9=NonCompliant, sc-28=NonCompliant$/m);
      expect(outcome.stdout).toMatch(/^ {2}quickstart\/DataBucket \(AWS::S3::Bucket\): cp-9=Compliant, sc-28=Compliant$/m);
    }, TIMEOUT);

    it.sequential('passes the gate once the bucket is fixed in the template and the rest is waived', async () => {
      // A fixed template: the assets bucket gets default encryption and versioning.
      const anchor = '  AssetsBucket:\n    Type: AWS::S3::Bucket\n    Properties:\n';
      const original = fs.readFileSync(TEMPLATE, 'utf8');
      expect(original).toContain(anchor);
      const fixed = path.join(work, 'template.yaml');
      fs.writeFileSync(
        fixed,
        original.replace(
          anchor,
          `${anchor}      BucketEncryption:\n        ServerSideEncryptionConfiguration:\n          - ServerSideEncryptionByDefault:\n              SSEAlgorithm: AES256\n      VersioningConfiguration:\n        Status: Enabled\n`,
        ),
      );
      // Waivers for every other failing pair, one per requirement.
      const failing = firstReport.findings.filter((f) => f.status === 'NonCompliant' && f.resource !== 'quickstart/AssetsBucket');
      const byRequirement = new Map<string, string[]>();
      for (const f of failing) byRequirement.set(f.requirement, [...(byRequirement.get(f.requirement) ?? []), f.resource]);
      const waivers = path.join(work, 'waivers.yaml');
      fs.writeFileSync(
        waivers,
        [...byRequirement]
          .map(([req, ids]) =>
            [
              'apiVersion: argus.dev/v1alpha1',
              'kind: Waiver',
              `metadata: { name: waive-${req} }`,
              'spec:',
              `  requirement: ${req}`,
              `  resources: { ids: [${ids.join(', ')}] }`,
              '  reason: Remediation tracked in the e2e test',
              '  approver: ciso@example.com',
              '  expires: 2099-12-31T00:00:00Z',
              '',
            ].join('\n'),
          )
          .join('---\n'),
      );

      const imported = await viaFlag(['import', 'cloudformation', fixed]);
      expectExit(imported, 0);
      expect(imported.stdout).toContain('resource/quickstart/AssetsBucket configured');
      const waived = await viaEnv(['apply', '-f', waivers]);
      expectExit(waived, 0);
      expect(waived.stdout).toContain(`waiver/waive-${[...byRequirement.keys()][0]} created`);
      const attested = await viaFlag(['attest']);
      expectExit(attested, 0);
      expect(attested.stdout).toMatch(/ 0 failed, 0 errored/);
      const gate = await viaEnv(['report', '--format', 'json', '--fail-on', 'noncompliant']);

      expectExit(gate, 0);
      const report = JSON.parse(gate.stdout) as ComplianceReport;
      expectConsistentTotals(report);
      expect(report.totals.nonCompliant).toBe(0);
      expect(report.totals.unknown).toBe(0);
      expect(report.totals.exempt).toBe(failing.length);
      expect(report.totals.pairs).toBe(firstReport.totals.pairs);
      const bucket = report.findings.filter((f) => f.resource === 'quickstart/AssetsBucket');
      expect(bucket.map((f) => [f.requirement, f.status])).toEqual([
        ['cp-9', 'Compliant'],
        ['sc-28', 'Compliant'],
      ]);
      for (const f of report.findings.filter((x) => x.status === 'Exempt')) expect(f.waiver?.approver).toBe('ciso@example.com');
    }, TIMEOUT);
  });
});
