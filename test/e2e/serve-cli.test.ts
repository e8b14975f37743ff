// The `barge` command as a user runs it: start-up refusals, environment variables, and `keys` against a server
// started with `--auth keys`.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { AuthenticationError } from '@anthropic-ai/sdk';
import { request } from 'undici';
import {
  e2eDataDir,
  freePort,
  meaningfulStderrLines,
  type RunResult,
  runBarge,
  startBarge,
} from '../helpers/barge-process.ts';
import { clientFor, smallRequests, waitEnded } from '../helpers/e2e-batches.ts';

/** A failed command: non-zero exit, exactly one `barge: …` line on stderr, no stack trace, nothing on stdout. */
function assertOneLineFailure(r: RunResult, pattern: RegExp): void {
  assert.notEqual(r.code, 0, 'non-zero exit code');
  assert.equal(r.signal, null);
  const lines = meaningfulStderrLines(r.stderr);
  assert.equal(lines.length, 1, `exactly one error line, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^barge: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  assert.equal(r.stdout, '', 'nothing on stdout');
}

test('serve refuses --host 0.0.0.0 with --auth none, with one clear line and no side effects', async (t) => {
  const dataDir = join(e2eDataDir(t, 'barge-e2e-cli-'), 'never-created');
  const r = await runBarge([
    'serve',
    '--host',
    '0.0.0.0',
    '--auth',
    'none',
    '--port',
    '0',
    '--data-dir',
    dataDir,
  ]);
  assertOneLineFailure(r, /refusing to listen on 0\.0\.0\.0 with --auth none/);
  assert.match(r.stderr, /--allow-unauthenticated-remote/, 'the message names the way out');
  assert.equal(existsSync(dataDir), false, 'nothing was created');
});

test('serve --host 0.0.0.0 --allow-unauthenticated-remote starts and serves', async (t) => {
  const dataDir = e2eDataDir(t, 'barge-e2e-cli-');
  const server = await startBarge(t, {
    args: ['--host', '0.0.0.0', '--auth', 'none', '--allow-unauthenticated-remote', '--data-dir', dataDir],
  });
  const ready = server.logs.find((l) => l.msg?.startsWith('barge listening on'));
  assert.equal(ready?.url, `http://0.0.0.0:${server.port}`);
  const page = await clientFor(server.url).messages.batches.list();
  assert.deepEqual(page.data, []);
  await server.kill9();
});

test('serve rejects an invalid duration with one clear line', async (t) => {
  const dataDir = e2eDataDir(t, 'barge-e2e-cli-');
  const r = await runBarge(['serve', '--batch-ttl', '5 parsecs', '--port', '0', '--data-dir', dataDir]);
  assertOneLineFailure(r, /invalid duration "5 parsecs"/);
});

test('serve takes its settings from BARGE_* variables; a flag wins over its variable', async (t) => {
  const dataDir = join(e2eDataDir(t, 'barge-e2e-cli-'), 'from-env');
  const port = await freePort();
  const server = await startBarge(t, {
    args: ['--concurrency', '5'],
    env: {
      BARGE_PORT: String(port),
      BARGE_DATA_DIR: dataDir,
      BARGE_LOG_LEVEL: 'info',
      BARGE_MOCK_LATENCY: '0ms',
      BARGE_CONCURRENCY: '3',
    },
  });
  assert.equal(server.port, port, 'BARGE_PORT');
  const ready = server.logs.find((l) => l.msg?.startsWith('barge listening on'));
  assert.equal(ready?.dataDir, dataDir, 'BARGE_DATA_DIR');
  assert.equal(ready?.concurrency, 5, '--concurrency wins over BARGE_CONCURRENCY');
  assert.ok(existsSync(join(dataDir, 'barge.db')), 'the database is created in BARGE_DATA_DIR');

  const client = clientFor(`http://127.0.0.1:${port}`);
  const b = await client.messages.batches.create({ requests: smallRequests('env', 3) });
  const ended = await waitEnded(client, b.id, 15_000);
  assert.equal(ended.request_counts.succeeded, 3);
});

