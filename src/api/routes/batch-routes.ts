import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { BatchRecord } from '../../domain/batch.ts';
import { isBatchId } from '../../domain/ids.ts';
import { ApiError } from '../../errors/api-error.ts';
import type { Store } from '../../store/store.ts';
import { deletedMessageBatch, listPage, toMessageBatch } from '../../wire/message-batch.ts';
import type { ApiDeps } from '../app.ts';
import { baseUrlOf } from '../base-url.ts';

interface IdParams {
  id: string;
}

/** 404 with the hosted API's envelope; the same for unknown, deleted and other-workspace batches. */
export function batchNotFound(id: string): ApiError {
  return new ApiError('not_found', `message batch ${id.slice(0, 100)} not found`);
}

/** A workspace's batch, or that 404 (ids that cannot be batch ids never reach the store). */
export async function findBatch(store: Store, workspace: string, id: string): Promise<BatchRecord> {
  const b = isBatchId(id) ? await store.getBatch(workspace, id) : null;
  if (!b) throw batchNotFound(id);
  return b;
}

function one(v: unknown): string | undefined {
  return Array.isArray(v) ? (v.at(-1) as string | undefined) : (v as string | undefined);
}

/** Parses `limit`, `after_id` and `before_id` with the hosted API's ranges. */
export function parseListQuery(query: Record<string, unknown>): {
  limit: number;
  afterId?: string;
  beforeId?: string;
} {
  const rawLimit = one(query.limit);
  let limit = 20;
  if (rawLimit !== undefined) {
    if (!/^\d+$/.test(rawLimit))
      throw new ApiError('invalid_request', 'limit: Input should be a valid integer');
    limit = Number(rawLimit);
    if (limit < 1) throw new ApiError('invalid_request', 'limit: Input should be greater than or equal to 1');
    if (limit > 1000)
      throw new ApiError('invalid_request', 'limit: Input should be less than or equal to 1000');
  }
  const afterId = one(query.after_id);
  const beforeId = one(query.before_id);
  if (afterId !== undefined && beforeId !== undefined) {
    throw new ApiError('invalid_request', 'after_id and before_id cannot both be set');
  }
  for (const [name, v] of [
    ['after_id', afterId],
    ['before_id', beforeId],
  ] as const) {
    if (v !== undefined && !isBatchId(v))
      throw new ApiError('invalid_request', `${name}: not a message batch id`);
  }
  return { limit, ...(afterId !== undefined && { afterId }), ...(beforeId !== undefined && { beforeId }) };
}

/** Retrieve, list, cancel and delete. */
export function batchRoutes(deps: ApiDeps): FastifyPluginAsync {
  const render = (request: FastifyRequest, b: BatchRecord) =>
    toMessageBatch(b, { baseUrl: baseUrlOf(request, deps.publicUrl), liveCounts: deps.liveCounts ?? false });

  return async (app) => {
    app.get<{ Params: IdParams }>('/v1/messages/batches/:id', async (request) => {
      return render(request, await findBatch(deps.store, request.principal.workspace, request.params.id));
    });

    app.get('/v1/messages/batches', async (request) => {
      const q = parseListQuery(request.query as Record<string, unknown>);
      const { batches, hasMore } = await deps.store.listBatches(request.principal.workspace, q);
      return listPage(
        batches.map((b) => render(request, b)),
        hasMore,
      );
    });

    app.post<{ Params: IdParams }>('/v1/messages/batches/:id/cancel', async (request) => {
      const r = await deps.store.cancelBatch(
        request.principal.workspace,
        request.params.id,
        deps.clock.now(),
      );
      if (r.kind === 'not_found') throw batchNotFound(request.params.id);
      if (r.kind === 'ended') {
        throw new ApiError(
          'batch_already_ended',
          `message batch ${request.params.id} has already ended and cannot be canceled`,
        );
      }
      deps.notifier.notify('batch-canceled', r.batch.id);
      return render(request, r.batch);
    });

    app.delete<{ Params: IdParams }>('/v1/messages/batches/:id', async (request) => {
      const r = await deps.store.deleteBatch(
        request.principal.workspace,
        request.params.id,
        deps.clock.now(),
      );
      if (r.kind === 'not_found') throw batchNotFound(request.params.id);
      if (r.kind === 'not_ended') {
        throw new ApiError(
          'batch_not_ended',
          `message batch ${request.params.id} is still ${r.batch.status}; cancel it and wait for it to end before deleting`,
        );
      }
      return deletedMessageBatch(request.params.id);
    });
  };
}
