/**
 * Every Lambda entry under functions/ bundles with esbuild as the CDK bundles it (ESM, Node 22,
 * everything inlined), so an import that cannot be resolved or a Node-20-only construct fails
 * here rather than at `cdk deploy`. The entries the stack deploys must also export `handler`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { describe, expect, it } from 'vitest';
import { API_FAMILY_ENTRIES } from '../../lib/ApiRoutes.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FUNCTIONS = path.join(ROOT, 'functions');

function entries(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? entries(path.join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path.join(dir, e.name)] : []))
    .sort();
}

/** What ArgusControlPlane deploys (handler `index.handler`), relative to functions/. */
const DEPLOYED = ['reconcile-plan.ts', 'reconcile-attest-shard.ts', 'reconcile-summarise.ts', 'stream-handler.ts', 'cloudwatch-publisher.ts', 'remote-write.ts', ...Object.values(API_FAMILY_ENTRIES)];

describe('Lambda bundles', () => {
  const files = entries(FUNCTIONS);
  let bundled: Promise<esbuild.BuildResult<{ metafile: true; write: false }>> | undefined;
  const bundle = () =>
    (bundled ??= esbuild.build({
      entryPoints: files,
      outdir: path.join(ROOT, 'node_modules', '.cache', 'argus-bundle-test'),
      outbase: FUNCTIONS,
      write: false,
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'esm',
      mainFields: ['module', 'main'],
      metafile: true,
      logLevel: 'silent',
      banner: { js: "import { createRequire as __argusCreateRequire } from 'node:module'; const require = __argusCreateRequire(import.meta.url);" },
    }));
  const outputsByEntry = async () => {
    const results = await bundle();
    return new Map(Object.values(results.metafile?.outputs ?? {}).filter((o) => o.entryPoint).map((o) => [path.relative(FUNCTIONS, path.resolve(ROOT, o.entryPoint as string)), o]));
  };

  it('finds the entries', () => {
    expect(files.length).toBeGreaterThanOrEqual(10);
  });

  it('bundles every functions/**/*.ts entry for Node 22 as ESM', { timeout: 300_000 }, async () => {
    const results = await bundle();
    expect(results.errors).toEqual([]);
    const byEntry = await outputsByEntry();
    expect([...byEntry.keys()].sort()).toEqual(files.map((f) => path.relative(FUNCTIONS, f)).sort());
    for (const [entry, out] of byEntry) expect(out.bytes, entry).toBeGreaterThan(0);
  });

  it('exports `handler` from every entry the stack deploys', { timeout: 300_000 }, async () => {
    const byEntry = await outputsByEntry();
    // Without it the function deploys and fails at its first invocation (Runtime.HandlerNotFound).
    const missingHandler = DEPLOYED.filter((e) => byEntry.has(e) && !byEntry.get(e)?.exports.includes('handler'));
    expect(missingHandler, `deployed entries without a handler export: ${missingHandler.join(', ')}`).toEqual([]);
  });
});
