import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { checkout } from '../../src/store/postgres/checkout.ts';
import { clientConfig, openPool, QUERY_TIMEOUT_MARGIN_MS } from '../../src/store/postgres/open-pool.ts';

/**
 * A server that completes PostgreSQL's start-up (authentication ok, ready for query) and then never answers a
 * query: a database that has gone silent without closing the connection.
 */
async function silentPostgres(
  t: import('node:test').TestContext,
): Promise<{ url: string; queries: () => number; dropAll: () => void }> {
  const sockets = new Set<Socket>();
  let queries = 0;
  const server = createServer((s) => {
    sockets.add(s);
    let started = false;
    s.on('data', (d: Buffer) => {
      if (!started) {
        started = true;
        const authOk = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]); // 'R', length 8, AuthenticationOk
        const ready = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]); // 'Z', length 5, idle
        s.write(Buffer.concat([authOk, ready]));
      } else if (d.includes(0x51) || d.includes(0x50)) queries++; // a simple or extended query: never answered
    });
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  const dropAll = () => {
    for (const s of sockets) s.destroy();
  };
  return { url: `postgres://barge@127.0.0.1:${port}/barge`, queries: () => queries, dropAll };
}

test('the client bounds every query past the statement timeout; none when the statement timeout is off', () => {
  assert.equal(clientConfig({ url: 'postgres://x', statementTimeoutMs: 30_000 }).query_timeout, 32_000);
  assert.equal(clientConfig({ url: 'postgres://x' }).query_timeout, 30_000 + QUERY_TIMEOUT_MARGIN_MS);
  assert.equal(clientConfig({ url: 'postgres://x', statementTimeoutMs: 0 }).query_timeout, undefined);
});

test('a query the server never answers fails after the statement timeout and the margin, and frees its connection', {
  timeout: 20_000,
}, async (t) => {
  const db = await silentPostgres(t);
  const errors: Error[] = [];
  const pool = openPool({ url: db.url, statementTimeoutMs: 100, poolSize: 1 }, (e) => errors.push(e));
  t.after(() => pool.end().catch(() => {}));
  await assert.rejects(pool.query('SELECT 1'), /Query read timeout/);
  assert.equal(db.queries(), 1, 'the query reached the server');
  // The one connection of the pool was discarded, not left busy: the next query gets a connection and is sent.
  await assert.rejects(pool.query('SELECT 2'), /Query read timeout/);
  assert.equal(db.queries(), 2);
  assert.equal(pool.totalCount <= 1, true);
});

test('a held connection whose server goes away does not end the process; the next query on it fails', async (t) => {
  const db = await silentPostgres(t);
  const pool = openPool({ url: db.url, poolSize: 1 }, () => {});
  t.after(() => pool.end().catch(() => {}));
  const c = await checkout(pool);
  const ended = new Promise<void>((r) => c.once('end', () => r()));
  // The server goes away between two queries of the holder (a restart during a transaction or a sweep). Without a
  // listener, node-postgres's 'error' on the checked-out client is an uncaught exception: this test fails with it.
  db.dropAll();
  await ended;
  await assert.rejects(c.query('SELECT 1'), /not queryable|terminated/);
  c.release(true);
  assert.equal(pool.totalCount, 0, 'the broken connection was discarded');
});
