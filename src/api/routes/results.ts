import { Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { ApiError } from '../../errors/api-error.ts';
import { rfc3339 } from '../../wire/timestamp.ts';
import type { ApiDeps } from '../app.ts';
import { findBatch } from './batch-routes.ts';
import { sendFile } from './send-file.ts';

/**
 * `GET /v1/messages/batches/:id/results`: the stored result lines, streamed from storage page by page with
 * backpressure (each line was serialised once, when it was written).
 */
/** Sends an ended batch's results (404 and 400 as the hosted API words them); the dashboard's download uses it too. */
export async function sendResults(deps: ApiDeps, workspace: string, id: string, reply: FastifyReply) {
  const b = await findBatch(deps.store, workspace, id);
  if (b.status !== 'ended') {
    throw new ApiError(
      'batch_not_ended',
      `message batch ${b.id} has not finished processing (processing_status: ${b.status}); ` +
        'results are available once it has ended',
    );
  }
  if (b.archivedAt !== null) {
    throw new ApiError(
      'not_found',
      `results of message batch ${b.id} were archived at ${rfc3339(b.archivedAt)} and are no longer available`,
    );
  }
  const file = deps.store.resultsFile?.(b.seq);
  if (file) return sendFile(reply, file, 'application/x-jsonl');
  reply.type('application/x-jsonl');
  return reply.send(Readable.from(deps.store.resultChunks(b.seq)));
}

/**
 * `GET /v1/messages/batches/:id/results`: the stored result lines, streamed from storage page by page with
 * backpressure (each line was serialised once, when it was written).
 */
export function resultsRoute(deps: ApiDeps): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: { id: string } }>('/v1/messages/batches/:id/results', (request, reply) =>
      sendResults(deps, request.principal.workspace, request.params.id, reply),
    );
  };
}
