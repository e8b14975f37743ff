import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { attemptSignal } from '../attempt-signal.ts';
import { undiciSignal } from '../call-signal.ts';
import type {
  BackendOutcome,
  BackendRequest,
  HeaderBag,
  ModelBackend,
  UpstreamReport,
} from '../model-backend.ts';
import { isRetryableStatus, retryAfterMs } from '../upstream-errors.ts';
import type { UpstreamOptions } from '../upstream-options.ts';
import { toAnthropicErrorFromText } from './translate-error.ts';
import { toChatCompletionRequest } from './translate-request.ts';
import { toAnthropicMessage } from './translate-response.ts';

// baseUrl: e.g. `http://127.0.0.1:8000/v1`; requests go to `${baseUrl}/chat/completions` (a query string is kept).
// apiKey is sent as `Authorization: Bearer …`.
export type OpenAiBackendOptions = UpstreamOptions;

/** A completion is bounded by `max_tokens`; anything near this is a broken upstream, not an answer. */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
/** Error bodies are only read for their message. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

type Errored = Extract<BackendOutcome, { type: 'errored' }>;

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A short description of a transport failure: the code and message, never a stack. */
function describe(err: unknown): string {
  const code = errorCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  return code && !msg.includes(code) ? `${code}: ${msg}` : msg;
}

/** Reads at most `limit` bytes of an error body as text; the rest is discarded with the connection. */
async function readBounded(body: AsyncIterable<Buffer> & { destroy(): unknown }, limit: number) {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= limit) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

/**
 * A backend for any OpenAI-compatible `/v1/chat/completions` server (vLLM, llama.cpp, Ollama, SGLang, TGI,
 * LM Studio, OpenAI): each Messages request is translated to a chat completion and the answer back to a Message.
 */
export class OpenAiBackend implements ModelBackend {
  readonly name: string;
  private readonly pool: Pool;
  private readonly path: string;
  private readonly headers: Record<string, string>;
  private readonly attemptTimeoutMs: number;

  constructor(opts: OpenAiBackendOptions) {
    let url: URL;
    try {
      url = new URL(opts.baseUrl);
    } catch {
      throw new RangeError(`openai backend '${opts.name}': baseUrl is not a valid URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new RangeError(`openai backend '${opts.name}': baseUrl must be http or https`);
    }
    // Never echo the URL here: it would carry the credentials.
    if (url.username || url.password) {
      throw new RangeError(
        `openai backend '${opts.name}': put credentials in apiKey or headers, not in baseUrl`,
      );
    }
    if (!(Number.isInteger(opts.maxConnections) && opts.maxConnections >= 1)) {
      throw new RangeError(`openai backend '${opts.name}': maxConnections must be a positive integer`);
    }
    if (!(Number.isFinite(opts.attemptTimeoutMs) && opts.attemptTimeoutMs > 0)) {
      throw new RangeError(`openai backend '${opts.name}': attemptTimeoutMs must be positive`);
    }
    this.name = opts.name;
    this.attemptTimeoutMs = opts.attemptTimeoutMs;
    this.path = `${url.pathname.replace(/\/+$/, '')}/chat/completions${url.search}`;
    // Lower-cased so a configured `Content-Type` or `Authorization` replaces ours instead of doubling it.
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) headers[k.toLowerCase()] = v;
    headers['content-type'] = 'application/json';
    if (opts.apiKey) headers.authorization = `Bearer ${opts.apiKey}`;
    this.headers = headers;
    this.pool = new Pool(url.origin, {
      connections: opts.maxConnections,
      // The attempt deadline below covers headers and body; undici's own 300 s timers would cut long local
      // generations short.
      headersTimeout: 0,
      bodyTimeout: 0,
      maxResponseSize: MAX_RESPONSE_BYTES,
    });
  }

  async send(req: BackendRequest): Promise<BackendOutcome> {
    req.signal.throwIfAborted();
    const translated = toChatCompletionRequest(req.params);
    if (!translated.ok) {
      return {
        type: 'errored',
        error: { type: 'invalid_request_error', message: translated.message },
        retryable: false,
      };
    }
    const model = typeof req.params.model === 'string' ? req.params.model : '';
    const payload = JSON.stringify(translated.body);

    const attempt = attemptSignal(req, this.attemptTimeoutMs);
    const started = performance.now();
    let status: number | undefined;
    let headers: HeaderBag | undefined;
    try {
      const res = await this.pool.request({
        method: 'POST',
        path: this.path,
        headers: this.headers,
        body: payload,
        signal: undiciSignal(attempt.signal),
      });
      status = res.statusCode;
      headers = res.headers;
      if (status < 200 || status >= 300) {
        const text = await readBounded(res.body, MAX_ERROR_BODY_BYTES);
        const upstream = { status, headers, latencyMs: performance.now() - started };
        const outcome: Errored = {
          type: 'errored',
          error: toAnthropicErrorFromText(status, text),
          retryable: isRetryableStatus(status),
          upstream,
        };
        const wait = retryAfterMs(headers, Date.now());
        if (wait !== undefined) outcome.retryAfterMs = wait;
        return outcome;
      }
      const text = await res.body.text();
      const latencyMs = performance.now() - started;
      let completion: unknown;
      try {
        completion = JSON.parse(text);
      } catch {
        return unusable('the body is not JSON', { status, headers, latencyMs });
      }
      const m = toAnthropicMessage(completion, model);
      if (!m.ok) return unusable(m.message, { status, headers, latencyMs });
      return {
        type: 'succeeded',
        message: m.message,
        upstream: { status, headers, latencyMs, usage: m.usage },
      };
    } catch (err) {
      const timedOut = attempt.timedOut();
      // Shutdown or expiry: the attempt is abandoned, not failed; the caller decides what happens to it.
      if (req.signal.aborted && !timedOut) throw req.signal.reason;
      const latencyMs = performance.now() - started;
      const code = errorCode(err);
      if (timedOut || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
        return {
          type: 'errored',
          error: {
            type: 'timeout_error',
            message: `Upstream did not answer within ${this.attemptTimeoutMs} ms`,
          },
          retryable: true,
          upstream: { status: 'timeout', latencyMs },
        };
      }
      if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') {
        return {
          type: 'errored',
          error: { type: 'api_error', message: `Upstream response exceeded ${MAX_RESPONSE_BYTES} bytes` },
          retryable: false,
          upstream: { status: status ?? 'network', latencyMs },
        };
      }
      const upstream: UpstreamReport = { status: 'network', latencyMs };
      if (headers !== undefined) upstream.headers = headers;
      return {
        type: 'errored',
        error: { type: 'api_error', message: `Upstream connection failed: ${describe(err)}` },
        retryable: true,
        upstream,
      };
    } finally {
      attempt.done();
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/** A 2xx whose body is no usable completion: likely a transient upstream fault, so worth another attempt. */
function unusable(reason: string, upstream: UpstreamReport): Errored {
  return {
    type: 'errored',
    error: { type: 'api_error', message: `Upstream returned an unusable chat completion: ${reason}` },
    retryable: true,
    upstream,
  };
}
