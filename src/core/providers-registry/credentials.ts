/**
 * Provider API keys: each agent Provider has its own keys, stored only as a salted SHA-256 hash
 * (`AGENT#<provider>` / `KEY#<keyId>`), compared in constant time, revocable, several at once so a
 * key can be rotated without downtime. The key text is `argus_<keyId>_<secret>`: the key id
 * finds the record, the secret proves possession. Keys are 256-bit random, so a fast hash is
 * enough (no password stretching needed); the salt keeps equal secrets from equal hashes.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ArgusError } from '../errors.ts';
import { agentKeyKey } from '../keys.ts';
import { queryAll, type Store } from '../ports/store.ts';

export interface ApiKeyRecord {
  readonly keyId: string;
  readonly provider: string;
  readonly salt: string;
  /** hex SHA-256 of salt + secret */
  readonly hash: string;
  readonly createdAt: number;
  readonly revokedAt?: number;
}

/** Missing, malformed, unknown, revoked or wrong key: one error, one message (nothing to probe). */
export class UnauthorizedAgentError extends ArgusError {
  constructor(provider: string) {
    super('UNAUTHORIZED', `missing, wrong or revoked provider key for "${provider}"`, { provider });
    this.name = 'UnauthorizedAgentError';
  }
}

const KEY_PATTERN = /^argus_([A-Za-z0-9]{16})_([A-Za-z0-9_-]{43})$/;

function hashOf(salt: string, secret: string): Buffer {
  return createHash('sha256').update(salt).update('\u0000').update(secret).digest();
}

/** Creates a key for a provider; the returned `key` is shown once and never stored. */
export async function issueApiKey(store: Store, provider: string, now: number): Promise<{ readonly keyId: string; readonly key: string }> {
  const keyId = randomBytes(12).toString('base64url').replace(/[-_]/g, 'x').slice(0, 16);
  const secret = randomBytes(32).toString('base64url');
  const salt = randomBytes(16).toString('hex');
  const record: ApiKeyRecord = { keyId, provider, salt, hash: hashOf(salt, secret).toString('hex'), createdAt: now };
  const k = agentKeyKey(provider, keyId);
  await store.transact([{ type: 'put', pk: k.pk, sk: k.sk, data: record, ifVersion: 'absent' }]);
  return { keyId, key: `argus_${keyId}_${secret}` };
}

/** Revokes one key (it stops working at once); returns false when there is no such key. */
export async function revokeApiKey(store: Store, provider: string, keyId: string, now: number): Promise<boolean> {
  const k = agentKeyKey(provider, keyId);
  const current = await store.get<ApiKeyRecord>(k.pk, k.sk);
  if (!current) return false;
  if (current.data.revokedAt !== undefined) return true;
  await store.transact([{ type: 'put', pk: k.pk, sk: k.sk, data: { ...current.data, revokedAt: now }, ifVersion: current.version }]);
  return true;
}

/** The provider's keys without their hashes (for the admin view). */
export async function listApiKeys(store: Store, provider: string): Promise<Array<{ keyId: string; createdAt: number; revokedAt?: number }>> {
  const k = agentKeyKey(provider, '');
  return (await queryAll<ApiKeyRecord>(store, k.pk, 'KEY#')).map(({ data }) => ({ keyId: data.keyId, createdAt: data.createdAt, ...(data.revokedAt === undefined ? {} : { revokedAt: data.revokedAt }) }));
}

/** Checks `Authorization: Bearer <key>` for a provider; throws UnauthorizedAgentError. */
export async function verifyApiKey(store: Store, provider: string, authorization: string | undefined): Promise<string> {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  const parsed = m ? KEY_PATTERN.exec(m[1] ?? '') : null;
  if (!parsed) throw new UnauthorizedAgentError(provider);
  const keyId = parsed[1] ?? '';
  const k = agentKeyKey(provider, keyId);
  const record = await store.get<ApiKeyRecord>(k.pk, k.sk);
  // Hash even when the record is missing, so the time taken says nothing about which part failed.
  const expected = record ? Buffer.from(record.data.hash, 'hex') : Buffer.alloc(32);
  const actual = hashOf(record?.data.salt ?? 'missing', parsed[2] ?? '');
  const same = timingSafeEqual(expected, actual);
  if (!record || !same || record.data.revokedAt !== undefined) throw new UnauthorizedAgentError(provider);
  return keyId;
}
