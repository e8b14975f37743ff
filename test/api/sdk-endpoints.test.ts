import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import Anthropic0 from 'anthropic-sdk-0';
import { createApiKey } from '../../src/auth/api-keys.ts';
import {
  byCustomId,
  GatedBackend,
  params,
  parseJsonl,
  type ResultLine,
  raw,
  requests,
  SDKS,
  sdkClient,
  untilEnded,
} from '../helpers/api-harness.ts';
import { countsWith, MESSAGE_BATCH_KEYS } from '../helpers/message-batch.ts';
import { testServer } from '../helpers/test-server.ts';

const RFC3339_MICROS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const DAY_MS = 24 * 3_600_000;

/** Collects every item an async iterable yields. */
async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** A fetch that records every request's URL and headers before passing it on. */
function recordingFetch(log: Array<{ url: string; method: string; headers: Headers }>): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    const headers = new Headers(input instanceof Request ? input.headers : undefined);
    for (const [k, v] of new Headers(init?.headers)) headers.set(k, v);
    log.push({ url, method: init?.method ?? (input instanceof Request ? input.method : 'GET'), headers });
    return fetch(input, init);
  }) as typeof fetch;
}

for (const [name, Sdk] of SDKS) {
  describe(`SDK ${name}: the six endpoints`, () => {
    test('create answers 200 with a full in_progress batch and a request id', async (t) => {
      const server = await testServer(t, {}, { startWorker: false });
      const client = sdkClient(Sdk, server.url);

      const res = await client.messages.batches.create({ requests: requests(3) }).asResponse();
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/);
      assert.match(res.headers.get('request-id') ?? '', /^req_/);
      assert.equal(res.headers.get('x-should-retry'), 'false', 'a committed create must never be retried');
      const body = (await res.json()) as Record<string, unknown>;
      assert.deepEqual(Object.keys(body).sort(), MESSAGE_BATCH_KEYS);
      assert.match(String(body.id), /^msgbatch_01[1-9A-HJ-NP-Za-km-z]{22}$/);
      assert.equal(body.type, 'message_batch');
      assert.equal(body.processing_status, 'in_progress');
      assert.deepEqual(body.request_counts, countsWith({ processing: 3 }));
      for (const k of ['ended_at', 'archived_at', 'cancel_initiated_at', 'results_url']) {
        assert.equal(body[k], null, `${k} is null on a new batch`);
      }
      assert.match(String(body.created_at), RFC3339_MICROS);
      assert.match(String(body.expires_at), RFC3339_MICROS);
      assert.equal(Date.parse(String(body.expires_at)) - Date.parse(String(body.created_at)), DAY_MS);
      assert.ok(Math.abs(Date.parse(String(body.created_at)) - Date.now()) < 60_000, 'created_at is now');

      // The SDK exposes the request id both ways.
      const { data, response, request_id } = await client.messages.batches
        .create({ requests: requests(1) })
        .withResponse();
      assert.match(request_id ?? '', /^req_/);
      assert.equal(request_id, response.headers.get('request-id'));
      assert.equal((data as { _request_id?: string | null })._request_id, request_id);
      assert.equal(data.processing_status, 'in_progress');
      assert.notEqual(data.id, body.id);

      const got = await client.messages.batches.retrieve(data.id);
      assert.match(got._request_id ?? '', /^req_/);
      assert.notEqual(got._request_id, request_id, 'each response has its own request id');
      assert.deepEqual({ ...got }, { ...data }, 'retrieve returns what create returned');
    });

    test('retrieve, poll until ended, then results: one typed line per custom_id', async (t) => {
      const server = await testServer(t);
      const client = sdkClient(Sdk, server.url);
      const batch = await client.messages.batches.create({
        requests: [
          ...requests(3),
          { custom_id: 'bad-max-tokens', params: params('nope', { max_tokens: 0 }) },
        ],
      });
      const ended = await untilEnded(() => client.messages.batches.retrieve(batch.id));
      assert.deepEqual(ended.request_counts, countsWith({ succeeded: 3, errored: 1 }));
      assert.match(ended.ended_at ?? '', RFC3339_MICROS);
      assert.ok(Date.parse(ended.ended_at!) >= Date.parse(ended.created_at));
      assert.equal(ended.results_url, `${server.url}/v1/messages/batches/${batch.id}/results`);
      assert.equal(ended.cancel_initiated_at, null);
      assert.equal(ended.archived_at, null);

      const lines = (await collect(
        await client.messages.batches.results(batch.id),
      )) as unknown as ResultLine[];
      const byId = byCustomId(lines);
      assert.deepEqual([...byId.keys()].sort(), ['bad-max-tokens', 'r0', 'r1', 'r2']);
      for (const id of ['r0', 'r1', 'r2']) {
        const r = byId.get(id)!.result;
        assert.equal(r.type, 'succeeded', id);
        assert.equal(r.message?.type, 'message');
        assert.equal(r.message?.role, 'assistant');
        assert.match(String(r.message?.id), /^msg_/);
        assert.equal(r.message?.model, 'claude-opus-5');
        assert.equal(r.message?.usage.service_tier, 'batch');
        assert.equal(r.message?.content[0]?.type, 'text');
        assert.ok((r.message?.content[0]?.text ?? '').length > 0);
      }
      const bad = byId.get('bad-max-tokens')!.result;
      assert.equal(bad.type, 'errored');
      assert.equal(bad.error?.type, 'error');
      assert.equal(bad.error?.error.type, 'invalid_request_error');
      assert.match(bad.error?.error.message ?? '', /max_tokens/);

      // The raw body: application/x-jsonl, LF-terminated lines, no CR, no blank lines, the same records.
      const res = await fetch(ended.results_url!, {
        headers: { 'x-api-key': 'k', 'anthropic-version': '2023-06-01', accept: 'application/binary' },
      });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('request-id') ?? '', /^req_/);
      const text = await res.text();
      assert.match(text, /\n$/);
      assert.ok(!/\n\n/.test(text));
      const rawLines = parseJsonl(text, res.headers.get('content-type'));
      assert.equal(rawLines.length, 4);
      assert.deepEqual(
        new Map([...byCustomId(rawLines)].map(([k, v]) => [k, v])),
        new Map([...byId].map(([k, v]) => [k, JSON.parse(JSON.stringify(v))])),
      );
    });

    test('list: auto-pagination across pages, after_id and before_id pages', async (t) => {
      const server = await testServer(t, {}, { startWorker: false });
      const log: Array<{ url: string; method: string; headers: Headers }> = [];
      const client = sdkClient(Sdk, server.url, { fetch: recordingFetch(log) });
      const created: string[] = [];
      for (let i = 0; i < 7; i++)
        created.push((await client.messages.batches.create({ requests: requests(1) })).id);
      const newest = [...created].reverse();
      assert.deepEqual([...created].sort(), created, 'ids sort by creation time');

      log.length = 0;
      const all = await collect(client.messages.batches.list({ limit: 3 }));
      assert.deepEqual(
        all.map((b) => b.id),
        newest,
      );
      const pages = log.filter((l) => l.method === 'GET');
      assert.equal(pages.length, 3, 'pages of 3, 3 and 1');
      assert.equal(new URL(pages[1]!.url).searchParams.get('after_id'), newest[2]);
      assert.equal(new URL(pages[2]!.url).searchParams.get('after_id'), newest[5]);

      const p1 = await client.messages.batches.list({ limit: 3 });
      assert.deepEqual(
        p1.data.map((b) => b.id),
        newest.slice(0, 3),
      );
      assert.equal(p1.has_more, true);
      assert.equal(p1.first_id, newest[0]);
      assert.equal(p1.last_id, newest[2]);
      const p2 = await client.messages.batches.list({ limit: 3, after_id: p1.last_id! });
      assert.deepEqual(
        p2.data.map((b) => b.id),
        newest.slice(3, 6),
      );
      assert.equal(p2.has_more, true);
      const p3 = await client.messages.batches.list({ limit: 3, after_id: p2.last_id! });
      assert.deepEqual(
        p3.data.map((b) => b.id),
        newest.slice(6),
      );
      assert.equal(p3.has_more, false);
      assert.equal(p3.first_id, newest[6]);
      assert.equal(p3.last_id, newest[6]);

      const b1 = await client.messages.batches.list({ limit: 2, before_id: newest[5]! });
      assert.deepEqual(
        b1.data.map((b) => b.id),
        newest.slice(3, 5),
        'the two batches immediately newer, newest first',
      );
      assert.equal(b1.has_more, true);
      assert.equal(b1.first_id, newest[3]);
      assert.equal(b1.last_id, newest[4]);
      const b2 = await client.messages.batches.list({ limit: 5, before_id: newest[2]! });
      assert.deepEqual(
        b2.data.map((b) => b.id),
        newest.slice(0, 2),
      );
      assert.equal(b2.has_more, false);

      // Reverse auto-pagination walks towards newer batches until has_more is false.
      const backwards = await collect(client.messages.batches.list({ limit: 2, before_id: newest[6]! }));
      assert.deepEqual(backwards.map((b) => b.id).sort(), newest.slice(0, 6).sort());

      const empty = await client.messages.batches.list({ limit: 3, after_id: newest[6]! });
      assert.deepEqual(empty.data, []);
      assert.equal(empty.has_more, false);
      assert.equal(empty.first_id, null);
      assert.equal(empty.last_id, null);
    });

    test('cancel: canceling with in-flight work, idempotent while canceling, 400 once ended', async (t) => {
      const backend = new GatedBackend();
      t.after(() => backend.open());
      const server = await testServer(t, { concurrency: 1 }, { backend });
      const client = sdkClient(Sdk, server.url);
      const batch = await client.messages.batches.create({ requests: requests(3) });
      await backend.waitForCalls(1);
      assert.deepEqual(backend.held, ['r0'], 'one request in flight, two queued');

      const c1 = await client.messages.batches.cancel(batch.id);
      assert.equal(c1.processing_status, 'canceling');
      assert.match(c1.cancel_initiated_at ?? '', RFC3339_MICROS);
      assert.deepEqual(c1.request_counts, countsWith({ processing: 3 }));
      assert.equal(c1.ended_at, null);
      assert.equal(c1.results_url, null);

      const c2 = await client.messages.batches.cancel(batch.id);
      assert.deepEqual({ ...c2 }, { ...c1 }, 'a second cancel while canceling changes nothing');
      assert.equal((await client.messages.batches.retrieve(batch.id)).processing_status, 'canceling');

      backend.release();
      const ended = await untilEnded(() => client.messages.batches.retrieve(batch.id));
      assert.deepEqual(ended.request_counts, countsWith({ succeeded: 1, canceled: 2 }));
      assert.equal(ended.cancel_initiated_at, c1.cancel_initiated_at);
      assert.ok(ended.ended_at !== null);
      const byId = byCustomId(
        (await collect(await client.messages.batches.results(batch.id))) as unknown as ResultLine[],
      );
      assert.deepEqual([...byId].map(([k, v]) => [k, v.result.type]).sort(), [
        ['r0', 'succeeded'],
        ['r1', 'canceled'],
        ['r2', 'canceled'],
      ]);

      await assert.rejects(client.messages.batches.cancel(batch.id), (err: unknown) => {
        assert.ok(err instanceof Sdk.BadRequestError, String(err));
        assert.equal(err.status, 400);
        assert.equal((err.error as { error: { type: string } }).error.type, 'invalid_request_error');
        assert.match(err.requestID ?? '', /^req_/);
        return true;
      });
      assert.deepEqual({ ...(await client.messages.batches.retrieve(batch.id)) }, { ...ended });
    });

    test('delete: an ended batch is gone everywhere; a batch that has not ended is 400', async (t) => {
      const backend = new GatedBackend();
      t.after(() => backend.open());
      const server = await testServer(t, {}, { backend });
      const client = sdkClient(Sdk, server.url);

      const done = await client.messages.batches.create({ requests: requests(2, 'd') });
      await backend.waitForCalls(2);
      backend.release();
      await untilEnded(() => client.messages.batches.retrieve(done.id));

      const running = await client.messages.batches.create({ requests: requests(1, 'x') });
      // In flight, so that the cancel below leaves it `canceling` (a request still queued is canceled at once).
      await backend.waitForCalls(3);
      await assert.rejects(client.messages.batches.delete(running.id), (err: unknown) => {
        assert.ok(err instanceof Sdk.BadRequestError, String(err));
        assert.equal((err.error as { error: { type: string } }).error.type, 'invalid_request_error');
        return true;
      });
      await client.messages.batches.cancel(running.id);
      await assert.rejects(
        client.messages.batches.delete(running.id),
        Sdk.BadRequestError,
        'canceling is not ended',
      );
      assert.equal((await client.messages.batches.retrieve(running.id)).processing_status, 'canceling');

      const deleted = await client.messages.batches.delete(done.id);
      assert.deepEqual({ ...deleted }, { id: done.id, type: 'message_batch_deleted' });
      assert.match(deleted._request_id ?? '', /^req_/);

      for (const [what, call] of [
        ['retrieve', () => client.messages.batches.retrieve(done.id)],
        ['results', () => client.messages.batches.results(done.id)],
        ['cancel', () => client.messages.batches.cancel(done.id)],
        ['delete', () => client.messages.batches.delete(done.id)],
      ] as const) {
        await assert.rejects(call(), (err: unknown) => {
          assert.ok(err instanceof Sdk.NotFoundError, `${what}: ${String(err)}`);
          assert.equal(err.status, 404);
          assert.equal((err.error as { error: { type: string } }).error.type, 'not_found_error');
          return true;
        });
      }
      const listed = await collect(client.messages.batches.list());
      assert.deepEqual(
        listed.map((b) => b.id),
        [running.id],
      );
    });

    test('the beta methods work unchanged', async (t) => {
      const server = await testServer(t);
      const log: Array<{ url: string; method: string; headers: Headers }> = [];
      const client = sdkClient(Sdk, server.url, { fetch: recordingFetch(log) });
      const beta = client.beta.messages.batches;
      const created = await beta.create({
        requests: requests(2, 'b') as unknown as Anthropic.Beta.Messages.BatchCreateParams['requests'],
      });
      assert.match(created.id, /^msgbatch_/);
      assert.equal(created.type, 'message_batch');
      const got = await beta.retrieve(created.id);
      assert.equal(got.id, created.id);
      const listed = await collect(beta.list({ limit: 10 }));
      assert.deepEqual(
        listed.map((b) => b.id),
        [created.id],
      );
      const ended = await untilEnded(() => beta.retrieve(created.id));
      assert.deepEqual(ended.request_counts, countsWith({ succeeded: 2 }));
      const lines = await collect(await beta.results(created.id));
      assert.deepEqual(lines.map((l) => `${l.custom_id}:${l.result.type}`).sort(), [
        'b0:succeeded',
        'b1:succeeded',
      ]);

      if (name === '0.x') {
        // The old beta markers reached the server and were accepted.
        assert.ok(log.some((l) => new URL(l.url).searchParams.get('beta') === 'true'));
        assert.ok(
          log.some((l) => (l.headers.get('anthropic-beta') ?? '').includes('message-batches-2024-09-24')),
        );
      }
    });
  });
}

