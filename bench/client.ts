// The bench's HTTP client side: create (streamed from disk), retrieve, download. undici `request`, keep-alive.

import { createReadStream, statSync } from 'node:fs';
import { request } from 'undici';
import type { MessageBatch } from '../src/wire/message-batch.ts';

export type { MessageBatch };

export const API_HEADERS = { 'anthropic-version': '2023-06-01', 'x-api-key': 'bench' } as const;

async function json<T>(
  res: { statusCode: number; body: { text(): Promise<string> } },
  what: string,
): Promise<T> {
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${what}: HTTP ${res.statusCode}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

/** POSTs the body file as a stream with Content-Length; resolves with the batch and the time to the response. */
export async function createBatch(url: string, file: string): Promise<{ batch: MessageBatch; ms: number }> {
  const size = statSync(file).size;
  const t0 = performance.now();
  const res = await request(`${url}/v1/messages/batches`, {
    method: 'POST',
    headers: { ...API_HEADERS, 'content-type': 'application/json', 'content-length': String(size) },
    body: createReadStream(file, { highWaterMark: 1024 * 1024 }),
    headersTimeout: 300_000,
    bodyTimeout: 300_000,
  });
  const batch = await json<MessageBatch>(res, 'create batch');
  return { batch, ms: performance.now() - t0 };
}

export async function retrieveBatch(url: string, id: string): Promise<MessageBatch> {
  const res = await request(`${url}/v1/messages/batches/${id}`, { headers: API_HEADERS });
  return json<MessageBatch>(res, 'retrieve batch');
}

export interface Download {
  bytes: number;
  lines: number;
  ms: number;
  /** Time to the response headers, and to the first body byte. */
  headersMs: number;
  firstByteMs: number;
  /** The first line, for a sanity check. */
  firstLine: string;
}

/** GETs a JSONL stream, counting bytes and `\n`-terminated lines as they arrive. */
export async function download(url: string, headers: Record<string, string> = {}): Promise<Download> {
  const t0 = performance.now();
  const res = await request(url, { headers, bodyTimeout: 300_000 });
  const headersMs = performance.now() - t0;
  if (res.statusCode !== 200) {
    throw new Error(`download ${url}: HTTP ${res.statusCode}: ${(await res.body.text()).slice(0, 500)}`);
  }
  let bytes = 0;
  let lines = 0;
  let firstByteMs = Number.NaN;
  let head: Buffer | null = null;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    if (bytes === 0) firstByteMs = performance.now() - t0;
    if (head === null || head.indexOf(10) < 0) head = head ? Buffer.concat([head, chunk]) : chunk;
    bytes += chunk.length;
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
  }
  const ms = performance.now() - t0;
  const nl = head?.indexOf(10) ?? -1;
  return {
    bytes,
    lines,
    ms,
    headersMs,
    firstByteMs,
    firstLine: head && nl >= 0 ? head.subarray(0, nl).toString() : '',
  };
}
