// Baselines measured in the bench process on the same machine in the same run, so each server figure has a
// "what the runtime itself does with no server around it" number next to it.

import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { mockMessage } from '../src/backends/mock/mock-message.ts';
import { seedFromBytes } from '../src/backends/mock/seed.ts';
import { openDatabase } from '../src/store/sqlite/open-database.ts';
import { validateMessageParams } from '../src/wire/validate-message-params.ts';
import type { BodyShape } from './body.ts';
import { download } from './client.ts';
import { percentile } from './stats.ts';

export interface JsonParseBaseline {
  readMs: number;
  decodeMs: number;
  parseMs: number;
  totalMs: number;
  /** Peak RSS of the bench process during the parse minus its RSS before, in bytes. */
  rssGrowth: number;
  requests: number;
}

/** Read the body file, `toString()` it, `JSON.parse` it: the naive whole-body path. */
export function jsonParseBaseline(file: string): JsonParseBaseline {
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const buf = readFileSync(file);
  const t1 = performance.now();
  const text = buf.toString('utf8');
  const t2 = performance.now();
  const parsed = JSON.parse(text) as { requests: unknown[] };
  const t3 = performance.now();
  // maxRSS is the process's lifetime peak (KiB); the bench has used far less than this before, so it is the
  // peak of this parse.
  const peak = Math.max(process.resourceUsage().maxRSS * 1024, process.memoryUsage().rss);
  return {
    readMs: t1 - t0,
    decodeMs: t2 - t1,
    parseMs: t3 - t2,
    totalMs: t3 - t0,
    rssGrowth: peak - rss0,
    requests: parsed.requests.length,
  };
}

export interface MockLoopBaseline {
  requests: number;
  totalMs: number;
  /** Time in each step of the worker's per-request work, summed over all requests. */
  parseMs: number;
  validateMs: number;
  mockMs: number;
  stringifyMs: number;
  /** The first 1,000 result lines (input for the SQLite and loopback baselines). */
  sampleLines: string[];
  lineBytes: number;
}

/**
 * The worker's per-request CPU work with no server, queue or storage: decode + JSON.parse the params bytes,
 * validate them, run the mock model (`mockMessage`, seeded from the bytes as MockBackend does) and serialise the
 * result line with JSON.stringify. requests / totalMs is the single-core ceiling of the mock dispatch path.
 */
export function mockLoopBaseline(shape: BodyShape): MockLoopBaseline {
  const decoder = new TextDecoder();
  const sampleLines: string[] = [];
  let parseMs = 0;
  let validateMs = 0;
  let mockMs = 0;
  let stringifyMs = 0;
  let lineBytes = 0;
  for (let i = 0; i < shape.count; i++) {
    const bytes = Buffer.from(shape.params(i));
    const t0 = performance.now();
    const params = JSON.parse(decoder.decode(bytes)) as Record<string, unknown>;
    const t1 = performance.now();
    const invalid = validateMessageParams(params, '2023-06-01');
    if (invalid !== null) throw new Error(`bench params are invalid: ${invalid}`);
    const t2 = performance.now();
    const message = mockMessage(params, seedFromBytes(bytes));
    const t3 = performance.now();
    const line = JSON.stringify({ custom_id: shape.customId(i), result: { type: 'succeeded', message } });
    const t4 = performance.now();
    parseMs += t1 - t0;
    validateMs += t2 - t1;
    mockMs += t3 - t2;
    stringifyMs += t4 - t3;
    if (sampleLines.length < 1000) sampleLines.push(line);
    lineBytes += Buffer.byteLength(line) + 1;
  }
  return {
    requests: shape.count,
    totalMs: parseMs + validateMs + mockMs + stringifyMs,
    parseMs,
    validateMs,
    mockMs,
    stringifyMs,
    sampleLines,
    lineBytes,
  };
}

export interface SqliteBaseline {
  rows: number;
  ms: number;
  bytes: number;
  /** Per-transaction time: how long one transaction would hold a single-threaded server's event loop. */
  txP50Ms: number;
  txMaxMs: number;
}

/**
 * Raw better-sqlite3 rates with Barge's schema in a fresh WAL file, on this thread, checkpoints excluded:
 * - ingest shape: items + payloads rows, 2,000 per transaction, synchronous=NORMAL (no fsync per commit);
 * - result shape: `count` results rows (the sample lines), 500 per transaction, synchronous=FULL (fsync per commit);
 * - one small commit (a one-row UPDATE, synchronous=FULL), which every claim and flush pays at least once;
 * - reading the result rows back in 1,000-row pages by item id, as bytes (the storage side of the download).
 */
