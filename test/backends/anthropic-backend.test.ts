import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  AnthropicBackend,
  type AnthropicBackendOptions,
  messagesUrl,
  withStream,
} from '../../src/backends/anthropic/anthropic-backend.ts';
import type { BackendOutcome, BackendRequest } from '../../src/backends/model-backend.ts';
import { succeededLine } from '../../src/wire/result-line.ts';

type Obj = Record<string, unknown>;
type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

interface Received {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

const enc = new TextEncoder();

let server: Server;
let baseUrl: string;
let handler: Handler = (_req, res) => res.end();
let received: Received[] = [];
const backends: AnthropicBackend[] = [];

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      received.push({ method: req.method, url: req.url, headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await Promise.all(backends.map((b) => b.close()));
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function backend(over: Partial<AnthropicBackendOptions> = {}): AnthropicBackend {
  const b = new AnthropicBackend({
    name: 'upstream-test',
    baseUrl,
    maxConnections: 4,
    attemptTimeoutMs: 10_000,
    streamAboveMaxTokens: 21_333,
    ...over,
  });
  backends.push(b);
  return b;
}

/** A request whose raw bytes are exactly `raw` (odd spacing and all). */
function request(raw: string, over: Partial<BackendRequest> = {}): BackendRequest {
  return {
    customId: 'c1',
    params: JSON.parse(raw) as Obj,
    rawParams: enc.encode(raw),
    apiVersion: '2023-06-01',
    betas: [],
    attempt: 1,
    signal: new AbortController().signal,
    ...over,
  };
}

const SMALL = '{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}';

const MESSAGE = {
  id: 'msg_01XYZ',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5',
  content: [{ type: 'text', text: 'Hello!', citations: null }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 12, output_tokens: 3, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
};

function json(status: number, body: unknown, headers: Record<string, string> = {}): Handler {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
}

const envelope = (type: string, message: string): Obj => ({
  type: 'error',
  error: { type, message },
  request_id: 'req_011',
});

function errored(o: BackendOutcome): Extract<BackendOutcome, { type: 'errored' }> {
  assert.equal(o.type, 'errored', JSON.stringify(o));
  return o as Extract<BackendOutcome, { type: 'errored' }>;
}

function succeeded(o: BackendOutcome): Extract<BackendOutcome, { type: 'succeeded' }> {
  assert.equal(o.type, 'succeeded', JSON.stringify(o));
  return o as Extract<BackendOutcome, { type: 'succeeded' }>;
}

/** SSE frames of a streamed answer equal to MESSAGE. */
function sseFrames(): string {
  const events: Obj[] = [
    {
      type: 'message_start',
      message: { ...MESSAGE, content: [], stop_reason: null, usage: { ...MESSAGE.usage, output_tokens: 1 } },
    },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '', citations: null } },
    { type: 'ping' },
    { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hel' } },
    { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'lo!' } },
    { type: 'content_block_stop', index: 0 },
    {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: 3 },
    },
    { type: 'message_stop' },
  ];
  return events.map((e) => `event: ${e.type}\r\ndata: ${JSON.stringify(e)}\r\n\r\n`).join('');
}

/** Writes `text` in pieces cut at awkward places, as a proxy might. */
function writeInPieces(res: ServerResponse, text: string): void {
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += 37) res.write(bytes.subarray(i, i + 37));
}

function sse(text: string, status = 200): Handler {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'text/event-stream; charset=utf-8' });
    writeInPieces(res, text);
    res.end();
  };
}

