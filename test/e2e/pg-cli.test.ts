// The CLI on a PostgreSQL database: migrate, keys, and the role rules.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PG_MIGRATIONS } from '../../src/store/postgres/schema.ts';
import { runBarge } from '../helpers/barge-process.ts';
import { clientFor, smallRequests } from '../helpers/e2e-batches.ts';
import { pgCluster } from '../helpers/pg-cluster.ts';

test('barge migrate and barge keys work on PostgreSQL; a key created there authenticates against a cluster API', async (t) => {
  const cluster = pgCluster(t);
  const db = ['--database-url', cluster.url, '--pg-schema', cluster.schema];
  const migrated = await runBarge(['migrate', ...db]);
  assert.equal(migrated.code, 0, migrated.stderr);
  assert.match(migrated.stderr, /schema is up to date \(postgres\)/);
  assert.equal(await cluster.scalar('SELECT count(*) FROM barge_migrations'), PG_MIGRATIONS.length);
  const again = await runBarge(['migrate', ...db]);
  assert.equal(again.code, 0, 'migrating twice is a no-op');

  const created = await runBarge(['keys', 'create', '--workspace', 'team', '--json', ...db]);
  assert.equal(created.code, 0, created.stderr);
  const key = JSON.parse(created.stdout) as { id: string; key: string };
  const listed = await runBarge(['keys', 'list', '--json', ...db]);
  assert.deepEqual(
    (JSON.parse(listed.stdout) as Array<{ id: string; workspace: string }>).map((k) => [k.id, k.workspace]),
    [[key.id, 'team']],
  );
  assert.equal(
    await cluster.scalar('SELECT count(*) FROM api_keys WHERE secret_hash = $1', [key.key]),
    0,
    'the secret itself is not stored',
  );

  const api = await cluster.start('api', '--auth', 'keys');
  const batch = await clientFor(api.url, key.key).messages.batches.create({
    requests: smallRequests('k', 2),
  });
  assert.equal(batch.request_counts.processing, 2);
  await assert.rejects(
    clientFor(api.url, 'sk-wrong').messages.batches.list(),
    (err: { status?: number }) => err.status === 401,
  );
  const revoked = await runBarge(['keys', 'revoke', key.id, ...db]);
  assert.equal(revoked.code, 0, revoked.stderr);
  await assert.rejects(
    clientFor(api.url, key.key).messages.batches.list(),
    (err: { status?: number }) => err.status === 401,
    'a key revoked through the CLI stops working at once on every API process',
  );
});

test('--role api or worker without --database-url is refused with one clear line', async () => {
  const r = await runBarge(['serve', '--role', 'worker', '--port', '0']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--role worker needs --database-url/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});
