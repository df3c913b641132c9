import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/core/digest.ts';
import { outputEvidence, sharedOutput } from '../../src/core/evidence/output-evidence.ts';

describe('output evidence', () => {
  it('describes an output by its JSON text and the SHA-256 of that text', () => {
    const output = { expression: 'resource.enc == true', value: false };

    const evidence = outputEvidence(output);

    expect(evidence).toEqual({ bytes: JSON.stringify(output), digest: `sha256:${sha256Hex(JSON.stringify(output))}` });
    expect(outputEvidence(undefined)).toBeUndefined();
  });

  it('gives a shared output the same bytes and digest as an equal unshared one, without recomputing them', () => {
    const shared = sharedOutput({ expression: 'has(resource.x)', value: true, detail: { checked: ['x'] } });

    expect(outputEvidence(shared)).toEqual(outputEvidence(structuredClone(shared)));
    expect(outputEvidence(shared)).toBe(outputEvidence(shared));
  });

  it('freezes a shared output all the way down, so its recorded digest cannot go stale', () => {
    const shared = sharedOutput({ detail: { checked: ['x'] } });

    expect(() => (shared.detail.checked as string[]).push('y')).toThrow(TypeError);
    expect(Object.isFrozen(shared.detail)).toBe(true);
  });
});
