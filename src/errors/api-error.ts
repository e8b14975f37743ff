import type { AnthropicErrorType } from '../wire/error-envelope.ts';
import { ERRORS, type ErrorCode } from './registry.ts';

/** An error meant for the client: rendered as the Anthropic error envelope with the registry's status. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly type: AnthropicErrorType;
  readonly status: number;
  /** Extra response headers (for example `x-should-retry`). */
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ApiError';
    this.code = code;
    this.type = ERRORS[code].type;
    this.status = ERRORS[code].status;
    this.headers = opts.headers ?? {};
  }
}
