import type { CallSignal } from '../call-signal.ts';
import type { BackendOutcome, BackendRequest, ModelBackend } from '../model-backend.ts';
import { mockMessage } from './mock-message.ts';
import { draw, type MockSeed, seedFromBytes, seedFromText } from './seed.ts';

/** How the built-in mock model behaves. */
export interface MockModelOptions {
  /** Simulated latency per attempt, picked deterministically in [minMs, maxMs]. */
  latency: { minMs: number; maxMs: number };
  /** Share of attempts (0..1) that fail with a retryable `api_error` or `overloaded_error`. */
  errorRate: number;
}

// Draw purposes: independent streams from one seed.
const LATENCY = 1;
const FAULT = 2;
const FAULT_KIND = 3;

/** Waits `ms`, or rejects with `signal.reason` as soon as the signal aborts. */
function sleep(ms: number, signal: CallSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The built-in deterministic mock model: the same params bytes always give the same Message; latency and
 * injected faults are deterministic in the params and the attempt number, so a retry can succeed.
 */
export class MockBackend implements ModelBackend {
  readonly name = 'mock';
  private readonly minMs: number;
  private readonly maxMs: number;
  private readonly errorRate: number;

  constructor(opts: MockModelOptions) {
    const { minMs, maxMs } = opts.latency;
    if (!(Number.isFinite(minMs) && Number.isFinite(maxMs) && minMs >= 0 && maxMs >= minMs)) {
      throw new RangeError(`mock latency must satisfy 0 <= minMs <= maxMs, got ${minMs}..${maxMs}`);
    }
    if (!(opts.errorRate >= 0 && opts.errorRate <= 1)) {
      throw new RangeError(`mock errorRate must be between 0 and 1, got ${opts.errorRate}`);
    }
    this.minMs = minMs;
    this.maxMs = maxMs;
    this.errorRate = opts.errorRate;
  }

  async send(req: BackendRequest): Promise<BackendOutcome> {
    req.signal.throwIfAborted();
    const seed: MockSeed =
      req.rawParams.length > 0 ? seedFromBytes(req.rawParams) : seedFromText(JSON.stringify(req.params));
    // No timer at all for zero latency: the outcome resolves in a microtask, which the throughput benchmark needs.
    if (this.maxMs > 0) {
      const ms = this.minMs + Math.floor(draw(seed, LATENCY, req.attempt) * (this.maxMs - this.minMs + 1));
      if (ms > 0) await sleep(ms, req.signal);
    }
    if (draw(seed, FAULT, req.attempt) < this.errorRate) {
      const type = draw(seed, FAULT_KIND, req.attempt) < 0.5 ? 'api_error' : 'overloaded_error';
      return {
        type: 'errored',
        error: { type, message: `Mock model: injected ${type} (attempt ${req.attempt})` },
        retryable: true,
      };
    }
    try {
      return { type: 'succeeded', message: mockMessage(req.params, seed) };
    } catch (err) {
      // Validated params never get here; an internal bug must not look like a transient fault, so no retry.
      const reason = err instanceof Error ? err.message : String(err);
      return {
        type: 'errored',
        error: { type: 'api_error', message: `Mock model: ${reason}` },
        retryable: false,
      };
    }
  }

  /** Nothing to release: the mock holds no connections. */
  async close(): Promise<void> {}
}
