import type { AnthropicErrorType } from '../wire/error-envelope.ts';

/**
 * One registry of every error Barge returns: a stable code, the Anthropic error type and the HTTP status.
 * Statuses are never 408/409/429/5xx for state conflicts, because the SDKs retry those automatically.
 */
export const ERRORS = {
  invalid_request: { type: 'invalid_request_error', status: 400 },
  invalid_json: { type: 'invalid_request_error', status: 400 },
  missing_version: { type: 'invalid_request_error', status: 400 },
  batch_not_ended: { type: 'invalid_request_error', status: 400 },
  batch_already_ended: { type: 'invalid_request_error', status: 400 },
  unauthenticated: { type: 'authentication_error', status: 401 },
  workspace_mismatch: { type: 'permission_error', status: 403 },
  not_found: { type: 'not_found_error', status: 404 },
  too_large: { type: 'request_too_large', status: 413 },
  unsupported_media: { type: 'invalid_request_error', status: 415 },
  overloaded: { type: 'overloaded_error', status: 529 },
  internal: { type: 'api_error', status: 500 },
} as const satisfies Record<string, { type: AnthropicErrorType; status: number }>;

export type ErrorCode = keyof typeof ERRORS;
