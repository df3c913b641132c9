/**
 * `argus import cloudcontrol`: live resources of one account and region through Cloud Control,
 * applied like `import cloudformation` (created, configured, and deleted when they vanished), but
 * deletions happen only within types that were read completely.
 */
import { type Command, InvalidArgumentError } from 'commander';
import type { LocalRuntime } from '../../adapters/local/local-runtime.ts';
import type { ApplyOutcome } from '../../core/use-cases/apply-definitions.ts';

export interface CloudControlCommandOptions {
  readonly types: string[];
  readonly region?: string;
  readonly account?: string;
  readonly roleArn?: string;
  readonly externalId?: string;
  readonly provider?: string;
  readonly listPropertiesComplete?: string[];
}

/**
 * Registers `cloudcontrol` under the `import` command. `withRuntime` opens and closes the runtime
 * as the other commands do; `printOutcome` prints what was applied.
 */
export function registerCloudControlCommand(
  program: Command,
  withRuntime: <T>(fn: (runtime: LocalRuntime) => Promise<T>) => Promise<T>,
  printOutcome: (outcome: ApplyOutcome) => void,
): void {
  const importCommand = program.commands.find((c) => c.name() === 'import');
  if (!importCommand) throw new Error('the import command must be registered first');
  importCommand
    .command('cloudcontrol')
    .description('import live resources of one account and region through the AWS Cloud Control API (ListResources, GetResource)')
    .requiredOption('--types <types>', 'comma-separated CloudFormation types, e.g. AWS::S3::Bucket,AWS::DynamoDB::Table', commaList)
    .option('--account <id>', 'account id (default: from --role-arn, else STS GetCallerIdentity)')
    .option('--role-arn <arn>', 'role to assume in the member account (e.g. arn:aws:iam::111122223333:role/argus/argus-provider)')
    .option('--external-id <id>', 'ExternalId for --role-arn (default: $ARGUS_PROVIDER_EXTERNAL_ID)')
    .option('--provider <name>', 'Provider (aws-account) to record as the resources\' spec.provider')
    .option('--list-properties-complete <types>', 'types whose ListResources answer has every property (skips GetResource per resource)', commaList)
    .action(async (opts: Omit<CloudControlCommandOptions, 'region'> & { region?: string }, command: Command) => {
      // --region is also a global option: take it from wherever commander put it.
      const region = opts.region ?? command.optsWithGlobals<{ region?: string }>().region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
      await runImport({ ...opts, region }, withRuntime, printOutcome);
    });
}

async function runImport(
  opts: CloudControlCommandOptions & { region: string },
  withRuntime: <T>(fn: (runtime: LocalRuntime) => Promise<T>) => Promise<T>,
  printOutcome: (outcome: ApplyOutcome) => void,
): Promise<void> {
  // The AWS SDK loads only when asked for: the other commands stay quick to start.
  const { CloudControlClient } = await import('@aws-sdk/client-cloudcontrol');
  const { CloudControlSource, vanishedResources } = await import('../../sources/cloudcontrol.ts');
  const externalId = opts.externalId ?? process.env.ARGUS_PROVIDER_EXTERNAL_ID;
  const inventory = await withRuntime(async (rt) => {
    let credentials: import('@smithy/types').AwsCredentialIdentityProvider | undefined;
    if (opts.roleArn !== undefined) {
      const { CrossAccountCredentials } = await import('../../adapters/aws/cross-account-credentials.ts');
      const { roleAssumptionHeartbeats } = await import('../../adapters/aws/role-assumption-heartbeat.ts');
      // Assuming an aws-account Provider's role is its heartbeat.
      const onAssume = roleAssumptionHeartbeats({ store: rt.store, clock: rt.clock, providers: () => rt.engine.index.providers.values() });
      credentials = new CrossAccountCredentials({ externalId, sessionName: 'argus-import', onAssume }).provider(opts.roleArn);
    }
    const accountId = opts.account ?? accountOfRoleArn(opts.roleArn) ?? (await callerAccount(opts.region));
    const source = new CloudControlSource({
      accountId,
      region: opts.region,
      types: opts.types,
      provider: opts.provider,
      listPropertiesComplete: opts.listPropertiesComplete ?? [],
      client: () => new CloudControlClient({ region: opts.region, ...(credentials ? { credentials } : {}) }),
    });
    const read = await source.read();
    const deletes = vanishedResources(read, rt.engine.index.resources.values()).map((name) => ({ kind: 'Resource' as const, name }));
    printOutcome(await rt.apply(read.resources, deletes));
    return read;
  });
  if (inventory.incompleteTypes.length > 0) {
    for (const t of inventory.incompleteTypes) console.error(`warning: ${t.typeName} not read, its stored resources were kept: ${t.error.message}`);
    process.exitCode = 1;
  }
}

function commaList(value: string): string[] {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new InvalidArgumentError('must name at least one item.');
  return items;
}

function accountOfRoleArn(arn: string | undefined): string | undefined {
  if (arn === undefined) return undefined;
  const match = /^arn:aws[a-z-]*:iam::(\d{12}):role\//.exec(arn);
  if (!match) throw new InvalidArgumentError(`--role-arn "${arn}" is not an IAM role ARN`);
  return match[1];
}

async function callerAccount(region: string): Promise<string> {
  const { GetCallerIdentityCommand, STSClient } = await import('@aws-sdk/client-sts');
  const out = await new STSClient({ region }).send(new GetCallerIdentityCommand({}));
  if (out.Account === undefined) throw new InvalidArgumentError('STS GetCallerIdentity returned no account; pass --account');
  return out.Account;
}
