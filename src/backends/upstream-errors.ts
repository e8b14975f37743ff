import type { AnthropicErrorType } from '../wire/error-envelope.ts';
import type { HeaderBag } from './model-backend.ts';

/**
 * How an upstream HTTP status maps onto the Anthropic error types, and whether it is worth another attempt
 * (architecture §1.8): 408, 409, 429, 5xx and 529 are transient; 400, 401, 403, 404, 413 and the rest are final.
 */
export function errorTypeForStatus(status: number): AnthropicErrorType {
  switch (status) {
    case 400:
    case 422:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 408:
    case 504:
      return 'timeout_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 503:
    case 529:
      return 'overloaded_error';
    default:
      return status >= 400 && status < 500 ? 'invalid_request_error' : 'api_error';
  }
}

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** The first value of a header, trimmed. */
export function header(headers: HeaderBag | undefined, name: string): string | undefined {
  const v = headers?.[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined ? undefined : s.trim();
}

/**
 * The upstream's wait hint in milliseconds: `retry-after-ms`, else `retry-after` as seconds or an HTTP date
 * (the order the official SDKs use). Undefined when absent, unparsable or negative.
 */
export function retryAfterMs(headers: HeaderBag | undefined, now: number): number | undefined {
  const ms = header(headers, 'retry-after-ms');
  if (ms !== undefined && ms !== '') {
    const n = Number(ms);
    if (Number.isFinite(n) && n >= 0) return n;
  }
  const ra = header(headers, 'retry-after');
  if (ra === undefined || ra === '') return undefined;
  const secs = Number(ra);
  if (Number.isFinite(secs)) return secs >= 0 ? secs * 1000 : undefined;
  const at = Date.parse(ra);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
