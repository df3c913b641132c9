/**
 * CloudFormation YAML: the short-form intrinsic function tags (`!Ref`, `!Sub`, `!GetAtt`, ...)
 * read as their long JSON form (`{ Ref: ... }`, `{ 'Fn::Sub': ... }`), so JSON and YAML
 * templates yield the same documents and attestations see one shape.
 */
import { parseDocument, type Tags, type YAMLMap, type YAMLSeq } from 'yaml';

/** Short tag name → long-form key. `!GetAtt` has its own scalar form, see below. */
const FUNCTIONS: Readonly<Record<string, string>> = {
  Ref: 'Ref',
  Condition: 'Condition',
  ...Object.fromEntries(
    [
      'And', 'Base64', 'Cidr', 'Equals', 'FindInMap', 'GetAtt', 'GetAZs', 'If', 'ImportValue', 'Join',
      'Length', 'Not', 'Or', 'Select', 'Split', 'Sub', 'ToJsonString', 'Transform',
    ].map((name) => [name, `Fn::${name}`]),
  ),
};

function collectionTags(name: string, key: string): Tags {
  const toLongForm = (node: YAMLMap.Parsed | YAMLSeq.Parsed): Record<string, unknown> => ({ [key]: node.toJSON() });
  return [
    // Returning a plain object makes `yaml` wrap it in a Scalar whose JS value is that object.
    { tag: `!${name}`, collection: 'seq', resolve: toLongForm },
    { tag: `!${name}`, collection: 'map', resolve: toLongForm },
  ];
}

function scalarTag(name: string, key: string): Tags[number] {
  if (name === 'GetAtt') {
    return {
      tag: '!GetAtt',
      // `A.B.C` is resource A, attribute `B.C` (attribute names may contain dots).
      resolve(value: string, onError: (message: string) => void): unknown {
        const dot = value.indexOf('.');
        if (dot <= 0 || dot === value.length - 1) {
          onError(`!GetAtt ${value}: expected LogicalId.AttributeName`);
          return { [key]: [value] };
        }
        return { [key]: [value.slice(0, dot), value.slice(dot + 1)] };
      },
    };
  }
  return { tag: `!${name}`, resolve: (value: string): unknown => ({ [key]: value }) };
}

const CFN_TAGS: Tags = Object.entries(FUNCTIONS).flatMap(([name, key]) => [scalarTag(name, key), ...collectionTags(name, key)]);

/**
 * Parses CloudFormation YAML (or JSON, a subset of YAML) with short-form tags expanded.
 * Throws an Error listing every syntax problem and unknown tag with its line and column.
 */
export function parseCloudFormationYaml(text: string): unknown {
  const doc = parseDocument(text, { customTags: CFN_TAGS, prettyErrors: true, uniqueKeys: true });
  // `yaml` only warns on an unknown tag and keeps the raw value; CloudFormation would reject it.
  const problems = [...doc.errors, ...doc.warnings.filter((w) => w.code === 'TAG_RESOLVE_FAILED')];
  if (problems.length > 0) throw new Error(problems.map((p) => (p.message.split('\n')[0] ?? '').replace(/:$/, '')).join('; '));
  return doc.toJS({ maxAliasCount: 1000 });
}
