import type { AnthropicErrorType } from '../wire/error-envelope.ts';

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
  signal: AbortSignal;
}

/** What a backend produced: a Message, or an error that becomes an `errored` result (or a retry, when retryable). */
export type BackendOutcome =
  | { type: 'succeeded'; message: Record<string, unknown> }
  | { type: 'errored'; error: { type: AnthropicErrorType; message: string }; retryable: boolean };

/** The ModelBackend port: the mock model, an Anthropic-compatible upstream, an OpenAI-compatible upstream. */
export interface ModelBackend {
  readonly name: string;
  send(request: BackendRequest): Promise<BackendOutcome>;
  close?(): Promise<void>;
}
