/** A request about to be sent, as an authenticator sees it (the body is final: SigV4 hashes it). */
export interface OutgoingRequest {
  readonly method: 'POST';
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/** Adds authentication headers to a remote-write request (port: bearer, basic, SigV4). */
export interface RemoteWriteAuth {
  headers(request: OutgoingRequest): Promise<Record<string, string>>;
}

/** `Authorization: Bearer <token>`; the token is read on every request so it can rotate. */
export function bearerAuth(token: string | (() => string | Promise<string>)): RemoteWriteAuth {
  return {
    async headers() {
      const value = typeof token === 'function' ? await token() : token;
      return { authorization: `Bearer ${value}` };
    },
  };
}

/** `Authorization: Basic base64(user:password)`. */
export function basicAuth(username: string, password: string): RemoteWriteAuth {
  const encoded = Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
  return { headers: async () => ({ authorization: `Basic ${encoded}` }) };
}