describe('AnthropicBackend: what goes upstream', () => {
  it('forwards the raw params byte for byte with the protocol headers', async () => {
    received = [];
    handler = json(200, MESSAGE);
    const raw =
      '{ "model" : "claude-sonnet-4-5",\n\t"max_tokens":64 , "messages":[{"role":"user","content":"Grüße"}],' +
      '  "future_field": {"x": [1, 2.50, 1e3]} }  ';
    const b = backend({ apiKey: 'sk-ant-test', headers: { 'X-Gateway-Token': 'g1' } });
    const out = await b.send(request(raw, { betas: ['files-api-2025-04-14', 'context-1m-2025-08-07'] }));
    succeeded(out);
    const got = received[0];
    assert.ok(got);
    assert.equal(got.method, 'POST');
    assert.equal(got.url, '/v1/messages');
    assert.deepEqual(got.body, Buffer.from(raw));
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers['anthropic-version'], '2023-06-01');
    assert.equal(got.headers['anthropic-beta'], 'files-api-2025-04-14,context-1m-2025-08-07');
    assert.equal(got.headers['x-api-key'], 'sk-ant-test');
    assert.equal(got.headers['x-gateway-token'], 'g1');
    assert.equal(got.headers.authorization, undefined);
  });

  it('sends no beta header without betas and no x-api-key without a key', async () => {
    received = [];
    handler = json(200, MESSAGE);
    succeeded(await backend().send(request(SMALL, { apiVersion: '2026-10-21' })));
    const got = received[0];
    assert.equal(got?.headers['anthropic-version'], '2026-10-21');
    assert.equal(got?.headers['anthropic-beta'], undefined);
    assert.equal(got?.headers['x-api-key'], undefined);
  });

  it('honours a path prefix and a base URL that already ends in /v1', async () => {
    received = [];
    handler = json(200, MESSAGE);
    succeeded(await backend({ baseUrl: `${baseUrl}/gateway/anthropic/` }).send(request(SMALL)));
    succeeded(await backend({ baseUrl: `${baseUrl}/v1` }).send(request(SMALL)));
    assert.deepEqual(
      received.map((r) => r.url),
      ['/gateway/anthropic/v1/messages', '/v1/messages'],
    );
    assert.deepEqual(messagesUrl('https://api.anthropic.com'), {
      origin: 'https://api.anthropic.com',
      path: '/v1/messages',
    });
    assert.equal(messagesUrl('http://localhost:8000/v1/').path, '/v1/messages');
  });

  it('rejects bad options', () => {
    const ok = { name: 'x', baseUrl, maxConnections: 1, attemptTimeoutMs: 1000, streamAboveMaxTokens: 100 };
    assert.throws(() => new AnthropicBackend({ ...ok, baseUrl: 'not a url' }), RangeError);
    assert.throws(() => new AnthropicBackend({ ...ok, baseUrl: 'ftp://host' }), RangeError);
    assert.throws(() => new AnthropicBackend({ ...ok, baseUrl: 'http://u:p@host' }), RangeError);
    assert.throws(() => new AnthropicBackend({ ...ok, maxConnections: 0 }), RangeError);
    assert.throws(() => new AnthropicBackend({ ...ok, attemptTimeoutMs: 0 }), RangeError);
    assert.throws(() => new AnthropicBackend({ ...ok, attemptTimeoutMs: 2 ** 31 }), RangeError);
    assert.throws(() => new AnthropicBackend({ ...ok, headers: { 'Anthropic-Version': 'x' } }), RangeError);
    assert.throws(() => new AnthropicBackend({ ...ok, headers: { 'x-a': 'evil\r\nhost: y' } }), RangeError);
    assert.throws(() => new AnthropicBackend({ ...ok, headers: { 'bad name': 'v' } }), RangeError);
  });
});

