/**
 * Argus's own stacks as the quickstart attests them: the default app synthesised as `cdk synth`
 * does (cdk.json's context, no account), without bundling the functions, and written as a
 * minimal cloud assembly: `manifest.json` listing the stacks, and their templates (asset keys, which
 * depend on the checkout's path, given a placeholder). The quickstart
 * catalog then checks the project's own deployment beside the sample application.
 *
 *   npm run quickstart:synth      # rewrites examples/quickstart/argus-cdk.out
 *
 * test/integration/quickstart-assembly.test.ts fails when the committed copy differs from a
 * fresh synth, so a change to the CDK app is attested by the quickstart it ships with.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { buildArgusApp } from './app.ts';

export const QUICKSTART_ASSEMBLY_DIR = fileURLToPath(new URL('../examples/quickstart/argus-cdk.out/', import.meta.url));
const CDK_JSON = fileURLToPath(new URL('../cdk.json', import.meta.url));

/** A stack's file in the assembly, and its template. */
export interface AssemblyFile {
  readonly name: string;
  readonly text: string;
}

/**
 * Synthesises the default app and returns the files of its minimal assembly: one template per
 * stack and a manifest naming them (what `readCdkOut` reads), as formatted text.
 */
export function synthQuickstartAssembly(): AssemblyFile[] {
  const { context } = JSON.parse(fs.readFileSync(CDK_JSON, 'utf8')) as { context: Record<string, unknown> };
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'argus-quickstart-synth-'));
  try {
    // No stack is bundled: function code does not matter to the rules, and the asset keys stay stable.
    const app = new App({ outdir, context: { ...context, 'aws:cdk:bundling-stacks': [] } });
    const { data, controlPlane, member } = buildArgusApp(app);
    const assembly = app.synth();
    const files: AssemblyFile[] = [];
    const artifacts: Record<string, { type: string; properties: { templateFile: string } }> = {};
    for (const stack of [data, controlPlane, member]) {
      const artifact = assembly.getStackByName(stack.stackName);
      artifacts[stack.stackName] = { type: 'aws:cloudformation:stack', properties: { templateFile: artifact.templateFile } };
      files.push({ name: artifact.templateFile, text: `${JSON.stringify(withoutAssetHashes(artifact.template), null, 1)}\n` });
    }
    files.push({ name: 'manifest.json', text: `${JSON.stringify({ version: assembly.version, artifacts }, null, 2)}\n` });
    return files;
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

/** What stands for an asset's content hash in the committed templates. */
export const ASSET_HASH_PLACEHOLDER = '{asset-hash}';
const ASSET_KEY = /^[0-9a-f]{64}(\.[a-z]+)$/;

/**
 * The template with every asset key (`S3Key: <sha256>.zip`) given a placeholder hash. Without
 * bundling, the CDK hashes an asset's build inputs, its absolute path among them, so the keys
 * differ from one checkout to another; everything else is exactly what the app synthesises.
 */
function withoutAssetHashes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutAssetHashes);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) {
    const asset = key === 'S3Key' && typeof member === 'string' ? ASSET_KEY.exec(member) : null;
    out[key] = asset ? `${ASSET_HASH_PLACEHOLDER}${asset[1]}` : withoutAssetHashes(member);
  }
  return out;
}

/** Replaces the assembly in `dir` (created when missing) with `files`; other files there are removed. */
export function writeQuickstartAssembly(files: readonly AssemblyFile[], dir: string = QUICKSTART_ASSEMBLY_DIR): void {
  fs.mkdirSync(dir, { recursive: true });
  const keep = new Set(files.map((f) => f.name));
  for (const name of fs.readdirSync(dir)) if (!keep.has(name)) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  for (const file of files) fs.writeFileSync(path.join(dir, file.name), file.text);
}
