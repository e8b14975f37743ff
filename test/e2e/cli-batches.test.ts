// The `barge batches` commands against a real listening server, as scripts use them (--json, exit codes).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runBarge } from '../helpers/barge-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { testServer } from '../helpers/test-server.ts';

function jsonl(path: string, n: number, prefix = 'c'): string[] {
  const ids: string[] = [];
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(`${prefix}-${i}`);
    lines.push(
      JSON.stringify({
        custom_id: `${prefix}-${i}`,
        params: { model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: `q${i}` }] },
      }),
    );
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
  return ids;
}

test('barge batches: create, list, get, watch, results, delete, with --json parsed by the test', async (t) => {
  const server = await testServer(t, { mockLatency: { minMs: 5, maxMs: 5 } });
  const dir = tempDir(t);
  const env = { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: 'cli-test' };
  const cli = async (...args: string[]) => {
    const r = await runBarge(['batches', ...args], { env, timeoutMs: 60_000 });
    return { ...r, json: () => JSON.parse(r.stdout) };
  };
  const file = join(dir, 'reqs.jsonl');
  const ids = jsonl(file, 25);

  const created = await cli('create', file, '--json');
  assert.equal(created.code, 0, created.stderr);
  const [batch] = created.json().batches as Array<{ id: string; request_counts: { processing: number } }>;
  assert.equal(batch?.request_counts.processing, 25);

  const listed = await cli('list', '--json');
  assert.deepEqual(
    (listed.json() as Array<{ id: string }>).map((b) => b.id),
    [batch!.id],
  );

  const watched = await cli('watch', batch!.id, '--json', '--interval', '50ms');
  assert.equal(watched.code, 0, watched.stderr);
  const updates = watched.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(updates.at(-1).processing_status, 'ended', 'watch runs until the batch ends');
  assert.equal(updates.at(-1).request_counts.succeeded, 25);

  const got = await cli('get', batch!.id, '--json');
  assert.equal(got.json().processing_status, 'ended');

  const out = join(dir, 'out.jsonl');
  const results = await cli('results', batch!.id, '-o', out, '--json');
  assert.equal(results.code, 0, results.stderr);
  const text = readFileSync(out, 'utf8');
  assert.equal(results.json().bytes, Buffer.byteLength(text));
  assert.deepEqual(
    text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).custom_id)
      .sort(),
    [...ids].sort(),
  );
  const toStdout = await cli('results', batch!.id);
  assert.equal(toStdout.stdout, text, 'the same bytes on stdout');

  assert.equal((await cli('delete', batch!.id, '--json')).json().type, 'message_batch_deleted');
  const gone = await cli('get', batch!.id);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /^barge: 404 not_found_error: /);
  assert.equal(gone.stderr.trim().split('\n').length, 1, 'one line');
});

test('barge batches: a .json body file, cancel, and bad input with exit code 2 and the line', async (t) => {
  const server = await testServer(t, {}, { startWorker: false });
  const dir = tempDir(t);
  const env = { ANTHROPIC_BASE_URL: server.url };
  const body = join(dir, 'body.json');
  writeFileSync(
    body,
    JSON.stringify({
      requests: [
        {
          custom_id: 'only',
          params: { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] },
        },
      ],
    }),
  );
  const created = await runBarge(['batches', 'create', body, '--json'], { env });
  assert.equal(created.code, 0, created.stderr);
  const id = JSON.parse(created.stdout).batches[0].id as string;
  const canceled = await runBarge(['batches', 'cancel', id, '--json'], { env });
  assert.equal(JSON.parse(canceled.stdout).processing_status, 'canceling');

  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, '{"custom_id":"a","params":{}}\n{"custom_id":"a","params":{}}\n');
  const refused = await runBarge(['batches', 'create', bad], { env });
  assert.equal(refused.code, 2);
  assert.equal(refused.stderr.trim(), 'barge: line 2: custom_id "a" repeats line 1');
  const down = await runBarge(['batches', 'list'], { env: { ANTHROPIC_BASE_URL: 'http://127.0.0.1:1' } });
  assert.equal(down.code, 1);
  assert.match(down.stderr, /^barge: cannot reach the server/);
});

test('barge batches create: a 120,000-line file is split into two linked batches, and the command says so', async (t) => {
  const server = await testServer(t, {}, { startWorker: false });
  const file = join(tempDir(t), 'big.jsonl');
  jsonl(file, 120_000, 'big');
  const r = await runBarge(['batches', 'create', file, '--json'], {
    env: { ANTHROPIC_BASE_URL: server.url },
    timeoutMs: 120_000,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /120000 requests: splitting into 2 batches/);
  const batches = JSON.parse(r.stdout).batches as Array<{
    id: string;
    lines: [number, number];
    request_counts: { processing: number };
  }>;
  assert.deepEqual(
    batches.map((b) => [b.request_counts.processing, b.lines]),
    [
      [100_000, [1, 100_000]],
      [20_000, [100_001, 120_000]],
    ],
  );
  for (const b of batches)
    assert.equal((await server.store.getBatch('default', b.id))?.total, b.request_counts.processing);
});
