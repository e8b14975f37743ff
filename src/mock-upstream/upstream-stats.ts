// What the mock upstream counts for tests to assert on: requests in flight, answers per status, faults, and how
// often each request body was seen (retries and duplicates show up there).
import { createHash } from 'node:crypto';

/** Injected faults and budget refusals, counted separately. */
export interface MockUpstreamFaultCounts {
  /** 429 because a budget bucket was empty. */
  budget429: number;
  injected429: number;
  /** 529 (503 in openai mode). */
  overloaded: number;
  /** 500. */
  apiError: number;
  /** Socket destroyed without an answer. */
  reset: number;
  /** Never answered. */
  hang: number;
}

export interface MockUpstreamStats {
  /** Model requests received (the `/_mock/*` routes are not counted). */
  requests: number;
  inFlight: number;
  /** The most model requests ever open at once: tests check the client's concurrency limit with it. */
  maxInFlight: number;
  /** Answers by HTTP status (resets and hangs have none). */
  byStatus: Record<string, number>;
  faults: MockUpstreamFaultCounts;
  /** Distinct request bodies (by SHA-1 of the bytes) and the most times any one of them was seen. */
  distinctBodies: number;
  maxSeenPerBody: number;
}

/** The key `seenCounts` uses for a request body: hex SHA-1 of its bytes. */
export function bodyHash(body: Uint8Array | string): string {
  return createHash('sha1').update(body).digest('hex');
}

function emptyFaults(): MockUpstreamFaultCounts {
  return { budget429: 0, injected429: 0, overloaded: 0, apiError: 0, reset: 0, hang: 0 };
}

/** The running counts behind `stats()` and `seenCounts()`; the server updates the fields as requests come and go. */
export class StatsBook {
  requests = 0;
  inFlight = 0;
  maxInFlight = 0;
  byStatus = new Map<number, number>();
  faults = emptyFaults();
  seen = new Map<string, number>();
  maxSeenPerBody = 0;

  begin(): void {
    this.requests++;
    this.inFlight++;
    if (this.inFlight > this.maxInFlight) this.maxInFlight = this.inFlight;
  }

  status(code: number): void {
    this.byStatus.set(code, (this.byStatus.get(code) ?? 0) + 1);
  }

  body(hash: string): void {
    const n = (this.seen.get(hash) ?? 0) + 1;
    this.seen.set(hash, n);
    if (n > this.maxSeenPerBody) this.maxSeenPerBody = n;
  }

  /** Everything back to zero, except what is open right now. */
  reset(): void {
    this.requests = 0;
    this.maxInFlight = this.inFlight;
    this.byStatus.clear();
    this.faults = emptyFaults();
    this.seen.clear();
    this.maxSeenPerBody = 0;
  }

  snapshot(): MockUpstreamStats {
    return {
      requests: this.requests,
      inFlight: this.inFlight,
      maxInFlight: this.maxInFlight,
      byStatus: Object.fromEntries([...this.byStatus].map(([k, v]) => [String(k), v])),
      faults: { ...this.faults },
      distinctBodies: this.seen.size,
      maxSeenPerBody: this.maxSeenPerBody,
    };
  }
}
