import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors/api-error.ts';
import { isStorageUnavailable } from '../store/storage-unavailable.ts';
import { errorEnvelope } from '../wire/error-envelope.ts';

/** Maps Fastify's own errors (bad content type, body too large, bad JSON) into the registry. */
function fromFastify(err: FastifyError): ApiError {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('too_large', 'Request exceeds the maximum allowed number of bytes.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('unsupported_media', 'Unsupported Content-Type.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('invalid_request', 'Request body size did not match Content-Length.');
    default:
      if (isStorageUnavailable(err)) {
        return new ApiError('overloaded', 'Storage is temporarily unavailable; please retry.', {
          cause: err,
        });
      }
      if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
        return new ApiError('invalid_request', err.message);
      }
      return new ApiError('internal', 'Internal server error', { cause: err });
  }
}

/** Renders every error as the Anthropic envelope; 5xx details go to the log, never to the client. */
export function errorHandler(err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  const apiErr = err instanceof ApiError ? err : fromFastify(err as FastifyError);
  if (apiErr.status >= 500) request.log.error({ err }, 'request failed');
  else request.log.info({ code: apiErr.code, status: apiErr.status }, apiErr.message);
  // An error answered before the body was read (auth, 413): close the connection rather than let Node read and
  // discard what may be hundreds of megabytes to keep it alive.
  if (!request.raw.complete) reply.header('connection', 'close');
  reply
    .code(apiErr.status)
    .headers(apiErr.headers)
    .type('application/json')
    .send(errorEnvelope(apiErr.type, apiErr.message, String(request.id)));
}
