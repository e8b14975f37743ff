import type { FastifyPluginAsync } from 'fastify';
import { ApiError } from '../../errors/api-error.ts';
import { ingestBatch, MAX_BODY_BYTES, tooLarge } from '../../ingest/ingest-batch.ts';
import { parseBetas } from '../../wire/headers.ts';
import { toMessageBatch } from '../../wire/message-batch.ts';
import type { ApiDeps } from '../app.ts';
import { baseUrlOf } from '../base-url.ts';

/**
 * `POST /v1/messages/batches`. The body is handed to the route as the raw stream (never buffered), refused from
 * Content-Length before any byte is read when it is over the limit, and cut off mid-stream when the length is absent
 * or lies.
 */
export function createBatchRoute(deps: ApiDeps): FastifyPluginAsync {
  const limit = deps.maxBodyBytes ?? MAX_BODY_BYTES;
  return async (app) => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

    app.post(
      '/v1/messages/batches',
      {
        onRequest: async (request) => {
          const length = Number(request.headers['content-length']);
          if (Number.isFinite(length) && length > limit) throw tooLarge(limit);
        },
      },
      async (request, reply) => {
        const body = request.body as AsyncIterable<Buffer> | undefined;
        if (!body || typeof (body as AsyncIterable<Buffer>)[Symbol.asyncIterator] !== 'function') {
          throw new ApiError('invalid_request', 'requests: Field required');
        }
        const started = performance.now();
        const { batch, bytes } = await ingestBatch(body, {
          store: deps.store,
          workspace: request.principal.workspace,
          now: deps.clock.now(),
          ttlMs: deps.batchTtlMs,
          apiVersion: String(request.headers['anthropic-version']),
          betas: parseBetas(request.headers['anthropic-beta']).join(',') || null,
          maxBodyBytes: limit,
        });
        deps.notifier.notify('batch-ready', batch.id);
        deps.metrics?.ingested(bytes, batch.total, performance.now() - started);
        // Committed: from here on the client must not retry this create, whatever happens.
        reply.header('x-should-retry', 'false');
        return toMessageBatch(batch, {
          baseUrl: baseUrlOf(request, deps.publicUrl),
          liveCounts: deps.liveCounts ?? false,
        });
      },
    );
  };
}
