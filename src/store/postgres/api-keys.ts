import type pg from 'pg';
import type { ApiKeyRecord } from '../store.ts';

interface KeyRow {
  id: string;
  workspace: string;
  prefix: string;
  created_at: number;
  revoked_at: number | null;
}

const toRecord = (r: KeyRow): ApiKeyRecord => ({
  id: r.id,
  workspace: r.workspace,
  prefix: r.prefix,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

const COLUMNS = 'id, workspace, prefix, created_at, revoked_at';

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
      const { rows } = await pool.query<KeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE secret_hash = $1`, [
        secretHash,
      ]);
      return rows[0] ? toRecord(rows[0]) : null;
    },
    async list(): Promise<ApiKeyRecord[]> {
      const { rows } = await pool.query<KeyRow>(`SELECT ${COLUMNS} FROM api_keys ORDER BY created_at, id`);
      return rows.map(toRecord);
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
