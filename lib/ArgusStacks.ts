import { CfnParameter, DefaultStackSynthesizer, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ArgusControlPlane, type ArgusControlPlaneProps } from './ArgusControlPlane.ts';
import { ArgusMemberAccountRole } from './ArgusMemberAccount.ts';
import { ArgusStorage, type ArgusStorageProps } from './ArgusStorage.ts';

export interface ArgusDataStackProps extends StackProps {
  readonly storage?: ArgusStorageProps;
}

/** The stateful resources (table, key, evidence bucket) in a stack of their own, termination-protected. */
export class ArgusDataStack extends Stack {
  readonly storage: ArgusStorage;

  constructor(scope: Construct, id: string, props: ArgusDataStackProps = {}) {
    super(scope, id, { terminationProtection: true, description: 'Argus: table, key and evidence bucket (stateful)', ...props });
    this.storage = new ArgusStorage(this, 'Storage', props.storage);
  }
}

export interface ArgusControlPlaneStackProps extends StackProps, ArgusControlPlaneProps {}

/** The stateless control plane: functions, workflow, schedules, API, dashboard and alarms. */
export class ArgusControlPlaneStack extends Stack {
  readonly controlPlane: ArgusControlPlane;

  constructor(scope: Construct, id: string, props: ArgusControlPlaneStackProps = {}) {
    super(scope, id, { description: 'Argus: control plane (functions, reconcile workflow, schedules, API, alarms)', ...props });
    this.controlPlane = new ArgusControlPlane(this, 'ControlPlane', props);
  }
}

/**
 * One member account's provider role, parameterised for CloudFormation StackSets: no assets and
 * no bootstrap version check, so the synthesised template deploys into accounts that were never
 * bootstrapped. Parameters: RunnerRoleArn and ExternalId (the control plane stack's outputs).
 */
export class ArgusMemberAccountStack extends Stack {
  readonly provider: ArgusMemberAccountRole;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, {
      description: 'Argus: cross-account provider role (deploy with StackSets to member accounts)',
      synthesizer: new DefaultStackSynthesizer({ generateBootstrapVersionRule: false }),
      ...props,
    });
    const runnerRoleArn = new CfnParameter(this, 'RunnerRoleArn', {
      type: 'String',
      description: 'The Argus control plane runner role (output RunnerRoleArn of the control plane stack)',
      allowedPattern: '^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$',
    });
    const externalId = new CfnParameter(this, 'ExternalId', {
      type: 'String',
      description: 'ExternalId the runner passes (output ProviderExternalId of the control plane stack)',
      minLength: 2,
      maxLength: 1224,
      allowedPattern: '^[\\w+=,.@:/-]+$',
    });
    this.provider = new ArgusMemberAccountRole(this, 'Provider', { runnerRoleArn: runnerRoleArn.valueAsString, externalId: externalId.valueAsString });
  }
}
