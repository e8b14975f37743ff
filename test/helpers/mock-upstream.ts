import type { TestContext } from 'node:test';
import {
  type MockUpstream,
  type MockUpstreamOptions,
  startMockUpstream,
} from '../../src/mock-upstream/mock-upstream-server.ts';

export const NO_FAULTS = { rate429: 0, rate529: 0, rate500: 0, rateReset: 0, rateHang: 0 };

/** A mock upstream on 127.0.0.1:0 that answers at once with no faults unless told; closed when the test ends. */
export async function startTestUpstream(
  t: TestContext | null,
  over: Partial<MockUpstreamOptions> = {},
): Promise<MockUpstream> {
  const u = await startMockUpstream({
    host: '127.0.0.1',
    port: 0,
    protocol: 'anthropic',
    latency: { minMs: 0, maxMs: 0 },
    budget: {},
    faults: NO_FAULTS,
    retryAfterSeconds: 1,
    ...over,
  });
  t?.after(() => u.close());
  return u;
}