describe('both SDK lines authenticate against --auth keys', () => {
  test('0.x sends x-api-key + 2023-06-01, 1.x sends Bearer + 2026-10-21; both reach one workspace', async (t) => {
    const server = await testServer(t, { auth: 'keys' });
    const { secret } = await createApiKey(server.store, 'team-a', Date.now());
    const log1: Array<{ url: string; method: string; headers: Headers }> = [];
    const log0: Array<{ url: string; method: string; headers: Headers }> = [];
    const c1 = sdkClient(Anthropic, server.url, { apiKey: secret, fetch: recordingFetch(log1) });
    const c0 = sdkClient(Anthropic0, server.url, { apiKey: secret, fetch: recordingFetch(log0) });

    const b1 = await c1.messages.batches.create({ requests: requests(1) });
    const b0 = await c0.messages.batches.create({ requests: requests(1) });
    assert.equal((await c0.messages.batches.retrieve(b1.id)).id, b1.id, '0.x sees the batch 1.x created');
    assert.equal((await c1.messages.batches.retrieve(b0.id)).id, b0.id, '1.x sees the batch 0.x created');
    assert.deepEqual(
      (await collect(c1.messages.batches.list())).map((b) => b.id).sort(),
      [b0.id, b1.id].sort(),
    );

    const h1 = log1[0]!.headers;
    assert.equal(h1.get('authorization'), `Bearer ${secret}`);
    assert.equal(h1.get('x-api-key'), null);
    assert.equal(h1.get('anthropic-version'), '2026-10-21');
    const h0 = log0[0]!.headers;
    assert.equal(h0.get('x-api-key'), secret);
    assert.equal(h0.get('authorization'), null);
    assert.equal(h0.get('anthropic-version'), '2023-06-01');

    for (const [Sdk, label] of [
      [Anthropic, '1.x'],
      [Anthropic0, '0.x'],
    ] as const) {
      const bad = sdkClient(Sdk, server.url, { apiKey: 'sk-barge-wrong' });
      await assert.rejects(bad.messages.batches.list(), Sdk.AuthenticationError, label);
    }
    // Without the key, raw requests are refused too.
    assert.equal((await raw(server.url, 'GET', `/v1/messages/batches/${b1.id}`)).status, 401);
  });
});
