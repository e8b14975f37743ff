import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import Anthropic0 from 'anthropic-sdk-0';
import { MockBackend } from '../../src/backends/mock/mock-backend.ts';
import type { BackendOutcome, BackendRequest, ModelBackend } from '../../src/backends/model-backend.ts';

/** Both official SDK lines, to run the same scenario through each. */
export const SDKS = [
  ['1.x', Anthropic],
  ['0.x', Anthropic0],
] as const;

export type SdkClass = typeof Anthropic | typeof Anthropic0;

/**
 * A client of either SDK line. Typed as the 1.x client: the calls the tests make have the same shape in both, and
 * error classes are always taken from the SDK class itself (`Sdk.NotFoundError`), never from this type.
 */
export function sdkClient(
  Sdk: SdkClass,
  baseURL: string,
  opts: {
    apiKey?: string;
    maxRetries?: number;
    fetch?: typeof fetch;
    defaultHeaders?: Record<string, string>;
  } = {},
): Anthropic {
  const Ctor = Sdk as unknown as new (o: Record<string, unknown>) => Anthropic;
  return new Ctor({ baseURL, apiKey: 'test-key', maxRetries: 0, ...opts });
}

/** Valid Messages params for the mock model. */
export function params(
  text: string,
  extra: Record<string, unknown> = {},
): Anthropic.MessageCreateParamsNonStreaming {
  return {
    model: 'claude-opus-5',
    max_tokens: 64,
    messages: [{ role: 'user', content: text }],
    ...extra,
  } as Anthropic.MessageCreateParamsNonStreaming;
}

/** `n` requests with custom_ids `${prefix}0..${prefix}n-1`. */
export function requests(
  n: number,
  prefix = 'r',
): Array<{ custom_id: string; params: ReturnType<typeof params> }> {
  return Array.from({ length: n }, (_, i) => ({
    custom_id: `${prefix}${i}`,
    params: params(`hello ${prefix}${i}`),
  }));
}

/** Polls `retrieve` (an event wait, bounded) until the batch has ended. */
export async function untilEnded<B extends { processing_status: string }>(
  retrieve: () => Promise<B>,
  opts: { maxPolls?: number; between?: () => Promise<unknown> } = {},
): Promise<B> {
  const max = opts.maxPolls ?? 2000;
  for (let i = 0; i < max; i++) {
    const b = await retrieve();
    if (b.processing_status === 'ended') return b;
    await (opts.between ? opts.between() : new Promise((r) => setTimeout(r, 5)));
  }
  throw new Error(`batch did not end after ${max} polls`);
}

