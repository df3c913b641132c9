import { DEFINITION_KINDS, type DefinitionKind } from '../core/model.ts';
import { didYouMean } from '../core/manifest/suggest.ts';
import { ArgusError } from '../core/errors.ts';

const ALIASES: Readonly<Record<string, DefinitionKind>> = {
  req: 'Requirement',
  impl: 'Implementation',
  att: 'Attestation',
  res: 'Resource',
  slo: 'ComplianceObjective',
  objective: 'ComplianceObjective',
};

/** Accepts `Requirement`, `requirement`, `requirements` and short aliases such as `req`. */
export function parseKind(text: string): DefinitionKind {
  const lower = text.toLowerCase();
  for (const kind of DEFINITION_KINDS) {
    const k = kind.toLowerCase();
    if (lower === k || lower === `${k}s`) return kind;
  }
  const alias = ALIASES[lower] ?? ALIASES[lower.replace(/s$/, '')];
  if (alias) return alias;
  throw new ArgusError('USAGE', `unknown kind "${text}"${didYouMean(text, DEFINITION_KINDS)}; kinds: ${DEFINITION_KINDS.join(', ')}`);
}
