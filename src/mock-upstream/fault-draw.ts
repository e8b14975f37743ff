// The mock upstream's seeded draws: which injected fault a request gets, and how long its answer waits.
import { Prng } from '../backends/mock/prng.ts';
import type { MockUpstreamOptions } from './mock-upstream-options.ts';

export type Fault = 'none' | 'injected429' | 'overloaded' | 'apiError' | 'reset' | 'hang';

export interface UpstreamDraws {
  /** The fault for the next request, each with its configured share; 'none' for the rest. */
  fault(): Fault;
  /** Milliseconds for the next answer, uniform in [minMs, maxMs]; 0 without a draw when maxMs is 0. */
  latencyMs(): number;
}

export function upstreamDraws(o: Pick<MockUpstreamOptions, 'faults' | 'latency' | 'seed'>): UpstreamDraws {
  const seed = o.seed ?? 1;
  const seedHi = Math.floor(seed / 2 ** 32) >>> 0;
  // Two streams, so changing the fault rates does not shift the latency draws and vice versa.
  const faultRng = new Prng({ hi: seed >>> 0, lo: seedHi ^ 0x0fa017 });
  const latencyRng = new Prng({ hi: seed >>> 0, lo: seedHi ^ 0x1a7e4c });
  const { minMs, maxMs } = o.latency;
  const f = o.faults;
  const faultTable: [Fault, number][] = [
    ['injected429', f.rate429],
    ['overloaded', f.rate529],
    ['apiError', f.rate500],
    ['reset', f.rateReset],
    ['hang', f.rateHang],
  ];
  return {
    fault() {
      let u = faultRng.float();
      for (const [kind, rate] of faultTable) {
        if (u < rate) return kind;
        u -= rate;
      }
      return 'none';
    },
    latencyMs: () => (maxMs > 0 ? minMs + latencyRng.int(maxMs - minMs + 1) : 0),
  };
}