export function sqliteBaselines(
  dir: string,
  shape: BodyShape,
  sampleLines: string[],
): { ingest: SqliteBaseline; results: SqliteBaseline; commit: SqliteBaseline; read: SqliteBaseline } {
  mkdirSync(dir, { recursive: true });
  // Barge's schema, but pragmas set here, so the baseline stays put while the server's settings evolve. WAL
  // checkpoints are left out of the timings (Barge runs them on a separate thread): autocheckpoint off, and an
  // untimed checkpoint between the steps.
  const db = openDatabase(join(dir, 'baseline.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0');
  try {
    const insertItem = db.prepare('INSERT INTO items (batch_seq, custom_id) VALUES (?, ?)');
    const insertPayload = db.prepare('INSERT INTO payloads (item_id, params) VALUES (?, ?)');
    const insertResult = db.prepare('INSERT INTO results (item_id, batch_seq, line) VALUES (?, ?, ?)');
    const touch = db.prepare('UPDATE items SET attempts = attempts + 1 WHERE id = ?');

    const timed = (times: number[], fn: () => void) => {
      const t0 = performance.now();
      fn();
      times.push(performance.now() - t0);
    };
    const summary = (rows: number, bytes: number, times: number[]): SqliteBaseline => ({
      rows,
      bytes,
      ms: times.reduce((a, b) => a + b, 0),
      txP50Ms: percentile(times, 50),
      txMaxMs: Math.max(...times),
    });

    const payloads: Array<[string, Buffer]> = [];
    let payloadBytes = 0;
    const ingestTx = db.transaction((rows: Array<[string, Buffer]>) => {
      for (const [id, params] of rows) {
        const { lastInsertRowid } = insertItem.run(1, id);
        insertPayload.run(lastInsertRowid, params);
      }
    });
    const ingestTimes: number[] = [];
    db.pragma('synchronous = NORMAL'); // staging writes: no fsync per commit
    for (let start = 0; start < shape.count; start += 2000) {
      payloads.length = 0;
      for (let i = start; i < Math.min(shape.count, start + 2000); i++) {
        const params = Buffer.from(shape.params(i));
        payloadBytes += params.length;
        payloads.push([shape.customId(i), params]);
      }
      timed(ingestTimes, () => ingestTx.immediate(payloads));
    }

    db.pragma('wal_checkpoint(TRUNCATE)');
    db.pragma('synchronous = FULL'); // result and claim commits are fsynced
    let resultBytes = 0;
    const resultTx = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const line = sampleLines[i % sampleLines.length]!;
        resultBytes += line.length;
        insertResult.run(i + 1, 1, line);
      }
    });
    const resultTimes: number[] = [];
    for (let start = 0; start < shape.count; start += 500) {
      timed(resultTimes, () => resultTx.immediate(start, Math.min(shape.count, start + 500)));
    }

    db.pragma('wal_checkpoint(TRUNCATE)');
    // Reading them back as the results download must: 1,000-row pages in item order, each page's lines joined
    // in SQLite and returned as one Buffer (no per-row JS objects, no UTF-8 decode/encode).
    const page = db.prepare(
      `SELECT max(item_id) AS last, count(*) AS n, CAST(group_concat(line, char(10)) || char(10) AS BLOB) AS text
       FROM (SELECT item_id, line FROM results WHERE item_id > ? ORDER BY item_id LIMIT 1000)`,
    );
    const readTimes: number[] = [];
    let readBytes = 0;
    for (let after = 0, done = false; !done; ) {
      timed(readTimes, () => {
        const r = page.get(after) as { last: number | null; n: number; text: Buffer | null };
        readBytes += r.text?.length ?? 0;
        done = r.n < 1000;
        after = r.last ?? after;
      });
    }

    const commitTx = db.transaction((id: number) => touch.run(id));
    const commitTimes: number[] = [];
    for (let i = 1; i <= 1000; i++) timed(commitTimes, () => commitTx.immediate(i));

    return {
      ingest: summary(shape.count, payloadBytes, ingestTimes),
      results: summary(shape.count, resultBytes, resultTimes),
      commit: summary(1000, 0, commitTimes),
      read: summary(shape.count, readBytes, readTimes),
    };
  } finally {
    db.close();
  }
}

export interface LoopbackBaseline {
  bytes: number;
  lines: number;
  ms: number;
}

/**
 * Raw loopback streaming: a `node:http` server in this process writes `totalBytes` of pre-made JSONL lines in
 * ~64 KB chunks with back-pressure, and the same client code as the results download reads and counts them.
 */
export async function loopbackBaseline(totalBytes: number, sampleLines: string[]): Promise<LoopbackBaseline> {
  // One ~64 KB block of whole lines, repeated; the last write is cut to hit totalBytes exactly.
  let block = '';
  for (let i = 0; block.length < 64 * 1024; i++) block += `${sampleLines[i % sampleLines.length]}\n`;
  const chunk = Buffer.from(block);
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-jsonl' });
    let left = totalBytes;
    const pump = () => {
      while (left > 0) {
        const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= piece.length;
        if (!res.write(piece)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as AddressInfo;
    const d = await download(`http://127.0.0.1:${port}/results`);
    return { bytes: d.bytes, lines: d.lines, ms: d.ms };
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}
