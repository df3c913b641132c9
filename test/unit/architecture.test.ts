/**
 * The dependency rule (DESIGN §2, STYLE "Structure") as a test: src/core depends on nothing but
 * itself and pure libraries; lib/ (CDK) imports no runtime code except shared names (and the few
 * pure core functions listed in LIB_MAY_IMPORT).
 * Import specifiers are read with TypeScript's own pre-processor, so `import type`, `export ...
 * from`, dynamic `import()` and `require()` all count.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CORE = path.join(ROOT, 'src', 'core');
const LIB = path.join(ROOT, 'lib');

/** Packages and Node built-ins the core must never reach: cloud SDKs, infrastructure, I/O. */
const CORE_FORBIDDEN_PACKAGES: readonly RegExp[] = [
  /^aws-cdk-lib(\/|$)/,
  /^constructs(\/|$)/,
  /^cdk-nag(\/|$)/,
  /^@aws-sdk\//,
  /^aws-sdk(\/|$)/,
  /^aws-lambda(\/|$)/,
  /^@types\/aws-lambda(\/|$)/,
  /^@middy\//,
  /^@aws-lambda-powertools\//,
];
const CORE_FORBIDDEN_BUILTINS: ReadonlySet<string> = new Set([
  'fs',
  'fs/promises',
  'net',
  'http',
  'https',
  'http2',
  'child_process',
  'dgram',
  'dns',
  'dns/promises',
  'tls',
  'cluster',
  'worker_threads',
  'readline',
]);

/**
 * Files under src/ that lib/ may import, each with why: shared names, plus pure core functions the
 * CDK app deliberately shares with the runtime (the core rule below keeps them free of I/O and
 * SDKs). Anything else from src/ or functions/ is runtime code. A new entry is a design decision.
 */
const LIB_MAY_IMPORT: Readonly<Record<string, string>> = {
  'src/core/keys.ts': 'table key formats',
  'src/core/table-design.ts': 'table attribute and index names',
  'src/core/metric-names.ts': 'metric names',
  'src/core/schedule.ts': 'schedule expressions checked at synth with the runtime parser',
  'src/core/slo/alarms.ts': 'alarm specs computed by the same code as `argus slo alarms`',
};

function isSharedName(file: string): boolean {
  return path.relative(ROOT, file).split(path.sep).join('/') in LIB_MAY_IMPORT;
}

interface PackageJson {
  readonly imports?: Readonly<Record<string, string>>;
}
const IMPORT_ALIASES = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as PackageJson).imports ?? {};

function tsFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...tsFiles(full));
    else if (/\.(c|m)?tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(full);
  }
  return out.sort();
}

/** Every module specifier a source text imports, re-exports or loads dynamically. */
function importSpecifiers(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/** The file a relative or `#alias/*` specifier points to; undefined for a package. */
function resolveLocal(from: string, specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/')) return path.resolve(path.dirname(from), specifier);
  if (!specifier.startsWith('#')) return undefined;
  for (const [pattern, target] of Object.entries(IMPORT_ALIASES)) {
    if (pattern.endsWith('/*') && specifier.startsWith(pattern.slice(0, -1))) {
      return path.resolve(ROOT, target.replace('*', specifier.slice(pattern.length - 1)));
    }
    if (pattern === specifier) return path.resolve(ROOT, target);
  }
  return path.join(ROOT, '<unresolved alias>', specifier);
}

function isInside(dir: string, file: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** Why `specifier`, imported by the core file `from`, breaks the rule; undefined when it is fine. */
function coreViolation(from: string, specifier: string): string | undefined {
  const local = resolveLocal(from, specifier);
  if (local !== undefined) return isInside(CORE, local) ? undefined : `reaches outside src/core (${path.relative(ROOT, local)})`;
  const builtin = specifier.startsWith('node:') ? specifier.slice('node:'.length) : specifier;
  if (CORE_FORBIDDEN_BUILTINS.has(builtin)) return 'does I/O (Node built-in)';
  if (CORE_FORBIDDEN_PACKAGES.some((p) => p.test(specifier))) return 'is an AWS, infrastructure or Lambda package';
  return undefined;
}

/** Why `specifier`, imported by the lib/ file `from`, breaks the rule; undefined when it is fine. */
function libViolation(from: string, specifier: string): string | undefined {
  const local = resolveLocal(from, specifier);
  if (local === undefined) return undefined;
  const runtime = isInside(path.join(ROOT, 'src'), local) || isInside(path.join(ROOT, 'functions'), local);
  return runtime && !isSharedName(local) ? `imports runtime code (${path.relative(ROOT, local)})` : undefined;
}

function violations(files: readonly string[], check: (from: string, specifier: string) => string | undefined): string[] {
  const out: string[] = [];
  for (const file of files) {
    for (const specifier of importSpecifiers(fs.readFileSync(file, 'utf8'))) {
      const why = check(file, specifier);
      if (why) out.push(`${path.relative(ROOT, file)}: "${specifier}" ${why}`);
    }
  }
  return out;
}

describe('dependency rule', () => {
  describe('the import reader', () => {
    it('sees static, type-only, re-exported, dynamic and required imports', () => {
      const source = [
        "import fs from 'node:fs';",
        "import type { Handler } from 'aws-lambda';",
        "export { x } from '../adapters/local/x.ts';",
        "const m = await import('@aws-sdk/client-s3');",
        "const c = require('node:child_process');",
      ].join('\n');

      expect(importSpecifiers(source)).toEqual(['node:fs', 'aws-lambda', '../adapters/local/x.ts', '@aws-sdk/client-s3', 'node:child_process']);
    });

    it('flags each kind of forbidden core import and accepts the allowed ones', () => {
      const from = path.join(CORE, 'use-cases', 'example.ts');

      for (const bad of ['node:fs', 'fs/promises', 'node:net', 'node:http', 'https', 'node:child_process', 'aws-cdk-lib', 'aws-cdk-lib/aws-s3', '@aws-sdk/client-dynamodb', 'aws-lambda', '@middy/core', '../../adapters/local/embedded-store.ts', '../../../bench/generate-org.ts', '#adapters/local/local-runtime.ts', '#cli/main.ts']) {
        expect(coreViolation(from, bad), bad).toBeDefined();
      }
      for (const good of ['../model.ts', './reconcile.ts', '#core/errors.ts', 'node:crypto', 'yaml']) {
        expect(coreViolation(from, good), good).toBeUndefined();
      }
    });

    it('lets lib/ import shared names but not runtime code', () => {
      const from = path.join(LIB, 'argus-stack.ts');

      expect(libViolation(from, '../src/core/keys.ts')).toBeUndefined();
      expect(libViolation(from, 'aws-cdk-lib')).toBeUndefined();
      expect(libViolation(from, '../src/core/use-cases/reconcile.ts')).toBeDefined();
      expect(libViolation(from, '../src/adapters/aws/dynamodb-store.ts')).toBeDefined();
      expect(libViolation(from, '../functions/reconcile-plan.ts')).toBeDefined();
    });
  });

  it('src/core imports nothing outside src/core, no AWS, CDK, Lambda or middy package and no I/O module', () => {
    const files = tsFiles(CORE);
    expect(files.length).toBeGreaterThan(10);

    expect(violations(files, coreViolation)).toEqual([]);
  });

  it.skipIf(tsFiles(LIB).length === 0)('lib/ imports no runtime code from src/ or functions/, only shared names', () => {
    expect(violations(tsFiles(LIB), libViolation)).toEqual([]);
  });
});
