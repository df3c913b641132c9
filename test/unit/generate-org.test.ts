import { describe, expect, it } from 'vitest';
import { generateOrganisation } from '../../bench/generate-org.ts';
import type { Attestation, Resource } from '../../src/core/model.ts';
import { CelProvider } from '../../src/providers/cel-provider.ts';

describe('generateOrganisation', () => {
  it('makes every rule fail on the failure rate of its own resources, among resources that pass it', () => {
    const shape = { resources: 600, requirements: 6, attestationsPerRequirement: 5, accounts: 2, servicesPerAccount: 3, failureRate: 0.1 };
    const { definitions, pairs } = generateOrganisation(shape);
    const resources = definitions.filter((d): d is Resource => d.kind === 'Resource');
    const attestations = definitions.filter((d): d is Attestation => d.kind === 'Attestation');
    const cel = new CelProvider();
    let evaluated = 0;
    for (const attestation of attestations) {
      const covered = resources.filter((r) => attestation.spec.resourceTypes.includes(r.spec.type));
      const outcomes = covered.map((r) => cel.attest(attestation, r).outcome);
      evaluated += outcomes.length;
      expect(outcomes.filter((o) => o === 'Errored')).toEqual([]);
      // 100 resources per type: 10 fail each rule, and the rule passes on the other 90.
      expect(outcomes.filter((o) => o === 'Failed')).toHaveLength(10);
      expect(outcomes.filter((o) => o === 'Passed')).toHaveLength(90);
    }
    expect(evaluated).toBe(pairs);
  });
});
