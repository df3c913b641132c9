import { Sha256 } from '@aws-crypto/sha256-js';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, HttpRequest } from '@smithy/types';
import type { OutgoingRequest, RemoteWriteAuth } from '../../core/remote-write/auth.ts';

export interface SigV4AuthOptions {
  /** Region of the Amazon Managed Service for Prometheus workspace. */
  readonly region: string;
  /** @default 'aps' */
  readonly service?: string;
  /** @default the Node provider chain (env, SSO, profile, web identity, container/instance role) */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Fixed signing time (tests); the current time by default. */
  readonly signingDate?: () => Date;
}

/**
 * SigV4 signing for Amazon Managed Service for Prometheus (`aps`): signs the method, path, host,
 * the remote-write headers and the SHA-256 of the compressed body.
 */
export function sigV4Auth(options: SigV4AuthOptions): RemoteWriteAuth {
  const signer = new SignatureV4({
    service: options.service ?? 'aps',
    region: options.region,
    credentials: options.credentials ?? fromNodeProviderChain(),
    sha256: Sha256,
  });
  return {
    async headers(request: OutgoingRequest): Promise<Record<string, string>> {
      const { url } = request;
      const query: Record<string, string> = {};
      for (const [k, v] of url.searchParams) query[k] = v;
      const toSign: HttpRequest = {
        method: request.method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port ? { port: Number(url.port) } : {}),
        path: url.pathname,
        query,
        headers: { ...request.headers, host: url.host },
        body: request.body,
      };
      const signed = await signer.sign(toSign, options.signingDate ? { signingDate: options.signingDate() } : {});
      const out: Record<string, string> = {};
      // Only what signing added; fetch sets `host` itself from the URL.
      for (const [k, v] of Object.entries(signed.headers)) {
        if (k.toLowerCase() !== 'host' && request.headers[k] === undefined) out[k] = v;
      }
      return out;
    },
  };
}
