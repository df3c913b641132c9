/**
 * Every state machine definition in statemachines/ is valid ASL (asl-validator), both as written
 * (placeholders in place) and with its DefinitionSubstitutions applied as CloudFormation applies
 * them, and every placeholder is one the CDK construct substitutes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { aslPlaceholders, missingSubstitutions } from '../../lib/asl.ts';
import { validateAsl } from '../../src/adapters/local/asl-loader.ts';

const DIR = fileURLToPath(new URL('../../statemachines/', import.meta.url));
const FILES = fs.readdirSync(DIR).filter((f) => f.endsWith('.asl.json')).sort();

/** What ArgusControlPlane substitutes, per definition file (lib/ArgusControlPlane.ts). */
const DEPLOYED: Readonly<Record<string, readonly string[]>> = {
  'reconcile.asl.json': ['AttestShardFunctionArn', 'PlanFunctionArn', 'SummariseFunctionArn'],
};

function substituted(asl: string, names: readonly string[]): unknown {
  let text = asl;
  for (const name of names) text = text.replaceAll(`\${${name}}`, `arn:aws:lambda:eu-west-1:123456789012:function:argus-${name.replace(/FunctionArn$/, '')}`);
  return JSON.parse(text);
}

describe('state machine definitions', () => {
  it('finds at least the reconcile workflow', () => {
    expect(FILES).toContain('reconcile.asl.json');
  });

  for (const file of FILES) {
    describe(file, () => {
      const asl = fs.readFileSync(path.join(DIR, file), 'utf8');

      it('is deployed by the CDK app, with a substitution for every placeholder', () => {
        const names = DEPLOYED[file];
        expect(names, `${file} is not deployed by lib/ArgusControlPlane.ts`).toBeDefined();
        expect(aslPlaceholders(asl)).toEqual([...(names ?? [])].sort());
        expect(missingSubstitutions(asl, Object.fromEntries((names ?? []).map((n) => [n, 'x'])))).toEqual([]);
      });

      it('validates with asl-validator once substituted', () => {
        expect(validateAsl(substituted(asl, DEPLOYED[file] ?? []))).toEqual([]);
      });

      it('fans out with a Distributed Map where it maps', () => {
        const maps: Array<{ ItemProcessor?: { ProcessorConfig?: { Mode?: string } } }> = [];
        const visit = (states: Record<string, { Type?: string; ItemProcessor?: { States?: Record<string, never>; ProcessorConfig?: { Mode?: string } } }>): void => {
          for (const s of Object.values(states)) {
            if (s.Type === 'Map') maps.push(s);
            if (s.ItemProcessor?.States) visit(s.ItemProcessor.States);
          }
        };
        visit((JSON.parse(asl) as { States: Record<string, never> }).States);
        for (const m of maps) expect(m.ItemProcessor?.ProcessorConfig?.Mode).toBe('DISTRIBUTED');
      });
    });
  }
});