test('keys create/list/revoke, and a server with --auth keys accepts a key and rejects it once revoked', async (t) => {
  const dataDir = e2eDataDir(t, 'barge-e2e-keys-');
  const create = async (workspace: string) => {
    const r = await runBarge(['keys', 'create', '--workspace', workspace, '--data-dir', dataDir, '--json']);
    assert.equal(r.code, 0, `keys create: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as { id: string; workspace: string; key: string };
    assert.match(out.id, /^key_/);
    assert.equal(out.workspace, workspace);
    assert.ok(out.key.length >= 32, 'a long secret');
    return out;
  };
  const [keep, drop] = await Promise.all([create('w'), create('w')]);
  assert.notEqual(keep!.key, drop!.key);

  const listKeys = async () => {
    const r = await runBarge(['keys', 'list', '--data-dir', dataDir, '--json']);
    assert.equal(r.code, 0, `keys list: ${r.stderr}`);
    assert.ok(!r.stdout.includes(keep!.key) && !r.stdout.includes(drop!.key), 'list never shows a secret');
    return JSON.parse(r.stdout) as Array<{
      id: string;
      workspace: string;
      prefix: string;
      revokedAt: number | null;
    }>;
  };
  // Listing and start-up are independent: run them side by side to keep the test short.
  const [listed, server] = await Promise.all([
    listKeys(),
    startBarge(t, { args: ['--auth', 'keys', '--data-dir', dataDir, '--mock-latency', '0ms'] }),
  ]);
  assert.deepEqual(listed.map((k) => k.id).sort(), [keep!.id, drop!.id].sort());
  for (const k of listed) {
    assert.equal(k.workspace, 'w');
    assert.equal(k.revokedAt, null);
    assert.ok(k.prefix.length < 24, 'only a short prefix');
  }

  const good = clientFor(server.url, keep!.key);
  const doomed = clientFor(server.url, drop!.key);
  assert.deepEqual((await good.messages.batches.list()).data, []);
  assert.deepEqual((await doomed.messages.batches.list()).data, [], 'the second key works before revocation');

  // Revoked while the server runs: the very next request with it is refused.
  const revoked = await runBarge(['keys', 'revoke', drop!.id, '--data-dir', dataDir]);
  assert.equal(revoked.code, 0, `keys revoke: ${revoked.stderr}`);
  await assert.rejects(doomed.messages.batches.list(), (err: unknown) => {
    assert.ok(err instanceof AuthenticationError, `401 AuthenticationError, got ${String(err)}`);
    assert.equal(err.status, 401);
    assert.equal((err.error as { error?: { type?: string } }).error?.type, 'authentication_error');
    return true;
  });
  assert.deepEqual((await good.messages.batches.list()).data, [], 'the other key still works');

  const anonymous = await request(`${server.url}/v1/messages/batches`, {
    headers: { 'anthropic-version': '2023-06-01' },
  });
  assert.equal(anonymous.statusCode, 401, 'no key: 401');
  assert.equal(
    ((await anonymous.body.json()) as { error: { type: string } }).error.type,
    'authentication_error',
  );

  const [after, again] = await Promise.all([
    listKeys(),
    runBarge(['keys', 'revoke', drop!.id, '--data-dir', dataDir]),
  ]);
  assert.notEqual(after.find((k) => k.id === drop!.id)?.revokedAt, null, 'list shows the revocation');
  assert.equal(after.find((k) => k.id === keep!.id)?.revokedAt, null);
  assertOneLineFailure(again, /no active key/);
});

test('a second serve on the same data directory is refused while the first runs', async (t) => {
  const dataDir = e2eDataDir(t, 'barge-e2e-cli-');
  const first = await startBarge(t, { args: ['--data-dir', dataDir] });
  const r = await runBarge(['serve', '--port', '0', '--data-dir', dataDir]);
  assertOneLineFailure(r, /data directory .* is in use by another barge process \(pid \d+\)/);
  // The first server is unaffected.
  const page = await clientFor(first.url).messages.batches.list();
  assert.deepEqual(page.data, []);
});

test('processes opening a new data directory at once apply the schema exactly once', async (t) => {
  // Four `keys create` race to create the database; before the fix one of them could fail with
  // "table batches already exists" (the schema version was read outside the write transaction).
  for (let round = 0; round < 3; round++) {
    const dataDir = join(e2eDataDir(t, 'barge-e2e-race-'), 'fresh');
    const runs = await Promise.all(
      [1, 2, 3, 4].map((n) =>
        runBarge(['keys', 'create', '--workspace', `w${n}`, '--data-dir', dataDir, '--json']),
      ),
    );
    for (const r of runs) assert.equal(r.code, 0, `keys create: ${r.stderr}`);
    const list = await runBarge(['keys', 'list', '--data-dir', dataDir, '--json']);
    assert.equal(JSON.parse(list.stdout).length, 4);
  }
});
