import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { BatchRecord } from '../../domain/batch.ts';
import { ApiError } from '../../errors/api-error.ts';
import { batchProgress, usageSummary } from '../../wire/batch-progress.ts';
import type { ApiDeps } from '../app.ts';
import { findBatch } from './batch-routes.ts';

/** How often the progress stream sends an event while a batch runs. */
const STREAM_INTERVAL_MS = 1000;
const MAX_CUSTOM_ID_CHARS = 64;

/**
 * Barge's own view of a batch, outside the Anthropic routes (and behind the same keys):
 * - `GET /barge/v1/batches/:id/progress`: live counts, rate, ETA, usage and cost so far;
 * - `GET /barge/v1/batches/:id/progress/stream`: the same as Server-Sent Events, every second until the batch ends;
 * - `GET /barge/v1/batches/:id/requests/:custom_id`: one request's state, attempts, last error and result;
 * - `GET /barge/v1/usage`: the workspace's usage and cost over all its batches.
 */
export function progressRoutes(deps: ApiDeps): FastifyPluginAsync {
  const costOf = deps.prices.cost.bind(deps.prices);
  const find = (request: FastifyRequest<{ Params: { id: string } }>): Promise<BatchRecord> =>
    findBatch(deps.store, request.principal.workspace, request.params.id);
  const progressOf = async (b: BatchRecord) =>
    batchProgress(b, await deps.store.batchUsage(b.seq), costOf, deps.clock.now());

  return async (app) => {
    app.get<{ Params: { id: string } }>('/barge/v1/batches/:id/progress', async (request) =>
      progressOf(await find(request)),
    );

    app.get<{ Params: { id: string } }>('/barge/v1/batches/:id/progress/stream', async (request, reply) => {
      const first = await find(request);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'request-id': String(request.id),
      });
      let closed = false;
      let timer: NodeJS.Timeout | null = null;
      const unsubscribe = deps.notifier.on('batch-ended', (id) => {
        if (id === first.id) void send();
      });
      const finish = () => {
        if (closed) return;
        closed = true;
        if (timer) clearTimeout(timer);
        unsubscribe();
        res.end();
      };
      request.raw.on('close', finish);
      const send = async (): Promise<void> => {
        if (closed) return;
        if (timer) clearTimeout(timer);
        timer = null;
        try {
          const b = await deps.store.getBatch(first.workspace, first.id);
          if (closed) return;
          if (!b) {
            res.write('event: gone\ndata: {}\n\n');
            return finish();
          }
          res.write(`event: progress\ndata: ${JSON.stringify(await progressOf(b))}\n\n`);
          if (b.status === 'ended') {
            res.write('event: end\ndata: {}\n\n');
            return finish();
          }
        } catch (err) {
          request.log.warn({ err }, 'progress stream: could not read the batch');
        }
        if (!closed) timer = setTimeout(() => void send(), STREAM_INTERVAL_MS);
      };
      await send();
    });

    app.get<{ Params: { id: string; custom_id: string } }>(
      '/barge/v1/batches/:id/requests/:custom_id',
      async (request) => {
        const b = await find(request);
        const customId = request.params.custom_id;
        const r =
          customId.length <= MAX_CUSTOM_ID_CHARS ? await deps.store.findRequest(b.seq, customId) : null;
        if (!r) {
          throw new ApiError(
            'not_found',
            `request ${customId.slice(0, MAX_CUSTOM_ID_CHARS)} not found in ${b.id}`,
          );
        }
        return {
          type: 'message_batch_request',
          batch_id: b.id,
          custom_id: r.customId,
          state: r.state,
          attempts: r.attempts,
          last_error: r.lastError,
          params: r.params === null ? null : (JSON.parse(r.params) as unknown),
          result: r.resultLine === null ? null : (JSON.parse(r.resultLine) as { result: unknown }).result,
        };
      },
    );

    app.get('/barge/v1/usage', async (request) => ({
      type: 'workspace_usage',
      workspace: request.principal.workspace,
      ...usageSummary(await deps.store.workspaceUsage(request.principal.workspace), costOf),
    }));
  };
}
