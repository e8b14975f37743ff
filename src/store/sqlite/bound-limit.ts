/**
 * The `LIMIT` clause of a prepared statement whose limit is a parameter. SQLite (3.51, as better-sqlite3 bundles it)
 * takes a bare `LIMIT ?` as a hint to the query planner and marks the statement for recompiling whenever that
 * parameter is bound, and better-sqlite3 binds every parameter on every run: each run parsed and planned the
 * statement again (measured: 3.5-4 µs a run, 14-34% of a small query; 6% of the queue thread's time in the
 * dispatch bench, in its claims). A unary plus is an expression the planner does not read: the same value, the same
 * plans (checked with EXPLAIN QUERY PLAN), no recompiling.
 */
export const LIMIT_PARAM = 'LIMIT +?';
