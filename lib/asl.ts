/** DefinitionSubstitutions placeholders (`${Name}`) of an ASL document, checked against the substitutions given. */

export function aslPlaceholders(asl: string): string[] {
  return [...new Set([...asl.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1] as string))].sort();
}

export function missingSubstitutions(asl: string, substitutions: Readonly<Record<string, string>>): string[] {
  return aslPlaceholders(asl).filter((p) => !(p in substitutions));
}

export function unusedSubstitutions(asl: string, substitutions: Readonly<Record<string, string>>): string[] {
  const used = new Set(aslPlaceholders(asl));
  return Object.keys(substitutions).filter((k) => !used.has(k)).sort();
}
