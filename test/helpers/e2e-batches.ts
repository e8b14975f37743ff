import assert from 'node:assert/strict';
import { type ClientRequest, request as httpRequest } from 'node:http';
import type { TestContext } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { request } from 'undici';
import { type BargeProcess, pollUntil, startBarge } from './barge-process.ts';
import { countsWith } from './message-batch.ts';

export const API_HEADERS = { 'x-api-key': 'e2e', 'anthropic-version': '2023-06-01' } as const;

/**
 * A create request through node:http to a child server on `port`, announcing a JSON body of `contentLength` bytes;
 * the test writes the body (or only part of it) itself.
 */
export function createUpload(port: number, contentLength: number): ClientRequest {
  return httpRequest({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/v1/messages/batches',
    headers: { ...API_HEADERS, 'content-type': 'application/json', 'content-length': contentLength },
  });
}

/** An SDK client for a child server: no retries, so every failure shows. */
export function clientFor(url: string, apiKey = 'e2e'): Anthropic {
  return new Anthropic({ baseURL: url, apiKey, maxRetries: 0, timeout: 30_000 });
}

/** Starts `barge serve` with `args` (see `startBarge`) and an SDK client for it. */
export async function startWithClient(
  t: TestContext,
  args: string[],
): Promise<{ server: BargeProcess; client: Anthropic }> {
  const server = await startBarge(t, { args });
  return { server, client: clientFor(server.url) };
}

/** `n` small requests with custom ids `${prefix}-0` … */
export function smallRequests(prefix: string, n: number) {
  return Array.from({ length: n }, (_, i) => ({
    custom_id: `${prefix}-${i}`,
    params: {
      model: 'claude-e2e',
      max_tokens: 16,
      messages: [{ role: 'user' as const, content: `hello ${i}` }],
    },
  }));
}

/** Polls a batch until it has ended; fails with its last state after `timeoutMs`. */
export async function waitEnded(client: Anthropic, id: string, timeoutMs: number) {
  let last = '';
  try {
    return await pollUntil(
      async () => {
        const b = await client.messages.batches.retrieve(id);
        last = `${b.processing_status} ${JSON.stringify(b.request_counts)}`;
        return b.processing_status === 'ended' ? b : undefined;
      },
      timeoutMs,
      `batch ${id} to end`,
      100,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last seen: ${last}`);
  }
}

/** The raw results body of a batch, fetched without the SDK so its exact lines can be checked. */
export async function rawResults(url: string, id: string): Promise<string> {
  const res = await request(`${url}/v1/messages/batches/${id}/results`, { headers: API_HEADERS });
  const text = await res.body.text();
  assert.equal(res.statusCode, 200, `results of ${id}: ${text.slice(0, 500)}`);
  return text;
}

/**
 * Asserts an ended batch is complete and exact: counts sum to the total, all succeeded, and the results have one
 * LF-terminated line per custom_id — none missing, none twice.
 */
export async function assertExactResults(
  client: Anthropic,
  url: string,
  id: string,
  customIds: readonly string[],
): Promise<void> {
  const b = await client.messages.batches.retrieve(id);
  assert.equal(b.processing_status, 'ended', `batch ${id} has ended`);
  const c = b.request_counts;
  assert.deepEqual(c, countsWith({ succeeded: customIds.length }), `request_counts of ${id}`);
  const text = await rawResults(url, id);
  assert.ok(text.endsWith('\n'), 'results end with LF');
  const lines = text.slice(0, -1).split('\n');
  assert.equal(lines.length, customIds.length, `one result line per request in ${id}`);
  const seen = new Map<string, number>();
  for (const line of lines) {
    const r = JSON.parse(line) as { custom_id: string; result: { type: string } };
    seen.set(r.custom_id, (seen.get(r.custom_id) ?? 0) + 1);
    assert.equal(r.result.type, 'succeeded', `result of ${r.custom_id}`);
  }
  const twice = [...seen].filter(([, n]) => n > 1).map(([k]) => k);
  assert.deepEqual(twice, [], `custom_ids with more than one result in ${id}`);
  const missing = customIds.filter((cid) => !seen.has(cid));
  assert.deepEqual(
    missing.slice(0, 10),
    [],
    `custom_ids without a result in ${id} (${missing.length} missing)`,
  );
  assert.equal(seen.size, customIds.length);
}

/** Waits (up to `timeoutMs`) for a batch to end, then asserts it with `assertExactResults` against its requests. */
export async function assertEndsExactly(
  client: Anthropic,
  url: string,
  id: string,
  requests: ReadonlyArray<{ custom_id: string }>,
  timeoutMs: number,
): Promise<void> {
  await waitEnded(client, id, timeoutMs);
  await assertExactResults(
    client,
    url,
    id,
    requests.map((r) => r.custom_id),
  );
}
