import type { ComplianceEngine } from '../compliance/engine.ts';

/**
 * The agent Provider that owns a resource's work, if any: its `spec.provider` names a Provider of
 * type `agent`. Such pairs are pulled by that agent as work items, never run in-process.
 */
export function agentOwnerOf(engine: ComplianceEngine, resource: string): string | undefined {
  // Most organisations have no Provider definitions at all: one size check on the hot path.
  if (engine.index.providers.size === 0) return undefined;
  const name = engine.index.resources.get(resource)?.spec.provider;
  if (name === undefined) return undefined;
  return engine.index.providers.get(name)?.spec.type === 'agent' ? name : undefined;
}
