import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Anthropic from '@anthropic-ai/sdk';
import { raw, requests, sdkClient, untilEnded } from '../helpers/api-harness.ts';
import { testServer } from '../helpers/test-server.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function run(
  file: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [file],
      { cwd: ROOT, env: { ...process.env, ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('the documented flow', () => {
  test('examples/quickstart.mjs runs unchanged against the server', { timeout: 60_000 }, async (t) => {
    const server = await testServer(t, { mockLatency: { minMs: 50, maxMs: 200 } });
    const { code, stdout, stderr } = await run('examples/quickstart.mjs', {
      ANTHROPIC_BASE_URL: server.url,
      ANTHROPIC_API_KEY: 'anything',
    });
    assert.equal(code, 0, `exit ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    assert.match(stdout, /^created msgbatch_01\w+: in_progress$/m);
    assert.match(stdout, /request_counts:.*processing: 0.*succeeded: 2/s);
    assert.match(stdout, /^my-first-request: \S.*Hello, world/m);
    assert.match(stdout, /^my-second-request: \S.*Hi again, friend/m);
    assert.match(stdout, /^canceled msgbatch_01\w+: canceling$/m);

    // The two batches it made are on the server, the canceled one canceling or ended.
    const list = await sdkClient(Anthropic, server.url).messages.batches.list();
    assert.equal(list.data.length, 2);
    assert.ok(['canceling', 'ended'].includes(list.data[0]!.processing_status));
    assert.equal(list.data[1]!.processing_status, 'ended');
  });
});

describe('results_url', () => {
  test('is absolute on this server, honouring X-Forwarded-Proto and X-Forwarded-Host', async (t) => {
    const server = await testServer(t);
    const client = sdkClient(Anthropic, server.url);
    const batch = await client.messages.batches.create({ requests: requests(1) });
    const ended = await untilEnded(() => client.messages.batches.retrieve(batch.id));
    const path = `/v1/messages/batches/${batch.id}/results`;
    assert.equal(ended.results_url, `${server.url}${path}`);

    const get = async (headers: Record<string, string>) => {
      const r = await raw(server.url, 'GET', `/v1/messages/batches/${batch.id}`, { headers });
      assert.equal(r.status, 200);
      return (r.json as { results_url: string }).results_url;
    };
    assert.equal(
      await get({ 'x-forwarded-proto': 'https', 'x-forwarded-host': 'batches.example.com' }),
      `https://batches.example.com${path}`,
    );
    assert.equal(
      await get({
        'x-forwarded-proto': 'https, http',
        'x-forwarded-host': 'a.example.com:8443, b.example.com',
      }),
      `https://a.example.com:8443${path}`,
      'the first (client-most) value of each header',
    );
    assert.equal(await get({ 'x-forwarded-proto': 'https' }), `https://${new URL(server.url).host}${path}`);
    assert.equal(await get({ 'x-forwarded-host': 'proxy.example.com' }), `http://proxy.example.com${path}`);
    // Header values cannot inject a scheme or a path.
    assert.equal(
      await get({ 'x-forwarded-proto': 'javascript' }),
      `http://${new URL(server.url).host}${path}`,
    );
    const injected = await get({ 'x-forwarded-host': 'evil.example.com/steal?x=1#' });
    assert.match(injected, new RegExp(`^http://[^/?#]+${path.replaceAll('/', '\\/')}$`));

    // The list renders the same URL.
    const list = await raw(server.url, 'GET', '/v1/messages/batches', {
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'batches.example.com' },
    });
    assert.equal(
      (list.json as { data: Array<{ results_url: string }> }).data[0]!.results_url,
      `https://batches.example.com${path}`,
    );
  });

  test('uses the configured public URL (with its path prefix) over any header', async (t) => {
    const server = await testServer(t, { publicUrl: 'https://batches.example.com/anthropic' });
    const client = sdkClient(Anthropic, server.url);
    const batch = await client.messages.batches.create({ requests: requests(1) });
    const ended = await untilEnded(() => client.messages.batches.retrieve(batch.id));
    const expected = `https://batches.example.com/anthropic/v1/messages/batches/${batch.id}/results`;
    assert.equal(ended.results_url, expected);
    const r = await raw(server.url, 'GET', `/v1/messages/batches/${batch.id}`, {
      headers: { 'x-forwarded-proto': 'http', 'x-forwarded-host': 'other.example.com' },
    });
    assert.equal((r.json as { results_url: string }).results_url, expected);
  });
});
