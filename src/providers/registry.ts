/** The attestation providers the engine can use, by the name manifests give in `spec.provider`. */
import type { AttestationProvider } from '../core/ports/attestation-provider.ts';
import { CelProvider } from './cel-provider.ts';
import { HttpProvider } from './http-provider.ts';
import { CommandProvider } from './command-provider.ts';
import { FileProvider } from './file-provider.ts';

export class ProviderRegistry {
  private readonly providers = new Map<string, AttestationProvider>();

  constructor(providers: Iterable<AttestationProvider> = []) {
    for (const provider of providers) this.register(provider);
  }

  /** Adds a provider; a later one with the same name replaces the earlier. */
  register(provider: AttestationProvider): this {
    this.providers.set(provider.name, provider);
    return this;
  }

  get(name: string): AttestationProvider | undefined {
    return this.providers.get(name);
  }

  has(name: string): boolean {
    return this.providers.has(name);
  }

  /** Registered names, sorted (for messages such as "did you mean"). */
  names(): string[] {
    return [...this.providers.keys()].sort();
  }
}

/** The built-in providers: `cel` and `http`. */
export function defaultProviders(): ProviderRegistry {
  return new ProviderRegistry([new CelProvider(), new HttpProvider()]);
}

/** `file` and `command`: checks of the machine they run on (an agent's host; docs/agents.md). */
export function hostProviders(): AttestationProvider[] {
  return [new FileProvider(), new CommandProvider()];
}

/** The built-in providers plus the host ones: what the local runtime validates and runs. */
export function allProviders(): ProviderRegistry {
  const registry = defaultProviders();
  for (const provider of hostProviders()) registry.register(provider);
  return registry;
}
