// Crash tests against a real `barge serve` process: SIGKILL mid-processing (three times), mid-upload, and right
// after a create was answered. Each restart runs on the same data directory; the database is watched read-only.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  countRows,
  e2eServeDir,
  pollUntil,
  recoveryOf,
  startBarge,
  within,
} from '../helpers/barge-process.ts';
import {
  assertEndsExactly,
  assertExactResults,
  clientFor,
  createUpload,
  smallRequests,
  startWithClient,
  waitEnded,
} from '../helpers/e2e-batches.ts';

test('SIGKILL mid-processing three times: every batch ends with exactly one result per custom_id', async (t) => {
  const { dbFile, serveArgs } = e2eServeDir(t, 'barge-e2e-crash-');
  const args = serveArgs('--mock-latency', '5ms-20ms', '--concurrency', '16');
  let { server, client } = await startWithClient(t, args);

  const PER_BATCH = 2000;
  const batches: Array<{ id: string; customIds: string[] }> = [];
  for (const name of ['a', 'b', 'c']) {
    const requests = smallRequests(`crash-${name}`, PER_BATCH);
    const b = await client.messages.batches.create({ requests });
    assert.equal(b.processing_status, 'in_progress');
    batches.push({ id: b.id, customIds: requests.map((r) => r.custom_id) });
  }
  const total = PER_BATCH * batches.length;

  let requeued = 0;
  let previous = 0;
  for (const fraction of [0.1, 0.4, 0.7]) {
    const target = Math.floor(total * fraction);
    const done = await pollUntil(
      () => {
        const n = countRows(dbFile, 'SELECT count(*) FROM results');
        return n >= target ? n : undefined;
      },
      30_000,
      `${target} of ${total} results before the SIGKILL at ${fraction * 100}%`,
      10,
    );
    const exit = await server.kill9();
    assert.equal(exit.signal, 'SIGKILL');
    assert.ok(done > previous, `progress since the last restart (${previous} -> ${done})`);
    assert.ok(done < total, `killed mid-processing (${done} of ${total} results)`);
    previous = done;

    ({ server, client } = await startWithClient(t, args));
    const recovered = recoveryOf(server);
    requeued += Number(recovered?.requeued ?? 0);
    // Nothing written before the kill is lost or rewritten by the restart.
    assert.ok(countRows(dbFile, 'SELECT count(*) FROM results') >= done, 'results survive the SIGKILL');
    // While any request is unfinished, retrieve reports the whole batch as processing.
    const mid = await client.messages.batches.retrieve(batches[2]!.id);
    if (mid.processing_status === 'in_progress') {
      assert.equal(mid.request_counts.processing, PER_BATCH, 'counts stay at processing until the end');
    }
  }
  assert.ok(requeued > 0, 'at least one restart returned in-flight requests to the queue');

  for (const b of batches) await waitEnded(client, b.id, 60_000);
  for (const b of batches) await assertExactResults(client, server.url, b.id, b.customIds);

  const listed = await client.messages.batches.list({ limit: 20 });
  assert.deepEqual(
    listed.data.map((b) => b.id).sort(),
    batches.map((b) => b.id).sort(),
    'exactly the 3 batches',
  );
  assert.equal(countRows(dbFile, 'SELECT count(*) FROM results'), total, 'one results row per item');
  assert.equal(
    countRows(dbFile, 'SELECT count(*) FROM items WHERE state IN (0, 1)'),
    0,
    'nothing left queued',
  );
  assert.ok(
    countRows(dbFile, 'SELECT count(*) FROM items WHERE attempts > 1') > 0,
    'requests in flight at a SIGKILL ran again',
  );
});

/** 60,000 requests, about 30 MB, as Buffers of 1,000 requests each. */
function bigBody(): { chunks: Buffer[]; length: number } {
  const pad = 'x'.repeat(380);
  const parts: string[] = [];
  const chunks: Buffer[] = [];
  const flush = () => {
    chunks.push(Buffer.from(parts.join('')));
    parts.length = 0;
  };
  parts.push('{"requests":[');
  for (let i = 0; i < 60_000; i++) {
    parts.push(
      `${i ? ',' : ''}{"custom_id":"big-${String(i).padStart(6, '0')}","params":{"model":"claude-e2e",` +
        `"max_tokens":16,"messages":[{"role":"user","content":"${pad} ${i}"}]}}`,
    );
    if (parts.length >= 1000) flush();
  }
  parts.push(']}');
  flush();
  return { chunks, length: chunks.reduce((n, c) => n + c.length, 0) };
}

