import { CallAbort, type CallSignal } from './call-signal.ts';
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
  signal: CallSignal;
  timedOut(): boolean;
  /** Clears the timer and listener; call when the call has settled. */
  done(): void;
}

/** The caller's own signal, whose deadline the caller enforces: nothing to set up or clear. */
class CallerDeadline implements AttemptSignal {
  constructor(readonly signal: CallSignal) {}
  timedOut(): boolean {
    return this.signal.reason instanceof AttemptDeadline;
  }
  done(): void {}
}

/** A signal of its own that follows the caller's and aborts at the deadline (a clearable timer). */
class OwnDeadline implements AttemptSignal {
  readonly signal = new CallAbort();
  private expired = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly outer: CallSignal,
    timeoutMs: number,
  ) {
    outer.addEventListener('abort', this, { once: true });
    this.timer = setTimeout(() => {
      this.expired = true;
      this.signal.abort(new AttemptDeadline(timeoutMs));
    }, timeoutMs);
  }
  handleEvent(): void {
    this.signal.abort(this.outer.reason);
  }
  timedOut(): boolean {
    return this.expired;
  }
  done(): void {
    clearTimeout(this.timer);
    this.outer.removeEventListener('abort', this);
  }
}

/**
 * The deadline of one attempt. When the caller already enforces it on the request's own signal (the worker does,
 * aborting with an `AttemptDeadline`), that signal is used as it is; otherwise a signal of its own follows the
 * request's signal and a clearable timer (`AbortSignal.timeout`'s timer cannot be cleared and would linger for the
 * whole deadline after every fast answer). Classes rather than closures: tsx wraps every closure it creates to keep
 * its name, a cost per call on the dispatch hot path.
 */
export function attemptSignal(req: BackendRequest, timeoutMs: number): AttemptSignal {
  return req.deadlineOnSignal ? new CallerDeadline(req.signal) : new OwnDeadline(req.signal, timeoutMs);
}
