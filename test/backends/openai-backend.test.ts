import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { BackendOutcome, BackendRequest } from '../../src/backends/model-backend.ts';
import { OpenAiBackend, type OpenAiBackendOptions } from '../../src/backends/openai/openai-backend.ts';

type Obj = Record<string, unknown>;
type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface Received {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingHttpHeaders;
  body: Obj;
  /** The client's port: one per connection. */
  port: number | undefined;
}

const params: Obj = {
  model: 'qwen3-8b',
  max_tokens: 64,
  system: 'Be brief.',
  messages: [{ role: 'user', content: 'Hello' }],
};

const completion = {
  id: 'chatcmpl-0123456789abcdef0123456789abcdef',
  object: 'chat.completion',
  model: 'Qwen/Qwen3-8B',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hi!' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 12, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 4 } },
};

function request(over: Partial<BackendRequest> = {}): BackendRequest {
  return {
    customId: 'req-1',
    params,
    rawParams: new TextEncoder().encode(JSON.stringify(params)),
    apiVersion: '2023-06-01',
    betas: [],
    attempt: 1,
    signal: new AbortController().signal,
    ...over,
  };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Obj = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function errored(o: BackendOutcome): Extract<BackendOutcome, { type: 'errored' }> {
  if (o.type !== 'errored') assert.fail(`expected errored, got ${JSON.stringify(o)}`);
  return o;
}

describe('OpenAiBackend', () => {
  let handler: Handler = (_req, res) => json(res, 200, completion);
  let received: Received[] = [];
  let arrived: (() => void) | undefined;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      received.push({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: text ? (JSON.parse(text) as Obj) : {},
        port: req.socket.remotePort,
      });
      arrived?.();
      handler(req, res);
    });
  });
  let baseUrl = '';
  const backends: OpenAiBackend[] = [];

  function backend(over: Partial<OpenAiBackendOptions> = {}): OpenAiBackend {
    const b = new OpenAiBackend({
      name: 'local-vllm',
      baseUrl,
      apiKey: 'sk-test-123',
      maxConnections: 4,
      attemptTimeoutMs: 10_000,
      ...over,
    });
    backends.push(b);
    return b;
  }

  before(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  after(async () => {
    await Promise.all(backends.map((b) => b.close()));
    server.closeAllConnections();
    server.close();
  });
  beforeEach(() => {
    handler = (_req, res) => json(res, 200, completion);
    received = [];
    arrived = undefined;
  });

  it('posts the translated body with auth and headers, and returns the Message with upstream facts', async () => {
    handler = (_req, res) => json(res, 200, completion, { 'x-ratelimit-remaining-requests': '99' });
    const b = backend({ baseUrl: `${baseUrl}/?api-version=2024-10-21`, headers: { 'X-Extra': 'yes' } });
    assert.equal(b.name, 'local-vllm');
    const o = await b.send(request());

    assert.equal(received.length, 1);
    const r = received[0]!;
    assert.equal(r.method, 'POST');
    assert.equal(r.url, '/v1/chat/completions?api-version=2024-10-21');
    assert.equal(r.headers.authorization, 'Bearer sk-test-123');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['x-extra'], 'yes');
    assert.deepEqual(r.body, {
      model: 'qwen3-8b',
      max_tokens: 64,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello' },
      ],
    });
    assert.equal('stream' in r.body, false);

    if (o.type !== 'succeeded') assert.fail(JSON.stringify(o));
    assert.equal(o.message.id, 'msg_0123456789abcdef0123456789abcdef');
    assert.equal(o.message.model, 'qwen3-8b');
    assert.deepEqual(o.message.content, [{ type: 'text', text: 'Hi!', citations: null }]);
    assert.equal(o.message.stop_reason, 'end_turn');
    const up = o.upstream!;
    assert.equal(up.status, 200);
    assert.equal(up.headers?.['x-ratelimit-remaining-requests'], '99');
    assert.ok(typeof up.latencyMs === 'number' && up.latencyMs >= 0);
    assert.deepEqual(up.usage, {
      input_tokens: 8,
      output_tokens: 3,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 4,
    });
  });

  it('sends no Authorization without an apiKey', async () => {
    const b = new OpenAiBackend({ name: 'n', baseUrl, maxConnections: 1, attemptTimeoutMs: 10_000 });
    backends.push(b);
    await b.send(request());
    assert.equal(received[0]!.headers.authorization, undefined);
  });

  it('makes no call for an untranslatable request', async () => {
    const o = errored(
      await backend().send(
        request({ params: { ...params, thinking: { type: 'enabled', budget_tokens: 2048 } } }),
      ),
    );
    assert.equal(received.length, 0);
    assert.equal(o.error.type, 'invalid_request_error');
    assert.match(o.error.message, /^thinking: extended thinking/);
    assert.equal(o.retryable, false);
    assert.equal(o.upstream, undefined);
  });

  it('turns a 400 with an OpenAI error body into a final invalid_request_error', async () => {
    handler = (_req, res) =>
      json(res, 400, {
        error: {
          message: 'max_tokens is too large: 64',
          type: 'invalid_request_error',
          param: 'max_tokens',
          code: null,
        },
      });
    const o = errored(await backend().send(request()));
    assert.deepEqual(o.error, { type: 'invalid_request_error', message: 'max_tokens is too large: 64' });
    assert.equal(o.retryable, false);
    assert.equal(o.retryAfterMs, undefined);
    assert.equal(o.upstream?.status, 400);
  });

  it('makes a 429 retryable with the retry-after hint', async () => {
    handler = (_req, res) =>
      json(res, 429, { error: { message: 'Rate limit reached' } }, { 'retry-after': '7' });
    const o = errored(await backend().send(request()));
    assert.deepEqual(o.error, { type: 'rate_limit_error', message: 'Rate limit reached' });
    assert.equal(o.retryable, true);
    assert.equal(o.retryAfterMs, 7000);
    assert.equal(o.upstream?.status, 429);
    assert.equal(o.upstream?.headers?.['retry-after'], '7');
  });

  it('makes a 500 a retryable api_error, message from a plain-text body', async () => {
    handler = (_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('Internal Server Error');
    };
    const o = errored(await backend().send(request()));
    assert.deepEqual(o.error, { type: 'api_error', message: 'Internal Server Error' });
    assert.equal(o.retryable, true);
    assert.equal(o.upstream?.status, 500);
  });

  it('reads only the head of a huge error body', async () => {
    handler = (_req, res) => {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('e'.repeat(1024 * 1024));
    };
    const o = errored(await backend().send(request()));
    assert.equal(o.error.type, 'overloaded_error');
    assert.equal(o.error.message.length, 1000);
    assert.equal(o.retryable, true);
  });

  it('makes a 200 that is not a completion a retryable api_error', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"choices": [');
    };
    const notJson = errored(await backend().send(request()));
    assert.deepEqual(notJson.error, {
      type: 'api_error',
      message: 'Upstream returned an unusable chat completion: the body is not JSON',
    });
    assert.equal(notJson.retryable, true);
    assert.equal(notJson.upstream?.status, 200);

    handler = (_req, res) =>
      json(res, 200, {
        choices: [
          {
            message: {
              content: null,
              tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{' } }],
            },
            finish_reason: 'tool_calls',
          },
        ],
      });
    const badArgs = errored(await backend().send(request()));
    assert.equal(
      badArgs.error.message,
      'Upstream returned an unusable chat completion: choices.0.message.tool_calls.0.function.arguments: not valid JSON',
    );
    assert.equal(badArgs.retryable, true);
  });

  it('gives a retryable timeout_error when the upstream hangs past the attempt deadline', async () => {
    handler = () => {}; // never answers
    const o = errored(await backend({ attemptTimeoutMs: 50 }).send(request()));
    assert.deepEqual(o.error, { type: 'timeout_error', message: 'Upstream did not answer within 50 ms' });
    assert.equal(o.retryable, true);
    assert.equal(o.upstream?.status, 'timeout');
  });

  it('gives a retryable network api_error when the connection is reset', async () => {
    handler = (req) => req.socket.destroy();
    const o = errored(await backend().send(request()));
    assert.equal(o.error.type, 'api_error');
    assert.match(o.error.message, /^Upstream connection failed: /);
    assert.equal(o.retryable, true);
    assert.equal(o.upstream?.status, 'network');
  });

  it('gives a network error when the socket closes mid-body', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '5000' });
      res.write('{"id":"chatcmpl-1","choices":[');
      setImmediate(() => res.socket?.destroy());
    };
    const o = errored(await backend().send(request()));
    assert.equal(o.error.type, 'api_error');
    assert.equal(o.retryable, true);
    assert.equal(o.upstream?.status, 'network');
  });

  it('gives a network error when nothing listens', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    await once(closed, 'close');
    const o = errored(await backend({ baseUrl: `http://127.0.0.1:${port}/v1` }).send(request()));
    assert.match(o.error.message, /ECONNREFUSED/);
    assert.equal(o.retryable, true);
    assert.equal(o.upstream?.status, 'network');
  });

  it('rejects with the reason when the caller aborts mid-call', async () => {
    handler = () => {}; // never answers; the caller gives up
    const ac = new AbortController();
    const reason = new Error('shutting down');
    arrived = () => ac.abort(reason);
    await assert.rejects(backend().send(request({ signal: ac.signal })), (err) => err === reason);
    assert.equal(received.length, 1);
  });

  it('rejects at once, without a call, when the caller already aborted', async () => {
    const ac = new AbortController();
    const reason = new Error('expired');
    ac.abort(reason);
    await assert.rejects(backend().send(request({ signal: ac.signal })), (err) => err === reason);
    assert.equal(received.length, 0);
  });

  it('keeps connections alive and within maxConnections', async () => {
    const b = backend({ maxConnections: 2 });
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => b.send(request())));
    assert.ok(outcomes.every((o) => o.type === 'succeeded'));
    assert.equal(received.length, 8);
    const ports = new Set(received.map((r) => r.port));
    assert.ok(ports.size >= 1 && ports.size <= 2, `connections: ${ports.size}`);
  });

  it('refuses bad options without echoing credentials', () => {
    const opts = { name: 'x', maxConnections: 1, attemptTimeoutMs: 1000 };
    assert.throws(() => new OpenAiBackend({ ...opts, baseUrl: 'not a url' }), /baseUrl is not a valid URL/);
    assert.throws(() => new OpenAiBackend({ ...opts, baseUrl: 'ftp://host/v1' }), /http or https/);
    assert.throws(
      () => new OpenAiBackend({ ...opts, baseUrl: 'http://user:s3cret@host/v1' }),
      (err: Error) => /credentials/.test(err.message) && !err.message.includes('s3cret'),
    );
    assert.throws(() => new OpenAiBackend({ ...opts, baseUrl, maxConnections: 0 }), /maxConnections/);
    assert.throws(() => new OpenAiBackend({ ...opts, baseUrl, attemptTimeoutMs: 0 }), /attemptTimeoutMs/);
  });
});
