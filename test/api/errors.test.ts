import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import Anthropic0 from 'anthropic-sdk-0';
import { createApiKey } from '../../src/auth/api-keys.ts';
import type { RunningServer } from '../../src/server.ts';
import {
  assertEnvelope,
  byCustomId,
  params,
  type RawResponse,
  raw,
  rawResults,
  requests,
  SDKS,
  sdkClient,
  untilEnded,
} from '../helpers/api-harness.ts';
import { countsWith } from '../helpers/message-batch.ts';
import { testServer } from '../helpers/test-server.ts';

const CREATE = '/v1/messages/batches';
const P = JSON.stringify(params('hi'));

/** A create body from raw request JSON texts. */
function body(...items: string[]): string {
  return `{"requests":[${items.join(',')}]}`;
}
function item(customId: string, paramsJson = P): string {
  return `{"custom_id":${JSON.stringify(customId)},"params":${paramsJson}}`;
}

/** Nothing became visible or claimable. */
async function assertNothingStored(server: RunningServer, label: string): Promise<void> {
  const list = await raw(server.url, 'GET', `${CREATE}?limit=1000`);
  assert.equal(list.status, 200);
  assert.deepEqual((list.json as { data: unknown[] }).data, [], `${label}: a batch was stored`);
  const claimed = await server.store.claim({ owner: 'probe', limit: 10, now: Date.now(), leaseMs: 1000 });
  assert.deepEqual(claimed, [], `${label}: requests were queued`);
}

/**
 * A JSON request (`anthropic-version: 2023-06-01`, `content-type: application/json`, then `opts.headers`) through
 * node:http, so the test controls framing (chunked, Content-Length without a body).
 */
function httpRequest(
  url: string,
  opts: { method: string; path: string; headers?: Record<string, string> },
  write: (req: http.ClientRequest, responded: () => boolean) => void,
): Promise<RawResponse> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    let responded = false;
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        method: opts.method,
        path: opts.path,
        headers: { 'anthropic-version': '2023-06-01', 'content-type': 'application/json', ...opts.headers },
        agent: false,
      },
      (res) => {
        responded = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
          let json: unknown = null;
          try {
            json = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode ?? 0, headers, text, json });
        });
        res.on('error', reject);
      },
    );
    // Once the server has answered and closed, further writes may fail with EPIPE/ECONNRESET: that is expected.
    req.on('error', (err) => {
      if (!responded) reject(err);
    });
    write(req, () => responded);
  });
}

