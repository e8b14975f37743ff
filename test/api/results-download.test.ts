// The results download of an ended batch, sent from the spool file: headers, exact bytes, a client that goes away.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { request } from 'undici';
import { DEFAULT_WORKSPACE } from '../../src/auth/authenticator.ts';
import { testServer } from '../helpers/test-server.ts';

const HEADERS = { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' };

test('a big result file downloads whole with Content-Length and request-id; a client leaving mid-way harms nothing', async (t) => {
  const server = await testServer(t);
  const client = new Anthropic({ baseURL: server.url, apiKey: 'k', maxRetries: 0 });
  const n = 3000;
  const batch = await client.messages.batches.create({
    requests: Array.from({ length: n }, (_, i) => ({
      custom_id: `r-${i}`,
      params: {
        model: 'claude-opus-5',
        max_tokens: 400,
        messages: [{ role: 'user' as const, content: `Write at length about item ${i}.` }],
      },
    })),
  });
  let b = batch;
  while (b.processing_status !== 'ended') {
    await new Promise((r) => setTimeout(r, 20));
    b = await client.messages.batches.retrieve(batch.id);
  }
  const record = await server.store.getBatch(DEFAULT_WORKSPACE, batch.id);
  assert.equal(
    typeof server.store.resultsFile?.(record!.seq),
    'string',
    'the download is served from the spool file',
  );
  const url = `${server.url}/v1/messages/batches/${batch.id}/results`;

  const res = await request(url, { headers: HEADERS });
  const body = Buffer.from(await res.body.arrayBuffer());
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'application/x-jsonl');
  assert.equal(Number(res.headers['content-length']), body.length);
  assert.equal(res.headers['transfer-encoding'], undefined);
  assert.match(String(res.headers['request-id']), /^req_/);
  assert.ok(body.length > 2 * 1024 * 1024, `more than two read buffers (${body.length} bytes)`);
  const lines = body.toString('utf8').split('\n');
  assert.equal(lines.pop(), '', 'ends with LF');
  assert.equal(lines.length, n);
  assert.equal(new Set(lines.map((l) => JSON.parse(l).custom_id)).size, n);

  // A client that reads the first bytes and hangs up: the server carries on serving.
  await new Promise<void>((resolve, reject) => {
    const req = httpRequest(url, { headers: HEADERS }, (r) => {
      r.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', (e) => (e.message.includes('socket hang up') ? resolve() : reject(e)));
    req.end();
  });
  const again = await request(url, { headers: HEADERS });
  assert.equal(Buffer.from(await again.body.arrayBuffer()).length, body.length);
});
