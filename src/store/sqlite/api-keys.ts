import { KEY_COLUMNS, type KeyRow, toKeyRecord } from '../rows.ts';
import type { ApiKeyRecord } from '../store.ts';
import type { Db } from './open-database.ts';

/** API key storage: only the SHA-256 of a secret is kept. */
export function apiKeyQueries(db: Db) {
  const insert = db.prepare(
    'INSERT INTO api_keys (id, workspace, prefix, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)',
  );
  const byHash = db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE secret_hash = ?`);
  const all = db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY created_at, id`);
  const revoke = db.prepare(
    'UPDATE api_keys SET revoked_at = ? WHERE (id = ? OR prefix = ?) AND revoked_at IS NULL',
  );
  return {
    create(key: ApiKeyRecord, secretHash: string): void {
      insert.run(key.id, key.workspace, key.prefix, secretHash, key.createdAt);
    },
    findByHash(secretHash: string): ApiKeyRecord | null {
      const row = byHash.get(secretHash) as KeyRow | undefined;
      return row ? toKeyRecord(row) : null;
    },
    list(): ApiKeyRecord[] {
      return (all.all() as KeyRow[]).map(toKeyRecord);
    },
    revoke(idOrPrefix: string, now: number): boolean {
      return revoke.run(now, idOrPrefix, idOrPrefix).changes > 0;
    },
  };
}
