import { createHash, randomBytes } from 'node:crypto';
import type { Store } from '../store/store.ts';

/** A new key's secret, shown once: `sk-barge-` + 40 random base64url characters (240 bits). */
export function generateSecret(): string {
  return `sk-barge-${randomBytes(30).toString('base64url')}`;
}

/**
 * Keys are random and high-entropy, so a fast SHA-256 is the right hash (a slow password hash buys nothing and
 * would cost a few milliseconds per request).
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Creates a key in a workspace; returns the secret (never stored) and the record's id. */
export async function createApiKey(
  store: Store,
  workspace: string,
  now: number,
): Promise<{ id: string; secret: string; prefix: string }> {
  const secret = generateSecret();
  const id = `key_${randomBytes(8).toString('hex')}`;
  const prefix = secret.slice(0, 16);
  await store.createKey({ id, workspace, prefix, createdAt: now, revokedAt: null }, hashSecret(secret));
  return { id, secret, prefix };
}