test('SIGKILL mid-upload leaves no half batch; the next create works end to end', async (t) => {
  const { dbFile, serveArgs } = e2eServeDir(t, 'barge-e2e-ingest-');
  const args = serveArgs('--mock-latency', '1ms-5ms', '--concurrency', '16');
  const killed = await startBarge(t, { args });

  const body = bigBody();
  assert.ok(body.length > 28_000_000, `body is about 30 MB (${body.length} bytes)`);
  const req = createUpload(killed.port, body.length);
  let answered: number | null = null;
  req.on('response', (res) => {
    answered = res.statusCode ?? 0;
    res.resume();
  });
  const settled = new Promise<void>((resolve) => {
    req.on('error', () => resolve());
    req.on('close', () => resolve());
  });

  // Write about 8 MB, honouring backpressure, then hold the rest back.
  let written = 0;
  for (const chunk of body.chunks) {
    if (written >= 8_000_000) break;
    written += chunk.length;
    if (!req.write(chunk))
      await within(new Promise((r) => req.once('drain', r)), 15_000, 'the upload to drain');
  }
  // The server has staged part of the upload (an invisible batch with item rows), and has not answered.
  const staged = await pollUntil(
    () => {
      const n = countRows(dbFile, `SELECT count(*) FROM items`);
      return n > 0 && countRows(dbFile, `SELECT count(*) FROM batches WHERE status = 'ingesting'`) === 1
        ? n
        : undefined;
    },
    15_000,
    'the server to stage part of the upload',
  );
  assert.ok(staged < 60_000, `part of the upload staged (${staged} items)`);
  assert.equal(answered, null, 'no response before the body is complete');
  const listedMid = await clientFor(killed.url).messages.batches.list();
  assert.deepEqual(listedMid.data, [], 'a staged upload is invisible');

  await killed.kill9();
  await within(settled, 10_000, 'the interrupted upload to fail');
  assert.equal(answered, null, 'the killed server never answered the create');

  const { server, client } = await startWithClient(t, args);
  const recovered = recoveryOf(server);
  assert.equal(
    recovered?.droppedUploads,
    1,
    `recovery dropped the upload (log: ${JSON.stringify(recovered)})`,
  );
  const listed = await client.messages.batches.list();
  assert.deepEqual(listed.data, [], 'no half batch is visible');
  assert.equal(countRows(dbFile, 'SELECT count(*) FROM items'), 0, 'no leftover item rows');
  assert.equal(countRows(dbFile, 'SELECT count(*) FROM payloads'), 0, 'no leftover payload rows');
  assert.equal(countRows(dbFile, 'SELECT count(*) FROM batches'), 0, 'no leftover batch rows');

  const requests = smallRequests('after-crash', 200);
  const b = await client.messages.batches.create({ requests });
  await assertEndsExactly(client, server.url, b.id, requests, 30_000);
});

test('SIGKILL right after a 200 on create: the batch survives and finishes exactly once per request', async (t) => {
  const { serveArgs } = e2eServeDir(t, 'barge-e2e-commit-');
  let { server, client } = await startWithClient(
    t,
    serveArgs('--concurrency', '16', '--mock-latency', '5ms-20ms'),
  );

  const requests = smallRequests('committed', 3000);
  const created = await client.messages.batches.create({ requests });
  server.child.kill('SIGKILL'); // at once, before anything else runs in this process
  await within(server.exited, 10_000, 'the SIGKILLed server to exit');

  ({ server, client } = await startWithClient(
    t,
    serveArgs('--concurrency', '16', '--mock-latency', '1ms-5ms'),
  ));
  const again = await client.messages.batches.retrieve(created.id);
  assert.equal(again.id, created.id);
  assert.equal(again.created_at, created.created_at);
  assert.equal(again.expires_at, created.expires_at);
  await assertEndsExactly(client, server.url, created.id, requests, 60_000);
});
