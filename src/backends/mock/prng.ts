import type { MockSeed } from './seed.ts';

/** sfc32: a small, fast, well-mixed PRNG; the mock draws all its choices for one message from one instance. */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: MockSeed) {
    this.a = seed.hi;
    this.b = seed.lo;
    this.c = seed.hi ^ 0x9e3779b9;
    this.d = 1;
    for (let i = 0; i < 12; i++) this.u32(); // warm up so nearby seeds diverge
  }

  /** An unsigned 32-bit integer. */
  u32(): number {
    const t0 = (this.a + this.b) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.d = (this.d + 1) | 0;
    const t = (t0 + this.d) | 0;
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A number in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** 128 bits, for `idFromSeed`. */
  bits128(): bigint {
    return (
      (BigInt(this.u32()) << 96n) |
      (BigInt(this.u32()) << 64n) |
      (BigInt(this.u32()) << 32n) |
      BigInt(this.u32())
    );
  }
}
