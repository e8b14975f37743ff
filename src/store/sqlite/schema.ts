/**
 * SQLite schema, applied in order by `migrate`. Each entry is one migration; never edit one that has shipped.
 *
 * The items row is kept narrow (state, attempts, lease) because it is rewritten on every claim and completion;
 * params and result lines live in their own tables so those rewrites never copy the payload bytes.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    workspace TEXT NOT NULL,
    status TEXT NOT NULL,
    total INTEGER NOT NULL DEFAULT 0,
    pending INTEGER NOT NULL DEFAULT 0,
    succeeded INTEGER NOT NULL DEFAULT 0,
    errored INTEGER NOT NULL DEFAULT 0,
    canceled INTEGER NOT NULL DEFAULT 0,
    expired INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ended_at INTEGER,
    cancel_initiated_at INTEGER,
    archived_at INTEGER,
    deleted_at INTEGER,
    api_version TEXT NOT NULL,
    betas TEXT
  );
  CREATE INDEX batches_workspace_id ON batches (workspace, id);
  CREATE INDEX batches_open ON batches (status) WHERE status IN ('ingesting', 'in_progress', 'canceling');
  CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    batch_seq INTEGER NOT NULL,
    custom_id TEXT NOT NULL,
    state INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    run_at INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_expires_at INTEGER
  );
  CREATE UNIQUE INDEX items_batch_custom_id ON items (batch_seq, custom_id);
  CREATE INDEX items_queued ON items (batch_seq, id) WHERE state = 0;
  CREATE INDEX items_running ON items (lease_expires_at) WHERE state = 1;
  CREATE TABLE payloads (item_id INTEGER PRIMARY KEY, params BLOB NOT NULL);
  CREATE TABLE results (item_id INTEGER PRIMARY KEY, batch_seq INTEGER NOT NULL, line TEXT NOT NULL);
  CREATE INDEX results_batch ON results (batch_seq, item_id);
  CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    prefix TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
  );
  `,
  // 2: the routing key of each item (claims skip lanes with no budget) and the last transient failure.
  `
  ALTER TABLE items ADD COLUMN model TEXT;
  ALTER TABLE items ADD COLUMN last_error TEXT;
  `,
  // 3: usage totals per batch and model (kept after a batch is deleted, for the workspace's totals).
  `
  CREATE TABLE batch_usage (
    batch_seq INTEGER NOT NULL,
    workspace TEXT NOT NULL,
    model TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (batch_seq, model)
  );
  CREATE INDEX batch_usage_workspace ON batch_usage (workspace);
  `,
  // 4: workers as they last reported themselves (the dashboard's overview).
  `
  CREATE TABLE workers (
    owner TEXT PRIMARY KEY,
    started_at INTEGER NOT NULL,
    seen_at INTEGER NOT NULL,
    state TEXT NOT NULL
  );
  `,
];
