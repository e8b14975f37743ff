/** The error types of the Anthropic API (and `request_too_large`, which the docs use for 413). */
export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'billing_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'timeout_error'
  | 'overloaded_error';

/** `{type:"error", error:{type,message}, request_id}`: the body of every error response and errored result. */
export interface ErrorEnvelope {
  type: 'error';
  error: { type: AnthropicErrorType; message: string };
  request_id: string | null;
}

export function errorEnvelope(
  type: AnthropicErrorType,
  message: string,
  requestId: string | null,
): ErrorEnvelope {
  return { type: 'error', error: { type, message }, request_id: requestId };
}
