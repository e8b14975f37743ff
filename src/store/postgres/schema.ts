/**
 * PostgreSQL schema, applied in order by `migrate`. Each entry is one migration; never edit one that has shipped.
 *
 * Times are epoch milliseconds (bigint), as in the SQLite store, so every rule reads the injected clock.
 *
 * An item's id is `batch seq * 2^20 + its position in the upload` (a batch holds at most 100,000 < 2^17 items):
 * ingest knows every id without a round trip, a batch's payloads and results are one primary-key range (no second
 * index to maintain), and results come out in upload order.
 *
 * The items row is narrow (state, attempts, lease) and filled to 80% so the updates of claim and completion can stay
 * on their page; params and result lines live in their own tables, so those updates never copy payload bytes.
 */
/** An item id is `batch seq * ITEM_ID_SHIFT + position` (see above). */
export const ITEM_ID_SHIFT = 2 ** 20;

export const PG_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE batches (
    seq bigserial PRIMARY KEY,
    id text COLLATE "C" NOT NULL UNIQUE,
    workspace text NOT NULL,
    status text NOT NULL,
    total integer NOT NULL DEFAULT 0,
    pending integer NOT NULL DEFAULT 0,
    succeeded integer NOT NULL DEFAULT 0,
    errored integer NOT NULL DEFAULT 0,
    canceled integer NOT NULL DEFAULT 0,
    expired integer NOT NULL DEFAULT 0,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    ended_at bigint,
    cancel_initiated_at bigint,
    archived_at bigint,
    -- When an archived batch's payloads and results were all deleted (the sweeper stops looking at it).
    purged_at bigint,
    deleted_at bigint,
    api_version text NOT NULL,
    betas text
  );
  CREATE INDEX batches_workspace_id ON batches (workspace, id);
  CREATE INDEX batches_open ON batches (status) WHERE status IN ('ingesting', 'in_progress', 'canceling');
  CREATE TABLE items (
    id bigint PRIMARY KEY,
    batch_seq bigint NOT NULL,
    custom_id text NOT NULL,
    state smallint NOT NULL DEFAULT 0,
    attempts integer NOT NULL DEFAULT 0,
    run_at bigint NOT NULL DEFAULT 0,
    lease_owner text,
    lease_expires_at bigint,
    model text,
    last_error text
  ) WITH (fillfactor = 80);
  CREATE UNIQUE INDEX items_batch_custom_id ON items (batch_seq, custom_id);
  CREATE INDEX items_queued ON items (batch_seq, id) WHERE state = 0;
  CREATE INDEX items_running ON items (lease_expires_at) WHERE state = 1;
  -- Params are JSON that rarely compresses below the TOAST threshold's worth; not trying saves ingest CPU.
  CREATE TABLE payloads (item_id bigint PRIMARY KEY, params bytea NOT NULL);
  ALTER TABLE payloads ALTER COLUMN params SET STORAGE EXTERNAL;
  CREATE TABLE results (item_id bigint PRIMARY KEY, line text NOT NULL);
  -- Fenced completion in one round trip (see complete-items.ts), with the usage totals of the succeeded results.
  -- The batch rows are locked first, in seq order, so completers never deadlock; being server-side, the locks are
  -- held only while this runs and commits, never across a round trip to a busy client.
  CREATE FUNCTION barge_complete(p_ids bigint[], p_attempts int[], p_states smallint[], p_lines text[], p_now bigint,
    p_models text[], p_in bigint[], p_out bigint[], p_cw bigint[], p_cw1h bigint[], p_cr bigint[])
  RETURNS TABLE (batch_id text, batch_status text) LANGUAGE plpgsql AS $fn$
  BEGIN
    PERFORM 1 FROM batches
    WHERE seq IN (SELECT DISTINCT x / ${ITEM_ID_SHIFT} FROM unnest(p_ids) AS x) ORDER BY seq FOR NO KEY UPDATE;
    RETURN QUERY
    WITH c AS (
      SELECT DISTINCT ON (u.id) u.*
      FROM unnest(p_ids, p_attempts, p_states, p_lines, p_models, p_in, p_out, p_cw, p_cw1h, p_cr)
        AS u(id, attempt, state, line, model, inp, outp, cw, cw1h, cr)
    ),
    fenced AS (
      UPDATE items i SET state = c.state, lease_owner = NULL, lease_expires_at = NULL
      FROM c WHERE i.id = c.id AND i.attempts = c.attempt AND i.state = 1
      RETURNING i.id, i.batch_seq, i.state
    ),
    written AS (INSERT INTO results (item_id, line) SELECT f.id, c.line FROM fenced f JOIN c ON c.id = f.id),
    used AS (
      INSERT INTO batch_usage AS bu (batch_seq, workspace, model, requests, input_tokens, output_tokens,
        cache_write_tokens, cache_write_1h_tokens, cache_read_tokens)
      SELECT f.batch_seq, min(bt.workspace), c.model, count(*), sum(c.inp), sum(c.outp), sum(c.cw), sum(c.cw1h),
        sum(c.cr)
      FROM fenced f JOIN c ON c.id = f.id JOIN batches bt ON bt.seq = f.batch_seq
      WHERE f.state = 2 AND c.model IS NOT NULL
      GROUP BY f.batch_seq, c.model
      ON CONFLICT (batch_seq, model) DO UPDATE SET
        requests = bu.requests + excluded.requests, input_tokens = bu.input_tokens + excluded.input_tokens,
        output_tokens = bu.output_tokens + excluded.output_tokens,
        cache_write_tokens = bu.cache_write_tokens + excluded.cache_write_tokens,
        cache_write_1h_tokens = bu.cache_write_1h_tokens + excluded.cache_write_1h_tokens,
        cache_read_tokens = bu.cache_read_tokens + excluded.cache_read_tokens
    ),
    d AS (
      SELECT f.batch_seq, count(*)::int AS n, (count(*) FILTER (WHERE f.state = 2))::int AS s
      FROM fenced f GROUP BY f.batch_seq
    )
    UPDATE batches b SET
      pending = b.pending - d.n, succeeded = b.succeeded + d.s, errored = b.errored + d.n - d.s,
      status = CASE WHEN b.pending = d.n THEN 'ended' ELSE b.status END,
      ended_at = CASE WHEN b.pending = d.n THEN p_now ELSE b.ended_at END
    FROM d WHERE b.seq = d.batch_seq
    RETURNING b.id::text, b.status;
  END
  $fn$;
  -- Claims (see claim-items.ts): per batch, its oldest queued items, locked without waiting, marked running.
  -- Bitmap scans and sorts are off inside: the only sensible plan is the ordered scan of items_queued that stops
  -- after n rows, and without fresh statistics (a new or half-drained batch) the planner preferred reading every
  -- queued row of the batch and sorting them on disk (0.1 ms against 23-36 ms per claim, measured at 45,000 of
  -- 100,000 done).
  CREATE FUNCTION barge_claim(p_seqs bigint[], p_ns int[], p_now bigint, p_skip text[], p_owner text, p_lease bigint)
  RETURNS TABLE (item_id bigint, item_batch_seq bigint, item_custom_id text, item_attempts integer,
                 item_model text, item_params bytea)
  LANGUAGE plpgsql SET enable_bitmapscan = off SET enable_sort = off AS $fn$
  BEGIN
    -- A claim need not wait for its commit to reach the disk: one lost in a database crash only means the request
    -- runs again (its first run's completion is fenced out), and the commit's WAL flush was a third of the time.
    PERFORM set_config('synchronous_commit', 'off', true);
    FOR k IN 1 .. coalesce(array_length(p_seqs, 1), 0) LOOP
      RETURN QUERY
      WITH picked AS (
        SELECT i.id FROM items i
        WHERE i.batch_seq = p_seqs[k] AND i.state = 0 AND i.run_at <= p_now
          AND (i.model IS NULL OR NOT (i.model = ANY(p_skip)))
        ORDER BY i.id LIMIT p_ns[k]
        FOR UPDATE SKIP LOCKED
      ),
      claimed AS (
        UPDATE items it SET state = 1, attempts = it.attempts + 1, lease_owner = p_owner, lease_expires_at = p_lease
        FROM picked WHERE it.id = picked.id
        RETURNING it.id, it.batch_seq, it.custom_id, it.attempts, it.model
      )
      SELECT c.id, c.batch_seq, c.custom_id, c.attempts, c.model, p.params
      FROM claimed c JOIN payloads p ON p.item_id = c.id;
    END LOOP;
  END
  $fn$;
  CREATE TABLE api_keys (
    id text PRIMARY KEY,
    workspace text NOT NULL,
    prefix text NOT NULL,
    secret_hash text NOT NULL UNIQUE,
    created_at bigint NOT NULL,
    revoked_at bigint
  );
  -- Usage totals per batch and model (kept after a batch is deleted, for the workspace's totals).
  CREATE TABLE batch_usage (
    batch_seq bigint NOT NULL,
    workspace text NOT NULL,
    model text NOT NULL,
    requests bigint NOT NULL DEFAULT 0,
    input_tokens bigint NOT NULL DEFAULT 0,
    output_tokens bigint NOT NULL DEFAULT 0,
    cache_write_tokens bigint NOT NULL DEFAULT 0,
    cache_write_1h_tokens bigint NOT NULL DEFAULT 0,
    cache_read_tokens bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (batch_seq, model)
  );
  CREATE INDEX batch_usage_workspace ON batch_usage (workspace);
  -- Workers as they last reported themselves (the dashboard's overview).
  CREATE TABLE workers (
    owner text PRIMARY KEY,
    started_at bigint NOT NULL,
    seen_at bigint NOT NULL,
    state text NOT NULL
  );
  `,
];

/** The id of the item at `position` (0-based) of batch `seq`. */
export function itemId(seq: number, position: number): number {
  return seq * ITEM_ID_SHIFT + position;
}

/** The half-open id range [lo, hi) holding every item of batch `seq`. */
export function itemRange(seq: number): [number, number] {
  return [seq * ITEM_ID_SHIFT, (seq + 1) * ITEM_ID_SHIFT];
}
