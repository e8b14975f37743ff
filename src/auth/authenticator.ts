import { ApiError } from '../errors/api-error.ts';
import type { Store } from '../store/store.ts';
import { hashSecret } from './api-keys.ts';

/** The workspace every request uses under `--auth none`. */
export const DEFAULT_WORKSPACE = 'default';

export interface Principal {
  workspace: string;
  keyId: string | null;
}

/** The credential a request carries: `x-api-key` wins over `Authorization: Bearer`, as on the hosted API. */
export function credentialOf(headers: Record<string, string | string[] | undefined>): string | null {
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.length > 0) return apiKey;
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(auth);
    if (m) return m[1]!.trim();
  }
  return null;
}

/** Resolves a request's workspace, or throws 401/403 as the hosted API would. */
export function authenticator(mode: 'none' | 'keys', store: Store) {
  return async (headers: Record<string, string | string[] | undefined>): Promise<Principal> => {
    const requested = headers['anthropic-workspace-id'];
    if (mode === 'none') return { workspace: DEFAULT_WORKSPACE, keyId: null };
    const secret = credentialOf(headers);
    if (secret === null || secret.length > 512) {
      throw new ApiError(
        'unauthenticated',
        'x-api-key header is required (or Authorization: Bearer <key>); create keys with `barge keys create`',
      );
    }
    const key = await store.findKeyByHash(hashSecret(secret));
    if (!key || key.revokedAt !== null) throw new ApiError('unauthenticated', 'invalid x-api-key');
    if (typeof requested === 'string' && requested !== '' && requested !== key.workspace) {
      throw new ApiError(
        'workspace_mismatch',
        `anthropic-workspace-id "${requested.slice(0, 100)}" does not match the API key's workspace`,
      );
    }
    return { workspace: key.workspace, keyId: key.id };
  };
}