describe('HTTP errors: envelope, status and type', () => {
  test('unknown paths and methods are 404 not_found_error, also through the SDKs', async (t) => {
    const server = await testServer(t);
    for (const [method, path] of [
      ['GET', '/v1/nope'],
      ['GET', '/nope'],
      ['PUT', CREATE],
      ['PATCH', `${CREATE}/msgbatch_01abc`],
      ['POST', `${CREATE}/msgbatch_01abc/unknown`],
      ['GET', `${CREATE}/msgbatch_01abc/results/extra`],
    ] as const) {
      assertEnvelope(
        await raw(server.url, method, path),
        404,
        'not_found_error',
        /Not found/,
        `${method} ${path}`,
      );
    }
    // Unknown batch ids of any shape are 404 with the envelope, even past Fastify's path-parameter length.
    assertEnvelope(await raw(server.url, 'GET', `${CREATE}/msgbatch_01nope`), 404, 'not_found_error');
    assertEnvelope(await raw(server.url, 'GET', `${CREATE}/${'x'.repeat(300)}`), 404, 'not_found_error');
    assertEnvelope(
      await raw(server.url, 'GET', `${CREATE}/${'x'.repeat(300)}/results`),
      404,
      'not_found_error',
    );
    // A path that is not valid percent-encoding still gets the envelope and a request id.
    assertEnvelope(await raw(server.url, 'GET', `${CREATE}/%zz`), 400, 'invalid_request_error');

    for (const [name, Sdk] of SDKS) {
      const client = sdkClient(Sdk, server.url);
      await assert.rejects(client.get('/_stainless_unknown_path'), (err: unknown) => {
        assert.ok(err instanceof Sdk.NotFoundError, `${name}: ${String(err)}`);
        assert.equal((err.error as { error: { type: string } }).error.type, 'not_found_error');
        assert.match(err.requestID ?? '', /^req_/);
        return true;
      });
      await assert.rejects(
        client.messages.batches.retrieve('msgbatch_01DoesNotExist'),
        Sdk.NotFoundError,
        name,
      );
    }
  });

  test('malformed JSON bodies are 400 invalid_request_error', async (t) => {
    const server = await testServer(t);
    for (const b of [
      '{"requests":[',
      '{"requests":[}',
      'not json',
      '{"requests":[{"custom_id":"a","params":{]}]}',
    ]) {
      assertEnvelope(
        await raw(server.url, 'POST', CREATE, { body: b }),
        400,
        'invalid_request_error',
        undefined,
        b,
      );
    }
    const created = await raw(server.url, 'POST', CREATE, { body: body(item('a')) });
    const id = (created.json as { id: string }).id;
    assertEnvelope(
      await raw(server.url, 'POST', `${CREATE}/${id}/cancel`, { body: '{' }),
      400,
      'invalid_request_error',
      /JSON/,
    );
    await assertNothingStoredExcept(server, [id]);
  });

  test('anthropic-version: missing or unsupported is 400; both live versions work', async (t) => {
    const server = await testServer(t);
    assertEnvelope(
      await raw(server.url, 'GET', CREATE, { headers: { 'anthropic-version': undefined } }),
      400,
      'invalid_request_error',
      /anthropic-version/,
    );
    assertEnvelope(
      await raw(server.url, 'POST', CREATE, {
        headers: { 'anthropic-version': undefined },
        body: body(item('a')),
      }),
      400,
      'invalid_request_error',
      /anthropic-version/,
    );
    assertEnvelope(
      await raw(server.url, 'GET', CREATE, { headers: { 'anthropic-version': '2099-01-01' } }),
      400,
      'invalid_request_error',
      /not a supported version/,
    );
    await assertNothingStored(server, 'versionless create');
    for (const v of ['2023-06-01', '2026-10-21']) {
      assert.equal(
        (await raw(server.url, 'GET', CREATE, { headers: { 'anthropic-version': v } })).status,
        200,
        v,
      );
    }
  });

  test('envelope validation errors name the place, and nothing is stored', async (t) => {
    const server = await testServer(t, {}, { startWorker: false });
    const ok = [item('a'), item('b'), item('c')];
    const cases: Array<[string, RegExp]> = [
      [body(...ok, item('bad id!')), /^requests\.3\.custom_id: String should match pattern/],
      [body(...ok, item('a')), /^requests\.3\.custom_id: duplicate custom_id/],
      [body(item('x'.repeat(65))), /^requests\.0\.custom_id: String should have at most 64 characters/],
      [body(item('')), /^requests\.0\.custom_id: String should have at least 1 character/],
      [body(item('a', '[]')), /^requests\.0\.params: Input should be a valid dictionary/],
      [body(item('a', '"text"')), /^requests\.0\.params: Input should be a valid dictionary/],
      [body(...ok, '{"custom_id":"d"}'), /^requests\.3\.params: Field required/],
      [body(`{"params":${P}}`), /^requests\.0\.custom_id: Field required/],
      [body(`{"custom_id":"a","params":${P},"x":1}`), /^requests\.0\.x: Extra inputs are not permitted/],
      ['{"requests":[]}', /^requests: List should have at least 1 item/],
      ['{}', /^requests: Field required/],
      ['{"requests":{}}', /^requests: Input should be a valid list/],
      [`{"requests":[${item('a')}],"foo":1}`, /^foo: Extra inputs are not permitted/],
      ['[]', /valid dictionary/],
      ['', /./],
    ];
    for (const [b, message] of cases) {
      assertEnvelope(
        await raw(server.url, 'POST', CREATE, { body: b }),
        400,
        'invalid_request_error',
        message,
        b,
      );
    }
    // A failure after thousands of requests were already staged removes them all.
    const many = Array.from({ length: 2500 }, (_, i) => item(`m${i}`, '{}'));
    assertEnvelope(
      await raw(server.url, 'POST', CREATE, { body: body(...many, item('m7', '{}')) }),
      400,
      'invalid_request_error',
      /^requests\.2500\.custom_id: duplicate custom_id "m7"/,
    );
    await assertNothingStored(server, 'rejected creates');
  });

  test('more than 100,000 requests is 400 and stores nothing', async (t) => {
    const server = await testServer(t, {}, { startWorker: false });
    const parts: string[] = new Array(100_001);
    for (let i = 0; i < parts.length; i++) parts[i] = `{"custom_id":"r${i}","params":{}}`;
    assertEnvelope(
      await raw(server.url, 'POST', CREATE, { body: `{"requests":[${parts.join(',')}]}` }),
      400,
      'invalid_request_error',
      /^requests: List should have at most 100000 items/,
    );
    await assertNothingStored(server, 'over maxItems');
  });

  test('413 request_too_large from Content-Length, before the body is sent', async (t) => {
    const server = await testServer(t, {}, { maxBodyBytes: 64 * 1024 });
    // Only the headers are sent: the answer cannot have waited for the body.
    const res = await httpRequest(
      server.url,
      { method: 'POST', path: CREATE, headers: { 'content-length': '1000000' } },
      (req) => req.flushHeaders(),
    );
    assertEnvelope(res, 413, 'request_too_large');
    assert.equal(res.headers.get('connection'), 'close');
    // Exactly at the limit is not too large (here: a valid body padded with whitespace).
    const b = body(item('a'));
    const atLimit = await raw(server.url, 'POST', CREATE, { body: b + ' '.repeat(64 * 1024 - b.length) });
    assert.equal(atLimit.status, 200, atLimit.text);
  });

  test('413 mid-stream when the length is absent (chunked), and nothing is stored', async (t) => {
    const server = await testServer(t, {}, { startWorker: false, maxBodyBytes: 64 * 1024 });
    let sent = 0;
    const res = await httpRequest(
      server.url,
      { method: 'POST', path: CREATE, headers: { 'transfer-encoding': 'chunked' } },
      (req, responded) => {
        req.write('{"requests":[');
        let i = 0;
        const pump = (): void => {
          // Valid requests, ~1 KB each, until the server answers (or far past the limit).
          while (!responded() && sent < 1024 * 1024) {
            const chunk = `${i ? ',' : ''}${item(`r${i}`, JSON.stringify(params('y'.repeat(1000))))}`;
            i++;
            sent += chunk.length;
            if (!req.write(chunk)) {
              req.once('drain', pump);
              return;
            }
          }
          if (!responded()) req.end(']}');
        };
        pump();
      },
    );
    assertEnvelope(res, 413, 'request_too_large');
    assert.equal(res.headers.get('connection'), 'close');
    assert.ok(sent > 64 * 1024, 'the limit was passed before the answer');
    await assertNothingStored(server, 'chunked 413');
  });

  test('a Content-Length that lies gets a 4xx and the server survives', async (t) => {
    const server = await testServer(t, {}, { startWorker: false, maxBodyBytes: 64 * 1024 });
    const u = new URL(server.url);
    const text = await new Promise<string>((resolve, reject) => {
      const s = net.connect(Number(u.port), u.hostname);
      let out = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => {
        out += d;
      });
      s.on('close', () => resolve(out));
      s.on('error', (err) => (out ? undefined : reject(err)));
      // Declares 10 bytes, sends 100 KB more.
      s.write(
        'POST /v1/messages/batches HTTP/1.1\r\nHost: x\r\nanthropic-version: 2023-06-01\r\n' +
          'content-type: application/json\r\ncontent-length: 10\r\n\r\n' +
          `{"requests":[${'x'.repeat(100_000)}`,
      );
      // Guard only: the server closes the connection itself.
      const guard = setTimeout(() => s.destroy(), 10_000);
      s.on('close', () => clearTimeout(guard));
    });
    const statuses = [...text.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
    assert.ok(statuses.length >= 1, `no response: ${JSON.stringify(text.slice(0, 200))}`);
    for (const s of statuses) assert.ok(s >= 400 && s < 500, `status ${s}`);
    for (const m of text.matchAll(/\{"type":"error".*?"request_id":"req_[^"]+"\}/g)) {
      assert.equal((JSON.parse(m[0]) as { type: string }).type, 'error');
    }
    assert.ok(/"type":"error"/.test(text), `every answer is the envelope: ${text.slice(0, 300)}`);
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    await assertNothingStored(server, 'lying Content-Length');
  });

  test('cancel and delete accept an empty body with or without content-type: application/json', async (t) => {
    const server = await testServer(t, {}, { startWorker: false, startSweeper: false });
    const create = async () =>
      ((await raw(server.url, 'POST', CREATE, { body: body(item('a')) })).json as { id: string }).id;
    const a = await create();
    const b = await create();
    const noType = await raw(server.url, 'POST', `${CREATE}/${a}/cancel`);
    assert.equal(noType.status, 200, noType.text);
    assert.equal((noType.json as { processing_status: string }).processing_status, 'canceling');
    const jsonType = await raw(server.url, 'POST', `${CREATE}/${b}/cancel`, {
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(jsonType.status, 200, jsonType.text);
    assert.match(jsonType.headers.get('content-type') ?? '', /^application\/json\b/);
    // Also an explicit zero Content-Length, as the Python SDK may send.
    const zero = await httpRequest(
      server.url,
      { method: 'POST', path: `${CREATE}/${b}/cancel`, headers: { 'content-length': '0' } },
      (req) => req.end(),
    );
    assert.equal(zero.status, 200, zero.text);

    await server.sweeper.drain();
    for (const id of [a, b]) {
      const got = (await raw(server.url, 'GET', `${CREATE}/${id}`)).json as { processing_status: string };
      assert.equal(got.processing_status, 'ended');
    }
    const delNoType = await raw(server.url, 'DELETE', `${CREATE}/${a}`);
    assert.equal(delNoType.status, 200, delNoType.text);
    assert.deepEqual(delNoType.json, { id: a, type: 'message_batch_deleted' });
    const delJson = await httpRequest(server.url, { method: 'DELETE', path: `${CREATE}/${b}` }, (req) =>
      req.end(),
    );
    assert.equal(delJson.status, 200, delJson.text);
    assert.deepEqual(delJson.json, { id: b, type: 'message_batch_deleted' });
  });

  test('?beta=true and anthropic-beta are accepted on every route', async (t) => {
    const server = await testServer(t);
    const beta = { 'anthropic-beta': 'message-batches-2024-09-24' };
    const created = await raw(server.url, 'POST', `${CREATE}?beta=true`, {
      headers: beta,
      body: body(item('a')),
    });
    assert.equal(created.status, 200, created.text);
    const id = (created.json as { id: string }).id;
    const both = await raw(server.url, 'POST', `${CREATE}?beta=true`, {
      headers: { 'anthropic-beta': 'some-other-beta-2025-01-01,message-batches-2024-09-24' },
      body: body(item('b')),
    });
    assert.equal(both.status, 200, both.text);
    assert.equal((await raw(server.url, 'GET', `${CREATE}/${id}?beta=true`, { headers: beta })).status, 200);
    const list = await raw(server.url, 'GET', `${CREATE}?beta=true&limit=5`, { headers: beta });
    assert.equal(list.status, 200);
    assert.equal((list.json as { data: unknown[] }).data.length, 2);
    await untilEnded(
      async () => (await raw(server.url, 'GET', `${CREATE}/${id}`)).json as { processing_status: string },
    );
    const lines = await rawResults(server.url, id, beta);
    assert.equal(lines.length, 1);
    const c = await raw(server.url, 'POST', `${CREATE}/${id}/cancel?beta=true`, { headers: beta });
    assertEnvelope(c, 400, 'invalid_request_error', /already ended/);
    assert.equal(
      (await raw(server.url, 'DELETE', `${CREATE}/${id}?beta=true`, { headers: beta })).status,
      200,
    );
  });

  test('list: limit out of range or not an integer, and both cursors, are 400', async (t) => {
    const server = await testServer(t, {}, { startWorker: false });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(
        ((await raw(server.url, 'POST', CREATE, { body: body(item('a')) })).json as { id: string }).id,
      );
    }
    const cases: Array<[string, RegExp]> = [
      ['limit=0', /limit/],
      ['limit=1001', /limit/],
      ['limit=abc', /limit/],
      ['limit=1.5', /limit/],
      ['limit=-1', /limit/],
      ['limit=', /limit/],
      [`after_id=${ids[0]}&before_id=${ids[2]}`, /after_id and before_id/],
      ['after_id=not-an-id', /after_id/],
    ];
    for (const [q, message] of cases) {
      assertEnvelope(
        await raw(server.url, 'GET', `${CREATE}?${q}`),
        400,
        'invalid_request_error',
        message,
        q,
      );
    }
    for (const q of ['limit=1', 'limit=1000', '']) {
      assert.equal((await raw(server.url, 'GET', `${CREATE}?${q}`)).status, 200, q);
    }
    const one = await raw(server.url, 'GET', `${CREATE}?limit=1`);
    assert.deepEqual(
      (one.json as { data: Array<{ id: string }> }).data.map((b) => b.id),
      [ids[2]],
    );
    assert.equal((one.json as { has_more: boolean }).has_more, true);

    // A cursor naming a deleted batch pages from where that id would sort.
    const middle = ids[1]!;
    await raw(server.url, 'POST', `${CREATE}/${middle}/cancel`);
    await server.sweeper.drain();
    assert.equal((await raw(server.url, 'DELETE', `${CREATE}/${middle}`)).status, 200);
    const after = await raw(server.url, 'GET', `${CREATE}?after_id=${middle}`);
    assert.deepEqual(
      (after.json as { data: Array<{ id: string }> }).data.map((b) => b.id),
      [ids[0]],
    );
    const before = await raw(server.url, 'GET', `${CREATE}?before_id=${middle}`);
    assert.deepEqual(
      (before.json as { data: Array<{ id: string }> }).data.map((b) => b.id),
      [ids[2]],
    );
  });

  test('results of a batch that has not ended is 400; of an unknown batch 404', async (t) => {
    const server = await testServer(t, {}, { startWorker: false });
    const id = ((await raw(server.url, 'POST', CREATE, { body: body(item('a')) })).json as { id: string }).id;
    assertEnvelope(
      await raw(server.url, 'GET', `${CREATE}/${id}/results`),
      400,
      'invalid_request_error',
      /has not finished processing/,
    );
    assertEnvelope(await raw(server.url, 'GET', `${CREATE}/msgbatch_01nope/results`), 404, 'not_found_error');
    // The SDKs never ask: results_url is null, so they throw before any request.
    for (const [name, Sdk] of SDKS) {
      await assert.rejects(sdkClient(Sdk, server.url).messages.batches.results(id), /results_url/, name);
    }
  });

  test('5xx answers are the envelope and never carry a stack trace', async (t) => {
    const server = await testServer(t);
    const id = ((await raw(server.url, 'POST', CREATE, { body: body(item('a')) })).json as { id: string }).id;
    const original = server.store.getBatch.bind(server.store);
    server.store.getBatch = async () => {
      throw new Error('boom: SQLITE_CORRUPT at /srv/secret/store.ts:12:34');
    };
    t.after(() => {
      server.store.getBatch = original;
    });
    const res = await raw(server.url, 'GET', `${CREATE}/${id}`);
    assertEnvelope(res, 500, 'api_error');
    for (const leak of ['boom', 'SQLITE', 'secret', '.ts:', '    at ', 'stack']) {
      assert.ok(!res.text.includes(leak), `the 500 body leaks ${leak}: ${res.text}`);
    }
    for (const [name, Sdk] of SDKS) {
      await assert.rejects(
        sdkClient(Sdk, server.url).messages.batches.retrieve(id),
        Sdk.InternalServerError,
        name,
      );
    }
  });
});

describe('authentication and workspaces (--auth keys)', () => {
  test('missing, wrong and revoked keys are 401; Bearer works; x-api-key wins over Bearer', async (t) => {
    const server = await testServer(t, { auth: 'keys' });
    const key = await createApiKey(server.store, 'team-a', Date.now());
    const other = await createApiKey(server.store, 'team-a', Date.now());

    assertEnvelope(
      await raw(server.url, 'GET', CREATE, { headers: { 'x-api-key': undefined } }),
      401,
      'authentication_error',
    );
    assertEnvelope(
      await raw(server.url, 'GET', CREATE, { headers: { 'x-api-key': 'sk-barge-wrong' } }),
      401,
      'authentication_error',
    );
    assertEnvelope(
      await raw(server.url, 'POST', CREATE, {
        headers: { 'x-api-key': 'sk-barge-wrong' },
        body: body(item('a')),
      }),
      401,
      'authentication_error',
    );
    assertEnvelope(
      await raw(server.url, 'GET', CREATE, {
        headers: { 'x-api-key': undefined, authorization: 'Basic abc' },
      }),
      401,
      'authentication_error',
    );
    assert.equal(
      (await raw(server.url, 'GET', CREATE, { headers: { 'x-api-key': key.secret } })).status,
      200,
    );
    assert.equal(
      (
        await raw(server.url, 'GET', CREATE, {
          headers: { 'x-api-key': undefined, authorization: `Bearer ${key.secret}` },
        })
      ).status,
      200,
    );
    assert.equal(
      (
        await raw(server.url, 'GET', CREATE, {
          headers: { 'x-api-key': key.secret, authorization: 'Bearer sk-barge-wrong' },
        })
      ).status,
      200,
      'a valid x-api-key wins over a wrong Bearer',
    );
    assertEnvelope(
      await raw(server.url, 'GET', CREATE, {
        headers: { 'x-api-key': 'sk-barge-wrong', authorization: `Bearer ${key.secret}` },
      }),
      401,
      'authentication_error',
      undefined,
      'x-api-key is the credential when both are present',
    );

    assert.equal(await server.store.revokeKey(key.id, Date.now()), true);
    assertEnvelope(
      await raw(server.url, 'GET', CREATE, { headers: { 'x-api-key': key.secret } }),
      401,
      'authentication_error',
    );
    assertEnvelope(
      await raw(server.url, 'GET', CREATE, {
        headers: { 'x-api-key': undefined, authorization: `Bearer ${key.secret}` },
      }),
      401,
      'authentication_error',
    );
    assert.equal(
      (await raw(server.url, 'GET', CREATE, { headers: { 'x-api-key': other.secret } })).status,
      200,
    );
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200, 'health needs no key');

    for (const [name, Sdk] of SDKS) {
      const client = sdkClient(Sdk, server.url, { apiKey: key.secret });
      await assert.rejects(client.messages.batches.list(), (err: unknown) => {
        assert.ok(err instanceof Sdk.AuthenticationError, `${name}: ${String(err)}`);
        assert.equal((err.error as { error: { type: string } }).error.type, 'authentication_error');
        return true;
      });
    }
  });

  test('a batch is 404 in every other workspace and absent from its list', async (t) => {
    const server = await testServer(t, { auth: 'keys' }, { startWorker: false });
    const a = await createApiKey(server.store, 'ws-a', Date.now());
    const b = await createApiKey(server.store, 'ws-b', Date.now());
    const asA = { 'x-api-key': a.secret };
    const asB = { 'x-api-key': b.secret };
    const created = await raw(server.url, 'POST', CREATE, { headers: asA, body: body(item('a')) });
    const id = (created.json as { id: string }).id;

    const probeAsB = async (label: string) => {
      for (const [method, path] of [
        ['GET', `${CREATE}/${id}`],
        ['GET', `${CREATE}/${id}/results`],
        ['POST', `${CREATE}/${id}/cancel`],
        ['DELETE', `${CREATE}/${id}`],
      ] as const) {
        assertEnvelope(
          await raw(server.url, method, path, { headers: asB }),
          404,
          'not_found_error',
          undefined,
          `${label} ${method} ${path}`,
        );
      }
      const listB = await raw(server.url, 'GET', CREATE, { headers: asB });
      assert.deepEqual(listB.json, { data: [], has_more: false, first_id: null, last_id: null });
    };

    await probeAsB('in progress');
    const stillA = (await raw(server.url, 'GET', `${CREATE}/${id}`, { headers: asA })).json as Record<
      string,
      unknown
    >;
    assert.equal(stillA.processing_status, 'in_progress', "B's cancel did not touch A's batch");
    assert.equal(stillA.cancel_initiated_at, null);

    assert.equal((await raw(server.url, 'POST', `${CREATE}/${id}/cancel`, { headers: asA })).status, 200);
    await server.sweeper.drain();
    assert.equal(
      (
        (await raw(server.url, 'GET', `${CREATE}/${id}`, { headers: asA })).json as {
          processing_status: string;
        }
      ).processing_status,
      'ended',
    );
    await probeAsB('ended');
    const listA = await raw(server.url, 'GET', CREATE, { headers: asA });
    assert.deepEqual(
      (listA.json as { data: Array<{ id: string }> }).data.map((x) => x.id),
      [id],
    );
    assert.equal((await raw(server.url, 'DELETE', `${CREATE}/${id}`, { headers: asA })).status, 200);
  });

  test('anthropic-workspace-id must name the key workspace (403 permission_error)', async (t) => {
    const server = await testServer(t, { auth: 'keys' });
    const a = await createApiKey(server.store, 'ws-a', Date.now());
    assertEnvelope(
      await raw(server.url, 'GET', CREATE, {
        headers: { 'x-api-key': a.secret, 'anthropic-workspace-id': 'ws-b' },
      }),
      403,
      'permission_error',
    );
    assertEnvelope(
      await raw(server.url, 'POST', CREATE, {
        headers: { 'x-api-key': a.secret, 'anthropic-workspace-id': 'ws-b' },
        body: body(item('a')),
      }),
      403,
      'permission_error',
    );
    assert.equal(
      (
        await raw(server.url, 'GET', CREATE, {
          headers: { 'x-api-key': a.secret, 'anthropic-workspace-id': 'ws-a' },
        })
      ).status,
      200,
    );
    const list = await raw(server.url, 'GET', CREATE, { headers: { 'x-api-key': a.secret } });
    assert.deepEqual((list.json as { data: unknown[] }).data, [], 'the refused create stored nothing');
  });
});

describe('params problems are errored results, not HTTP errors', () => {
  test('only the invalid requests end errored with invalid_request_error', async (t) => {
    const server = await testServer(t);
    const p = (extra: Record<string, unknown>) => JSON.stringify(params('x', extra));
    const created = await raw(server.url, 'POST', CREATE, {
      body: body(
        item('ok-1'),
        item('stream', p({ stream: true })),
        item('zero', p({ max_tokens: 0 })),
        item('ok-2'),
        item('unknown', p({ frobnicate: 1 })),
        item('role', p({ messages: [{ role: 'bot', content: 'x' }] })),
        item('ok-3', p({ temperature: 0.5 })),
      ),
    });
    assert.equal(created.status, 200, created.text);
    const id = (created.json as { id: string }).id;
    const ended = await untilEnded(
      async () =>
        (await raw(server.url, 'GET', `${CREATE}/${id}`)).json as {
          processing_status: string;
          request_counts: unknown;
        },
    );
    assert.deepEqual(ended.request_counts, countsWith({ succeeded: 3, errored: 4 }));
    const byId = byCustomId(await rawResults(server.url, id));
    assert.equal(byId.size, 7);
    for (const ok of ['ok-1', 'ok-2', 'ok-3']) assert.equal(byId.get(ok)?.result.type, 'succeeded', ok);
    for (const [bad, field] of [
      ['stream', /stream/],
      ['zero', /max_tokens/],
      ['unknown', /frobnicate: Extra inputs are not permitted/],
      ['role', /messages\.0\.role/],
    ] as const) {
      const r = byId.get(bad)!.result;
      assert.equal(r.type, 'errored', bad);
      assert.equal(r.error?.type, 'error');
      assert.equal(r.error?.error.type, 'invalid_request_error', bad);
      assert.match(r.error?.error.message ?? '', field, bad);
    }
  });

  test('temperature is a params error under 2026-10-21 only', async (t) => {
    const server = await testServer(t);
    const reqs = [{ custom_id: 't', params: params('x', { temperature: 0.5 }) }];
    const b1 = await sdkClient(Anthropic, server.url).messages.batches.create({ requests: reqs });
    const b0 = await sdkClient(Anthropic0, server.url).messages.batches.create({ requests: reqs });
    for (const id of [b1.id, b0.id]) {
      await untilEnded(
        async () => (await raw(server.url, 'GET', `${CREATE}/${id}`)).json as { processing_status: string },
      );
    }
    const [l1] = await rawResults(server.url, b1.id);
    assert.equal(l1?.result.type, 'errored');
    assert.equal(l1?.result.error?.error.type, 'invalid_request_error');
    assert.match(l1?.result.error?.error.message ?? '', /temperature/);
    const [l0] = await rawResults(server.url, b0.id);
    assert.equal(l0?.result.type, 'succeeded');
  });

  test('--mock-error-rate 1: every request ends errored with api_error or overloaded_error', async (t) => {
    const server = await testServer(t, { mockErrorRate: 1 });
    const client = sdkClient(Anthropic, server.url);
    const batch = await client.messages.batches.create({ requests: requests(8) });
    const ended = await untilEnded(() => client.messages.batches.retrieve(batch.id));
    assert.deepEqual(ended.request_counts, countsWith({ errored: 8 }));
    const lines = await rawResults(server.url, batch.id);
    assert.equal(byCustomId(lines).size, 8);
    for (const l of lines) {
      assert.equal(l.result.type, 'errored');
      assert.ok(
        ['api_error', 'overloaded_error'].includes(l.result.error?.error.type ?? ''),
        JSON.stringify(l),
      );
      assert.ok((l.result.error?.error.message ?? '').length > 0);
    }
  });
});

/** Only the given batches exist. */
async function assertNothingStoredExcept(server: RunningServer, ids: string[]): Promise<void> {
  const list = await raw(server.url, 'GET', `${CREATE}?limit=1000`);
  assert.deepEqual(
    (list.json as { data: Array<{ id: string }> }).data.map((b) => b.id).sort(),
    [...ids].sort(),
  );
}
