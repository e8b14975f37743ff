import type { LaneLimits } from '../dispatch/lane-limiter.ts';
import type { ModelBackend } from './model-backend.ts';

/** A configured backend with the limits the worker applies to it. */
export interface RoutedBackend {
  name: string;
  backend: ModelBackend;
  /** Limits of each (backend, model) lane: the upstream's rate limits are per model. */
  laneLimits: LaneLimits;
  /** Requests in flight to this backend across all its lanes (a GPU server's capacity is shared by its models). */
  maxConcurrency: number;
  /** Attempts per request before a transient failure becomes its result (429s do not count). */
  maxAttempts: number;
  /** Deadline of one attempt, enforced by the worker; none when absent (the backend may have its own). */
  attemptTimeoutMs?: number;
  /**
   * Unknown top-level params (new and beta parameters) are forwarded instead of refused: true for backends that
   * pass the stored params through to a server that validates them itself.
   */
  passThroughUnknownParams?: boolean;
}

/** Which backend serves a model: the routing table, resolved. */
export interface BackendRoutes {
  /** The backend for a request's `model`, or null when no route matches. */
  resolve(model: string): RoutedBackend | null;
  all(): readonly RoutedBackend[];
}

/** Every model to one backend: the default without a config file, and what tests inject. */
export function singleBackendRoutes(b: RoutedBackend): BackendRoutes {
  const all = [b];
  return { resolve: () => b, all: () => all };
}
