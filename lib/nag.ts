/**
 * cdk-nag acknowledgements for the wildcards that CDK grant methods write. cdk-nag 3 matches an
 * acknowledged finding exactly (`AwsSolutions-IAM5[Resource::<Table1234.Arn>/index/*]`), and the
 * exact text depends on logical ids and on cross-stack exports that exist only once the app is
 * prepared. So each acknowledgement here names a pattern and its reason; a construct validation
 * (run after references are resolved, before validation plugins) turns the findings of the
 * policies under a scope that match a pattern into exact acknowledgements. Findings matching no
 * pattern stay findings.
 */
import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import type { IConstruct } from 'constructs';

export interface WildcardAcknowledgement {
  /** Matched against the finding, e.g. `Resource::<Table.Arn>/index/*` or `Action::kms:GenerateDataKey*`. */
  readonly finding: RegExp;
  readonly reason: string;
}

/** Wildcards that `grant*` methods of aws-cdk-lib write, and why each is acceptable. */
export const GRANT_WILDCARDS: readonly WildcardAcknowledgement[] = [
  { finding: /^Resource::.+\/index\/\*$/, reason: 'grantReadData/grantReadWriteData on the table: the functions query its global secondary indexes (gsi1, gsi2) by name; the grant covers the indexes of this one table only.' },
  { finding: /^Action::kms:(GenerateDataKey|ReEncrypt)\*$/, reason: 'KMS grant through grantReadWriteData/grantPut: data keys for the one customer managed key of the table and evidence bucket.' },
  { finding: /^Action::s3:(Abort|PutObjectLegalHold|PutObjectRetention|PutObjectTagging|PutObjectVersionTagging|DeleteObject)\*$/, reason: 'grantPut on the evidence bucket: object writes (with retention and tags) under the bucket only.' },
  { finding: /^Action::s3:(GetObject|GetBucket|List)\*$/, reason: 'grantRead on the evidence bucket: reads of that bucket only.' },
  { finding: /^Resource::.*Evidence.*\/\*$/, reason: 'Objects of the evidence bucket (bucket ARN + /*): evidence keys are content digests known only at run time.' },
  { finding: /^Resource::<[^>]+\.Arn>:\*$/, reason: 'Lambda grantInvoke: the function and its versions and aliases (`:*`).' },
];

/** Findings of the AwsSolutions-IAM5 rule, computed as cdk-nag computes them. */
export function wildcardFindings(document: unknown): string[] {
  const out = new Set<string>();
  const statements = (document as { Statement?: unknown } | undefined)?.Statement;
  if (!Array.isArray(statements)) return [];
  for (const s of statements as Array<{ Effect?: unknown; Action?: unknown; Resource?: unknown }>) {
    if (s.Effect !== 'Allow') continue;
    for (const action of toArray(s.Action)) if (typeof action === 'string' && action.includes('*')) out.add(`Action::${action}`);
    for (const resource of toArray(s.Resource)) {
      const flat = flattenCfnReference(resource);
      if (flat.includes('*')) out.add(`Resource::${flat}`);
    }
  }
  return [...out];
}

function toArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : v === undefined ? [] : [v];
}

/**
 * Acknowledges the AwsSolutions-IAM5 findings of every IAM policy under `scope` that match one of
 * `acks`, each with its reason.
 */
export function acknowledgeWildcards(scope: IConstruct, acks: readonly WildcardAcknowledgement[] = GRANT_WILDCARDS): void {
  scope.node.addValidation({
    validate: () => {
      for (const node of scope.node.findAll()) {
        if (!(node instanceof CfnResource)) continue;
        const stack = Stack.of(node);
        const documents: unknown[] = [];
        if (node instanceof iam.CfnPolicy || node instanceof iam.CfnManagedPolicy) documents.push(stack.resolve(node.policyDocument));
        else if (node instanceof iam.CfnRole) {
          const policies = stack.resolve(node.policies) as Array<{ PolicyDocument?: unknown; policyDocument?: unknown }> | undefined;
          for (const p of policies ?? []) documents.push(p.PolicyDocument ?? p.policyDocument);
        }
        for (const finding of documents.flatMap(wildcardFindings)) {
          const ack = acks.find((a) => a.finding.test(finding));
          if (ack) Validations.of(node).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason: ack.reason });
        }
      }
      return [];
    },
  });
}