describe('AnthropicBackend: answers', () => {
  it('returns the Message with the upstream status, headers and usage', async () => {
    handler = json(200, MESSAGE, {
      'request-id': 'req_0123',
      'anthropic-ratelimit-requests-remaining': '99',
    });
    const out = succeeded(await backend().send(request(SMALL)));
    assert.deepEqual(out.message, MESSAGE);
    assert.equal(out.upstream?.status, 200);
    assert.equal(out.upstream?.headers?.['request-id'], 'req_0123');
    assert.equal(out.upstream?.headers?.['anthropic-ratelimit-requests-remaining'], '99');
    assert.deepEqual(out.upstream?.usage, MESSAGE.usage);
    assert.ok((out.upstream?.latencyMs ?? -1) >= 0);
  });

  it('keeps a one-line answer as it came, for the result line; a multi-line one is serialised again', async () => {
    const text = ` ${JSON.stringify(MESSAGE).replace('"type":"message"', '"type" : "message"')} `;
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(text);
    };
    const out = succeeded(await backend().send(request(SMALL)));
    assert.equal(out.raw, text.trim(), 'the bytes as sent, spacing and all');
    const line = succeededLine('c1', out.message, out.raw);
    assert.deepEqual(JSON.parse(line), JSON.parse(succeededLine('c1', out.message)));
    assert.ok(line.includes('"type" : "message"'));

    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(MESSAGE, null, 2));
    };
    const pretty = succeeded(await backend().send(request(SMALL)));
    assert.equal(pretty.raw, undefined, 'a line break would split the JSONL record');
    assert.deepEqual(pretty.message, MESSAGE);
  });

  it('reuses keep-alive connections for sequential calls', async () => {
    handler = json(200, MESSAGE);
    let connections = 0;
    const onConnection = (): void => {
      connections++;
    };
    server.on('connection', onConnection);
    try {
      const b = backend();
      for (let i = 0; i < 10; i++) succeeded(await b.send(request(SMALL)));
    } finally {
      server.off('connection', onConnection);
    }
    // undici frees a socket just after the body ends, so a call made at once may open one more; never ten.
    assert.ok(connections >= 1 && connections <= 2, `${connections} connections`);
  });

  it('streams above streamAboveMaxTokens and accumulates the SSE answer', async () => {
    received = [];
    handler = sse(sseFrames());
    const raw =
      '{"model":"claude-sonnet-4-5", "max_tokens": 50000,\n"messages":[{"role":"user","content":"hi"}] }\n';
    const out = succeeded(await backend().send(request(raw)));
    assert.deepEqual(out.message, MESSAGE);
    assert.equal(out.upstream?.status, 200);
    assert.deepEqual(out.upstream?.usage, MESSAGE.usage);
    // Only `,"stream":true` was added, right before the final brace.
    assert.equal(
      received[0]?.body.toString(),
      '{"model":"claude-sonnet-4-5", "max_tokens": 50000,\n"messages":[{"role":"user","content":"hi"}] ,"stream":true}\n',
    );
  });

  it('does not stream at the threshold itself', async () => {
    received = [];
    handler = json(200, MESSAGE);
    const raw = '{"model":"m","max_tokens":100,"messages":[]}';
    succeeded(await backend({ streamAboveMaxTokens: 100 }).send(request(raw)));
    assert.equal(received[0]?.body.toString(), raw);
  });

  it('re-serialises only when params already carry stream: false', () => {
    const raw = '{"model":"m", "max_tokens":9, "stream":false, "x_unknown":1}';
    const body = JSON.parse(Buffer.from(withStream(enc.encode(raw), JSON.parse(raw))).toString());
    assert.deepEqual(body, { model: 'm', max_tokens: 9, stream: true, x_unknown: 1 });
    assert.equal(Buffer.from(withStream(enc.encode('{ }'), {})).toString(), '{ "stream":true}');
  });

  it('turns an error event inside a 200 stream into a retryable error of its type', async () => {
    const first = sseFrames().split('\r\n\r\n').slice(0, 3).join('\r\n\r\n');
    handler = sse(
      `${first}\r\n\r\nevent: error\r\ndata: ${JSON.stringify(envelope('overloaded_error', 'Overloaded'))}\r\n\r\n`,
    );
    const out = errored(await backend({ streamAboveMaxTokens: 10 }).send(request(SMALL)));
    assert.deepEqual(out.error, { type: 'overloaded_error', message: 'Overloaded' });
    assert.equal(out.retryable, true);
    assert.equal(out.upstream?.status, 200);

    handler = sse(
      `event: error\ndata: ${JSON.stringify(envelope('invalid_request_error', 'prompt too long'))}\n\n`,
    );
    const final = errored(await backend({ streamAboveMaxTokens: 10 }).send(request(SMALL)));
    assert.equal(final.error.type, 'invalid_request_error');
    assert.equal(final.retryable, false);
  });

  it('treats a stream that ends before message_stop as a network failure', async () => {
    const frames = sseFrames().split('\r\n\r\n');
    handler = sse(`${frames.slice(0, 5).join('\r\n\r\n')}\r\n\r\n`);
    const out = errored(await backend({ streamAboveMaxTokens: 10 }).send(request(SMALL)));
    assert.equal(out.error.type, 'api_error');
    assert.equal(out.retryable, true);
    assert.equal(out.upstream?.status, 'network');
  });

  it('treats a malformed stream or a 200 without a Message as a retryable api_error', async () => {
    handler = sse('event: message_start\ndata: {oops\n\n');
    const bad = errored(await backend({ streamAboveMaxTokens: 10 }).send(request(SMALL)));
    assert.equal(bad.error.type, 'api_error');
    assert.equal(bad.retryable, true);

    for (const body of [{ type: 'completion', text: 'x' }, [1, 2], 'plain']) {
      handler = json(200, body);
      const out = errored(await backend().send(request(SMALL)));
      assert.equal(out.error.type, 'api_error');
      assert.equal(out.retryable, true);
      assert.equal(out.upstream?.status, 200);
    }
    handler = (_req, res) => res.end('<html>not json</html>');
    assert.equal(errored(await backend().send(request(SMALL))).retryable, true);
  });
});

