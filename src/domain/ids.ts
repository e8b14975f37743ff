/** Branded identifiers: a plain string cannot be passed where a BatchId is expected by accident. */
export type BatchId = string & { readonly __brand: 'BatchId' };
export type MessageId = string & { readonly __brand: 'MessageId' };
export type RequestId = string & { readonly __brand: 'RequestId' };

// The base58 alphabet is in ascending ASCII order, so fixed-width base58 strings sort like the numbers they encode.
const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const WIDTH = 22; // 58^22 > 2^128: 48 bits of milliseconds followed by 80 random bits

let lastMs = -1;
let lastRandom = 0n;

function randomBits(bits: number): bigint {
  const bytes = new Uint8Array(Math.ceil(bits / 8));
  globalThis.crypto.getRandomValues(bytes);
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n & ((1n << BigInt(bits)) - 1n);
}

function encode(n: bigint, width: number): string {
  let out = '';
  let v = n;
  for (let i = 0; i < width; i++) {
    out = ALPHABET[Number(v % 58n)] + out;
    v /= 58n;
  }
  return out;
}

/**
 * A time-ordered id body: later calls in one process always sort after earlier ones, even within one millisecond
 * (the random part is incremented, as monotonic ULIDs do), so ids double as list cursors.
 */
export function sortableId(nowMs: number): string {
  let random: bigint;
  let ms = Math.max(0, Math.floor(nowMs));
  if (ms <= lastMs) {
    ms = lastMs;
    random = lastRandom + 1n;
  } else {
    random = randomBits(80);
  }
  lastMs = ms;
  lastRandom = random;
  return `01${encode((BigInt(ms) << 80n) | random, WIDTH)}`;
}

/** `msgbatch_01…`: 24 characters after the prefix, like the hosted API's. */
export function newBatchId(nowMs: number): BatchId {
  return `msgbatch_${sortableId(nowMs)}` as BatchId;
}

/** A random id with a prefix, for messages, requests and tool calls. */
export function randomId(prefix: string): string {
  return `${prefix}_01${encode(randomBits(128), WIDTH)}`;
}

/** `msg_…` ids derived from a seed, so the mock model's output is deterministic. */
export function idFromSeed(prefix: string, seed: bigint): string {
  return `${prefix}_01${encode(seed & ((1n << 128n) - 1n), WIDTH)}`;
}

/** Whether a string looks like a batch id (only base58 characters, so it never needs URL encoding). */
export function isBatchId(text: string): text is BatchId {
  return /^msgbatch_[0-9A-Za-z]{1,64}$/.test(text);
}
