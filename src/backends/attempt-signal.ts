import type { BackendRequest } from './model-backend.ts';

/** The reason an attempt's signal aborts when its deadline passes. */
export class AttemptDeadline extends Error {
  constructor(readonly ms: number) {
    super(`attempt deadline of ${ms} ms`);
    this.name = 'AttemptDeadline';
  }
}

/** The signal one upstream call runs under, and whether it ended by its deadline. */
export interface AttemptSignal {
  signal: AbortSignal;
  timedOut(): boolean;
  /** Clears the timer and listener; call when the call has settled. */
  done(): void;
}

const NOTHING = (): void => {};

/**
 * The deadline of one attempt. When the caller already enforces it on the request's own signal (the worker does,
 * aborting with an `AttemptDeadline`), that signal is used as it is; otherwise a controller of its own follows the
 * request's signal and a clearable timer (`AbortSignal.timeout`'s timer cannot be cleared and would linger for the
 * whole deadline after every fast answer). The first path saves a controller and a listener per call on the
 * dispatch hot path.
 */
export function attemptSignal(req: BackendRequest, timeoutMs: number): AttemptSignal {
  if (req.deadlineOnSignal) {
    return {
      signal: req.signal,
      timedOut: () => req.signal.reason instanceof AttemptDeadline,
      done: NOTHING,
    };
  }
  const ac = new AbortController();
  let timedOut = false;
  const onAbort = (): void => ac.abort(req.signal.reason);
  req.signal.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort(new AttemptDeadline(timeoutMs));
  }, timeoutMs);
  return {
    signal: ac.signal,
    timedOut: () => timedOut,
    done() {
      clearTimeout(timer);
      req.signal.removeEventListener('abort', onAbort);
    },
  };
}