describe('AnthropicBackend: HTTP errors', () => {
  it('400 with an envelope: its type and message, not retryable', async () => {
    handler = json(400, envelope('invalid_request_error', 'messages: at least one message is required'));
    const out = errored(await backend().send(request(SMALL)));
    assert.deepEqual(out.error, {
      type: 'invalid_request_error',
      message: 'messages: at least one message is required',
    });
    assert.equal(out.retryable, false);
    assert.equal(out.retryAfterMs, undefined);
    assert.equal(out.upstream?.status, 400);
  });

  it('429 with retry-after: retryable with the wait and the rate-limit headers', async () => {
    handler = json(429, envelope('rate_limit_error', 'Number of request tokens has exceeded your limit'), {
      'retry-after': '7',
      'anthropic-ratelimit-tokens-remaining': '0',
    });
    const out = errored(await backend().send(request(SMALL)));
    assert.equal(out.error.type, 'rate_limit_error');
    assert.equal(out.retryable, true);
    assert.equal(out.retryAfterMs, 7000);
    assert.equal(out.upstream?.status, 429);
    assert.equal(out.upstream?.headers?.['anthropic-ratelimit-tokens-remaining'], '0');
  });

  it('529: overloaded_error, retryable, with or without an envelope', async () => {
    handler = json(529, envelope('overloaded_error', 'Overloaded'));
    const withBody = errored(await backend().send(request(SMALL)));
    assert.deepEqual(withBody.error, { type: 'overloaded_error', message: 'Overloaded' });
    assert.equal(withBody.retryable, true);
    handler = (_req, res) => {
      res.writeHead(529);
      res.end();
    };
    const bare = errored(await backend().send(request(SMALL)));
    assert.equal(bare.error.type, 'overloaded_error');
    assert.equal(bare.error.message, 'Upstream upstream-test returned HTTP 529');
    assert.equal(bare.retryable, true);
  });

  it('500 is retryable unless x-should-retry: false; x-should-retry: true makes a 400 retryable', async () => {
    handler = json(500, envelope('api_error', 'Internal server error'));
    const plain = errored(await backend().send(request(SMALL)));
    assert.equal(plain.error.type, 'api_error');
    assert.equal(plain.retryable, true);
    handler = json(500, envelope('api_error', 'Internal server error'), { 'x-should-retry': 'false' });
    assert.equal(errored(await backend().send(request(SMALL))).retryable, false);
    handler = json(400, envelope('invalid_request_error', 'flaky'), { 'x-should-retry': 'true' });
    assert.equal(errored(await backend().send(request(SMALL))).retryable, true);
  });

  it('maps unknown envelope types by status and reads other servers’ error bodies, bounded', async () => {
    handler = json(409, envelope('conflict_error', 'busy'));
    const conflict = errored(await backend().send(request(SMALL)));
    assert.deepEqual(conflict.error, { type: 'invalid_request_error', message: 'busy' });
    assert.equal(conflict.retryable, true);
    handler = json(404, { detail: 'model "x" not found' });
    assert.deepEqual(errored(await backend().send(request(SMALL))).error, {
      type: 'not_found_error',
      message: 'model "x" not found',
    });
    handler = json(400, envelope('invalid_request_error', 'z'.repeat(10_000)));
    assert.ok(errored(await backend().send(request(SMALL))).error.message.length <= 1001);
  });
});

describe('AnthropicBackend: failures without an answer', () => {
  it('times out a hung upstream with a retryable timeout_error', async () => {
    handler = () => {}; // never answers
    const out = errored(await backend({ attemptTimeoutMs: 150 }).send(request(SMALL)));
    assert.equal(out.error.type, 'timeout_error');
    assert.equal(out.retryable, true);
    assert.equal(out.upstream?.status, 'timeout');
  });

  it('times out an upstream that stalls mid-body', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"id":"msg_1","type":"mess');
    };
    const out = errored(await backend({ attemptTimeoutMs: 150 }).send(request(SMALL)));
    assert.equal(out.error.type, 'timeout_error');
    assert.equal(out.upstream?.status, 'timeout');
  });

  it('reports a reset connection as a retryable network error', async () => {
    handler = (req) => req.socket.destroy();
    const out = errored(await backend().send(request(SMALL)));
    assert.equal(out.error.type, 'api_error');
    assert.equal(out.retryable, true);
    assert.equal(out.upstream?.status, 'network');
    assert.doesNotMatch(out.error.message, /127\.0\.0\.1/);
  });

  it('reports a socket closed mid-body or mid-stream as a network error', async () => {
    handler = (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
      res.write('{"id":"msg_1",', () => req.socket.destroy());
    };
    assert.equal(errored(await backend().send(request(SMALL))).upstream?.status, 'network');
    handler = (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sseFrames().slice(0, 400), () => req.socket.destroy());
    };
    const stream = errored(await backend({ streamAboveMaxTokens: 10 }).send(request(SMALL)));
    assert.equal(stream.upstream?.status, 'network');
    assert.equal(stream.retryable, true);
  });

  it('reports a refused connection as a network error', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const out = errored(await backend({ baseUrl: `http://127.0.0.1:${port}` }).send(request(SMALL)));
    assert.equal(out.upstream?.status, 'network');
    assert.match(out.error.message, /ECONNREFUSED/);
  });

  it('rejects with the reason when the caller aborts, before or during the call', async () => {
    const ac = new AbortController();
    const reason = new Error('shutting down');
    handler = () => ac.abort(reason); // abort once the upstream has the request, and never answer
    await assert.rejects(backend().send(request(SMALL, { signal: ac.signal })), (err) => err === reason);
    await assert.rejects(
      backend().send(request(SMALL, { signal: AbortSignal.abort(reason) })),
      (err) => err === reason,
    );
  });
});
