import type pg from 'pg';
import { KEY_COLUMNS, type KeyRow, toKeyRecord } from '../rows.ts';
import type { ApiKeyRecord } from '../store.ts';

/** API key storage: only the SHA-256 of a secret is kept. */
export function pgApiKeyQueries(pool: pg.Pool) {
  return {
    async create(key: ApiKeyRecord, secretHash: string): Promise<void> {
      await pool.query(
        'INSERT INTO api_keys (id, workspace, prefix, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)',
        [key.id, key.workspace, key.prefix, secretHash, key.createdAt],
      );
    },
    async findByHash(secretHash: string): Promise<ApiKeyRecord | null> {
      const { rows } = await pool.query<KeyRow>(
        `SELECT ${KEY_COLUMNS} FROM api_keys WHERE secret_hash = $1`,
        [secretHash],
      );
      return rows[0] ? toKeyRecord(rows[0]) : null;
    },
    async list(): Promise<ApiKeyRecord[]> {
      const { rows } = await pool.query<KeyRow>(
        `SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY created_at, id`,
      );
      return rows.map(toKeyRecord);
    },
    async revoke(idOrPrefix: string, now: number): Promise<boolean> {
      const { rowCount } = await pool.query(
        'UPDATE api_keys SET revoked_at = $1 WHERE (id = $2 OR prefix = $2) AND revoked_at IS NULL',
        [now, idOrPrefix],
      );
      return (rowCount ?? 0) > 0;
    },
  };
}
