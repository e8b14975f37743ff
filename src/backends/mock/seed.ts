// The mock model is a pure function of the request bytes: everything it "decides" (ids, words, latency, injected
// faults) is drawn from this seed, so a rerun of the same batch gives byte-identical results.

/** A 64-bit seed as two unsigned 32-bit halves (mixing plain numbers is much cheaper than BigInt). */
export interface MockSeed {
  hi: number;
  lo: number;
}

const H1 = 0xdeadbeef;
const H2 = 0x41c6ce57;
const M1 = 2654435761;
const M2 = 1597334677;

function finish(a: number, b: number, length: number): MockSeed {
  let h1 = a ^ length;
  let h2 = b ^ length;
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return { hi: h2 >>> 0, lo: h1 >>> 0 };
}

/** cyrb53-style 64-bit hash of bytes (one pass, two multiplies per byte). */
export function seedFromBytes(bytes: Uint8Array): MockSeed {
  let h1 = H1;
  let h2 = H2;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    h1 = Math.imul(h1 ^ c, M1);
    h2 = Math.imul(h2 ^ c, M2);
  }
  return finish(h1, h2, bytes.length);
}

/**
 * The same hash over the UTF-8 encoding of `text`, without allocating the bytes: `seedFromText(JSON.stringify(p))`
 * equals `seedFromBytes` of compact JSON bytes, which is what the SDKs send.
 */
export function seedFromText(text: string): MockSeed {
  let h1 = H1;
  let h2 = H2;
  let n = 0;
  const feed = (c: number): void => {
    h1 = Math.imul(h1 ^ c, M1);
    h2 = Math.imul(h2 ^ c, M2);
    n++;
  };
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      feed(c);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // a lone surrogate encodes as U+FFFD, as TextEncoder does
    if (c < 0x800) {
      feed(0xc0 | (c >> 6));
    } else if (c < 0x10000) {
      feed(0xe0 | (c >> 12));
      feed(0x80 | ((c >> 6) & 0x3f));
    } else {
      feed(0xf0 | (c >> 18));
      feed(0x80 | ((c >> 12) & 0x3f));
      feed(0x80 | ((c >> 6) & 0x3f));
    }
    feed(0x80 | (c & 0x3f));
  }
  return finish(h1, h2, n);
}

/** A uniform draw in [0, 1) from the seed, a purpose tag and a counter (the attempt), independent per purpose. */
export function draw(seed: MockSeed, purpose: number, counter: number): number {
  let h = seed.lo ^ Math.imul(purpose + 1, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) ^ seed.hi;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) ^ Math.imul(counter, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}
