// The benchmark's create-batch body: `{"requests":[…]}` with `count` requests of exactly ITEM_BYTES bytes each
// (comma included), so the full 100,000-request body is just under the hosted API's 256 MiB limit. Each request's
// params carry a ~2.5 KB user message with JSON escapes (\n \t \" \\ \uXXXX) and raw non-ASCII UTF-8 (2-, 3- and
// 4-byte sequences), and every message is distinct (a numbered prefix), so the mock's per-request seed differs.

import { closeSync, openSync, writeSync } from 'node:fs';

/** The hosted API's body limit. */
export const MAX_BODY_BYTES = 256 * 1024 * 1024;
/** The most requests one batch may hold. */
export const MAX_REQUESTS = 100_000;

const HEAD = '{"requests":[';
const TAIL = ']}';
/** Bytes per request including the separating comma: the 100k body lands ~35 KB under 256 MiB. */
export const ITEM_BYTES = Math.floor((MAX_BODY_BYTES - 4096) / MAX_REQUESTS);

/** Already-JSON-encoded fragments of message text: mostly ASCII words, some escapes and raw multi-byte UTF-8. */
const WORDS = [
  'the',
  'batch',
  'request',
  'summarise',
  'following',
  'paragraph',
  'about',
  'shipping',
  'containers',
  'and',
  'harbour',
  'logistics',
  'please',
  'answer',
  'briefly',
  'with',
  'examples',
  'model',
  'throughput',
  'latency',
  'of',
  'a',
  'to',
  'in',
];
const SPECIALS = [
  '\\n',
  '\\n\\n',
  '\\t',
  '\\"quoted text\\"',
  'C:\\\\barge\\\\data',
  '\\u00e9t\\u00e9',
  '\\u2014',
  'caf\u00e9',
  'na\u00efve',
  'Stra\u00dfe',
  '\u65e5\u672c\u8a9e',
  '\u4e2d\u6587',
  '\u2713',
  '\u20ac42',
  '\u{1F680}',
];
/** Share of fragments drawn from SPECIALS (the rest are plain ASCII words). */
const SPECIAL_SHARE = 0.08;
const encode = (list: string[]) => list.map((f) => ({ text: f, bytes: Buffer.byteLength(f) }));
const ENCODED_WORDS = encode(WORDS);
const ENCODED_SPECIALS = encode(SPECIALS);
const MAX_FRAGMENT_BYTES = Math.max(...[...ENCODED_WORDS, ...ENCODED_SPECIALS].map((f) => f.bytes));

/** Distinct message bodies cycled through (each request also gets a unique numbered prefix). */
const POOL_SIZE = 997;

/** A small deterministic PRNG (mulberry32), so every run benchmarks the same bytes. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** JSON-encoded message text of exactly `bytes` UTF-8 bytes. */
function messageText(rand: () => number, bytes: number): string {
  let out = '';
  let used = 0;
  while (used + 1 + MAX_FRAGMENT_BYTES < bytes) {
    const list = rand() < SPECIAL_SHARE ? ENCODED_SPECIALS : ENCODED_WORDS;
    const f = list[Math.floor(rand() * list.length)]!;
    out += f.text;
    out += ' ';
    used += f.bytes + 1;
  }
  return out + 'x'.repeat(bytes - used);
}

const customId = (i: number) => `req-${String(i).padStart(6, '0')}`;
const prefix = (i: number) => `[#${String(i).padStart(6, '0')}] `;
const PARAMS_HEAD = '{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"';
const PARAMS_TAIL = '"}]}';
const itemHead = (i: number) => `{"custom_id":"${customId(i)}","params":${PARAMS_HEAD}${prefix(i)}`;
const ITEM_TAIL = `${PARAMS_TAIL}}`;

/** Deterministic request generator shared by the body file and the in-process baselines. */
export class BodyShape {
  readonly count: number;
  readonly totalBytes: number;
  /** Bytes of each request's (JSON-encoded) user message. */
  readonly messageBytes: number;
  private readonly pool: string[];
  private readonly poolBytes: Buffer[];

  constructor(count: number) {
    if (!(Number.isInteger(count) && count >= 1 && count <= MAX_REQUESTS)) {
      throw new RangeError(`requests must be 1..${MAX_REQUESTS}, got ${count}`);
    }
    this.count = count;
    // Bytes of an item whose message is only its numbered prefix, plus the separating comma.
    const overhead = itemHead(0).length + ITEM_TAIL.length + 1;
    const rand = mulberry32(0xba59e);
    this.pool = Array.from({ length: POOL_SIZE }, () => messageText(rand, ITEM_BYTES - overhead));
    this.poolBytes = this.pool.map((t) => Buffer.from(t));
    this.messageBytes = ITEM_BYTES - overhead + prefix(0).length;
    this.totalBytes = HEAD.length + count * ITEM_BYTES - 1 + TAIL.length;
  }

  /** The exact params JSON of request `i`. */
  params(i: number): string {
    return `${PARAMS_HEAD}${prefix(i)}${this.pool[i % POOL_SIZE]!}${PARAMS_TAIL}`;
  }

  customId(i: number): string {
    return customId(i);
  }

  /** Writes the whole body to `file`, checking every item's size; returns the byte count. */
  writeTo(file: string): number {
    const fd = openSync(file, 'w');
    let written = 0;
    try {
      written += writeSync(fd, HEAD);
      const perChunk = 2000;
      const chunk = Buffer.allocUnsafe(perChunk * ITEM_BYTES);
      for (let start = 0; start < this.count; start += perChunk) {
        const end = Math.min(this.count, start + perChunk);
        let off = 0;
        for (let i = start; i < end; i++) {
          const itemStart = off;
          if (i > 0) off += chunk.write(',', off, 'latin1');
          off += chunk.write(itemHead(i), off, 'latin1');
          off += this.poolBytes[i % POOL_SIZE]!.copy(chunk, off);
          off += chunk.write(ITEM_TAIL, off, 'latin1');
          const expected = i > 0 ? ITEM_BYTES : ITEM_BYTES - 1;
          if (off - itemStart !== expected)
            throw new Error(`request ${i} is ${off - itemStart} bytes, not ${expected}`);
        }
        written += writeSync(fd, chunk, 0, off);
      }
      written += writeSync(fd, TAIL);
    } finally {
      closeSync(fd);
    }
    if (written !== this.totalBytes) throw new Error(`wrote ${written} bytes, expected ${this.totalBytes}`);
    return written;
  }
}
