/**
 * Version policy N-1: the control plane accepts agents of its own minor version and the one
 * before; older (or newer) agents are refused with the versions that are accepted.
 */
import { ArgusError } from '../errors.ts';

/** The provider-runtime protocol version this control plane speaks (and the runtime in this repo reports). */
export const AGENT_RUNTIME_VERSION = '1.4.0';

export class UnsupportedAgentVersionError extends ArgusError {
  constructor(
    readonly reported: string,
    readonly accepted: readonly string[],
  ) {
    super('UNSUPPORTED_AGENT_VERSION', `agent runtime version ${reported} is not supported; accepted: ${accepted.join(', ')} (upgrade the agent)`, { reported, accepted });
    this.name = 'UnsupportedAgentVersionError';
  }
}

interface Semver {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

export function parseVersion(v: string): Semver | undefined {
  const m = /^(\d{1,6})\.(\d{1,6})\.(\d{1,6})(?:[-+][0-9A-Za-z.-]{1,64})?$/.exec(v);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

/** The accepted version ranges for `current`, as shown to a refused agent (`1.4.x`, `1.3.x`). */
export function acceptedVersions(current: string = AGENT_RUNTIME_VERSION): string[] {
  const c = parseVersion(current);
  if (!c) throw new ArgusError('CONFIG', `control plane version ${current} is not semver`);
  return c.minor > 0 ? [`${c.major}.${c.minor}.x`, `${c.major}.${c.minor - 1}.x`] : [`${c.major}.${c.minor}.x`];
}

/** Throws UnsupportedAgentVersionError unless `reported` is the current or the previous minor version. */
export function checkAgentVersion(reported: string, current: string = AGENT_RUNTIME_VERSION): void {
  const r = parseVersion(reported);
  const c = parseVersion(current);
  const ok = r !== undefined && c !== undefined && r.major === c.major && (r.minor === c.minor || r.minor === c.minor - 1);
  if (!ok) throw new UnsupportedAgentVersionError(reported, acceptedVersions(current));
}