/** Waits (bounded, on the event loop) until `cond` holds. */
export async function until(cond: () => boolean, what: string, maxTicks = 20_000): Promise<void> {
  for (let i = 0; i < maxTicks; i++) {
    if (cond()) return;
    await new Promise((r) => (i < 1000 ? setImmediate(r) : setTimeout(r, 1)));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

/** A raw HTTP request with the 0.x SDK's headers by default (override or remove with `undefined`). */
export async function raw(
  baseUrl: string,
  method: string,
  path: string,
  opts: { headers?: Record<string, string | undefined>; body?: string | Uint8Array } = {},
): Promise<RawResponse> {
  const headers: Record<string, string> = {};
  const merged: Record<string, string | undefined> = {
    'x-api-key': 'test-key',
    'anthropic-version': '2023-06-01',
    ...(opts.body !== undefined && { 'content-type': 'application/json' }),
    ...opts.headers,
  };
  for (const [k, v] of Object.entries(merged)) if (v !== undefined) headers[k] = v;
  const res = await fetch(baseUrl + path, {
    method,
    headers,
    ...(opts.body !== undefined && { body: opts.body }),
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Asserts the Anthropic error envelope: status, type, JSON content type, request id equal to the header. */
export function assertEnvelope(
  res: RawResponse,
  status: number,
  type: string,
  message?: RegExp,
  label = '',
): { type: 'error'; error: { type: string; message: string }; request_id: string } {
  const where = `${label} ${res.status} ${res.text.slice(0, 300)}`;
  assert.equal(res.status, status, where);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/, where);
  const body = res.json as { type: 'error'; error: { type: string; message: string }; request_id: string };
  assert.ok(body && typeof body === 'object', where);
  assert.deepEqual(Object.keys(body).sort(), ['error', 'request_id', 'type'], where);
  assert.equal(body.type, 'error', where);
  assert.equal(body.error.type, type, where);
  assert.equal(typeof body.error.message, 'string', where);
  assert.ok(body.error.message.length > 0, where);
  const rid = res.headers.get('request-id');
  assert.match(rid ?? '', /^req_/, where);
  assert.equal(body.request_id, rid, where);
  if (message) assert.match(body.error.message, message, where);
  return body;
}

/** One parsed results line. */
export interface ResultLine {
  custom_id: string;
  result: {
    type: 'succeeded' | 'errored' | 'canceled' | 'expired';
    message?: { usage: { service_tier?: string }; content: Array<{ type: string; text?: string }> } & Record<
      string,
      unknown
    >;
    error?: { type: string; error: { type: string; message: string }; request_id: string | null };
  };
}

/** GETs a batch's results raw and checks the JSONL framing; returns the parsed lines. */
export async function rawResults(
  baseUrl: string,
  id: string,
  headers: Record<string, string> = {},
): Promise<ResultLine[]> {
  const res = await raw(baseUrl, 'GET', `/v1/messages/batches/${id}/results`, { headers });
  assert.equal(res.status, 200, res.text.slice(0, 300));
  return parseJsonl(res.text, res.headers.get('content-type'));
}

/** Checks the JSONL framing rules (LF only, no blank lines, every line ends with LF) and parses it. */
export function parseJsonl(text: string, contentType: string | null): ResultLine[] {
  assert.match(contentType ?? '', /^application\/x-jsonl\b/);
  assert.ok(!text.includes('\r'), 'no CR in results');
  if (text === '') return [];
  assert.ok(text.endsWith('\n'), 'every line ends with LF');
  const lines = text.slice(0, -1).split('\n');
  for (const l of lines) assert.notEqual(l.trim(), '', 'no blank lines');
  return lines.map((l) => JSON.parse(l) as ResultLine);
}

/** Maps custom_id -> result type, asserting exactly one line per custom_id. */
export function byCustomId(lines: ResultLine[]): Map<string, ResultLine> {
  const m = new Map<string, ResultLine>();
  for (const l of lines) {
    assert.ok(!m.has(l.custom_id), `two result lines for ${l.custom_id}`);
    m.set(l.custom_id, l);
  }
  return m;
}

interface Gate {
  customId: string;
  open: () => void;
}

/**
 * A ModelBackend that holds every request until the test releases it (then answers as the mock model), so
 * requests stay in flight deterministically. Aborts (shutdown) reject at once.
 */
export class GatedBackend implements ModelBackend {
  readonly name = 'gated';
  /** Every call, in order (a re-claimed item appears again). */
  readonly calls: BackendRequest[] = [];
  /** Calls that have returned an outcome. */
  answered = 0;
  private readonly gates: Gate[] = [];
  private passThrough = false;
  private readonly mock = new MockBackend({ latency: { minMs: 0, maxMs: 0 }, errorRate: 0 });

  async send(req: BackendRequest): Promise<BackendOutcome> {
    this.calls.push(req);
    if (!this.passThrough) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(req.signal.reason ?? new Error('aborted'));
        if (req.signal.aborted) return onAbort();
        req.signal.addEventListener('abort', onAbort, { once: true });
        this.gates.push({
          customId: req.customId,
          open: () => {
            req.signal.removeEventListener('abort', onAbort);
            resolve();
          },
        });
      });
    }
    const out = await this.mock.send(req);
    this.answered++;
    return out;
  }

  /** custom_ids currently held. */
  get held(): string[] {
    return this.gates.map((g) => g.customId);
  }

  /** Waits until `n` calls have been made in total. */
  waitForCalls(n: number): Promise<void> {
    return until(() => this.calls.length >= n, `${n} backend calls (have ${this.calls.length})`);
  }

  /** Lets the held requests (all, or those with the given custom_ids) answer; returns how many. */
  release(customIds?: string[]): number {
    let n = 0;
    for (let i = this.gates.length - 1; i >= 0; i--) {
      const g = this.gates[i]!;
      if (customIds && !customIds.includes(g.customId)) continue;
      this.gates.splice(i, 1);
      g.open();
      n++;
    }
    return n;
  }

  /** Releases everything and lets future calls through at once (for teardown). */
  open(): void {
    this.passThrough = true;
    this.release();
  }
}
