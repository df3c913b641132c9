/**
 * The quickstart attests Argus's own stacks from a committed copy of their synthesised templates
 * (examples/quickstart/argus-cdk.out). This keeps that copy honest: it must equal a fresh synth
 * of the CDK app, so a change to lib/ shows up in what the quickstart attests.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ASSET_HASH_PLACEHOLDER, QUICKSTART_ASSEMBLY_DIR, synthQuickstartAssembly } from '../../lib/quickstart-assembly.ts';
import { readCdkOut } from '../../src/sources/cloudformation.ts';

describe("the quickstart's copy of Argus's own stacks", () => {
  it('equals a fresh synth of the CDK app (refresh it with npm run quickstart:synth)', () => {
    const fresh = synthQuickstartAssembly();

    const committed = fs.readdirSync(QUICKSTART_ASSEMBLY_DIR).sort();
    expect(committed, 'files in examples/quickstart/argus-cdk.out').toEqual(fresh.map((f) => f.name).sort());
    for (const file of fresh) {
      const text = fs.readFileSync(path.join(QUICKSTART_ASSEMBLY_DIR, file.name), 'utf8');
      // Compared as JSON first for a readable diff, then byte for byte.
      expect(JSON.parse(text), `${file.name} differs from a fresh synth: run npm run quickstart:synth`).toEqual(JSON.parse(file.text));
      expect(text).toBe(file.text);
    }
  }, 60_000);

  it('holds no asset hash, which would differ from one checkout to another', () => {
    for (const name of fs.readdirSync(QUICKSTART_ASSEMBLY_DIR)) {
      const text = fs.readFileSync(path.join(QUICKSTART_ASSEMBLY_DIR, name), 'utf8');
      expect(text, name).not.toMatch(/"S3Key": "[0-9a-f]{64}/);
    }
    expect(fs.readFileSync(path.join(QUICKSTART_ASSEMBLY_DIR, 'ArgusControlPlane.template.json'), 'utf8')).toContain(`"S3Key": "${ASSET_HASH_PLACEHOLDER}.zip"`);
  });

  it('reads as the three stacks with their resources as children', async () => {
    const resources = await readCdkOut(QUICKSTART_ASSEMBLY_DIR);
    const stacks = resources.filter((r) => r.spec.parent === undefined).map((r) => r.metadata.name);

    expect(stacks.sort()).toEqual(['ArgusControlPlane', 'ArgusData', 'ArgusMemberAccount']);
    expect(resources.filter((r) => r.spec.parent === 'ArgusData').map((r) => r.spec.type)).toEqual(expect.arrayContaining(['AWS::DynamoDB::Table', 'AWS::S3::Bucket', 'AWS::KMS::Key']));
  });
});
