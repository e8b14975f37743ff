import type { AnthropicErrorType } from '../wire/error-envelope.ts';
import type { CallSignal } from './call-signal.ts';

/** One request handed to a backend. `params` is already parsed and validated against the Messages API shape. */
export interface BackendRequest {
  customId: string;
  /** The parsed `params` object. */
  params: Record<string, unknown>;
  /** The exact bytes the client sent for `params` (forwarded verbatim by pass-through backends). */
  rawParams: Uint8Array;
  /** `anthropic-version` the batch was created with. */
  apiVersion: string;
  /** `anthropic-beta` values the batch was created with (the batches marker removed). */
  betas: string[];
  /** 1 for the first attempt. */
  attempt: number;
  /** Aborted on shutdown, expiry or the attempt deadline. */
  signal: CallSignal;
  /**
   * The caller enforces the attempt deadline on `signal`, aborting it with an `AttemptDeadline` (see
   * attempt-signal.ts): the backend then reports a timeout for that abort and sets no timer of its own.
   */
  deadlineOnSignal?: boolean;
}

/** Response headers of an upstream call, names in lower case (undici's `IncomingHttpHeaders` fits). */
export type HeaderBag = Record<string, string | string[] | undefined>;

/** Token usage as the Messages API reports it. */
export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

/**
 * What the upstream said, for the lane limiter and dispatch metrics: the HTTP status (or how the call failed
 * without one), the response headers, the time the call took, and the usage of a successful answer.
 */
export interface UpstreamReport {
  status: number | 'network' | 'timeout';
  headers?: HeaderBag;
  latencyMs: number;
  usage?: Usage;
}

/**
 * What a backend produced: a Message, or an error that becomes an `errored` result, or a retry when `retryable`.
 * `retryAfterMs` is the upstream's own hint (`retry-after-ms` / `retry-after`), when it gave one.
 */
export type BackendOutcome =
  | {
      type: 'succeeded';
      message: Record<string, unknown>;
      /**
       * The Message exactly as the upstream sent it, when that is one line of compact JSON: the result line embeds
       * these bytes instead of serialising `message` again.
       */
      raw?: string;
      upstream?: UpstreamReport;
    }
  | {
      type: 'errored';
      error: { type: AnthropicErrorType; message: string };
      retryable: boolean;
      retryAfterMs?: number;
      upstream?: UpstreamReport;
    };

/** The ModelBackend port: the mock model, an Anthropic-compatible upstream, an OpenAI-compatible upstream. */
export interface ModelBackend {
  readonly name: string;
  send(request: BackendRequest): Promise<BackendOutcome>;
  close?(): Promise<void>;
}
