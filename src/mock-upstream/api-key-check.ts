// The mock upstream's optional API key: a request passes when it presents the configured key.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Compared as SHA-256 digests, so timingSafeEqual gets equal lengths whatever the client sends. */
function keyDigest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/** The key a request presents: `x-api-key`, else `authorization: Bearer …` (what the 1.x SDKs send). */
function presentedKey(req: IncomingMessage): string | undefined {
  const x = req.headers['x-api-key'];
  if (typeof x === 'string') return x;
  const auth = req.headers.authorization;
  return auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
}

/** Whether a request may be served: always when no key is required. */
export function apiKeyCheck(requireApiKey: string | undefined): (req: IncomingMessage) => boolean {
  const apiKeyDigest = requireApiKey === undefined ? undefined : keyDigest(requireApiKey);
  return (req) => {
    if (!apiKeyDigest) return true;
    const key = presentedKey(req);
    return key !== undefined && timingSafeEqual(keyDigest(key), apiKeyDigest);
  };
}
