import { readFileSync } from 'node:fs';
import type { FastifyPluginAsync } from 'fastify';
import type { RouteDeps } from '../api/app.ts';
import { findBatch } from '../api/routes/batch-routes.ts';
import { sendResults } from '../api/routes/results.ts';
import { ApiError } from '../errors/api-error.ts';
import { toMessageBatch } from '../wire/message-batch.ts';
import { PAGE_HEADERS } from './layout.ts';
import { batchesPage, batchPage, loginPage, WORKERS_SEEN_WITHIN_S, workersPage } from './pages.ts';

const APP_JS = readFileSync(new URL('./assets/app.js', import.meta.url), 'utf8');
const LIST_LIMIT = 100;
const ERRORED_SHOWN = 100;
/** The cookie that carries a dashboard user's key (HttpOnly, SameSite=Strict: see `app.ts` for how it is honoured). */
export const KEY_COOKIE = 'barge_key';

/**
 * The operator's web pages at `/dashboard`: server-rendered (every value escaped), with one small script. Behind the
 * same keys as the API: with `--auth keys` a user signs in once with a key, kept in a cookie.
 */
export function dashboardRoutes(deps: RouteDeps): FastifyPluginAsync {
  return async (app) => {
    app.get('/dashboard/app.js', async (_request, reply) =>
      reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(APP_JS),
    );
    app.get('/dashboard/login', async (_request, reply) =>
      reply.headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(loginPage()),
    );
    app.post<{ Body: { key?: unknown } }>('/dashboard/login', async (request, reply) => {
      const key = request.body?.key;
      if (typeof key !== 'string' || key.length === 0 || key.length > 512 || /[^\x21-\x7e]/.test(key)) {
        throw new ApiError('invalid_request', 'key: paste the whole API key');
      }
      await deps.authenticate({ 'x-api-key': key });
      const secure = request.protocol === 'https' ? '; Secure' : '';
      reply.header(
        'set-cookie',
        `${KEY_COOKIE}=${encodeURIComponent(key)}; Path=/; HttpOnly; SameSite=Strict${secure}`,
      );
      return { ok: true };
    });

    app.get('/dashboard', async (request, reply) => {
      const { batches } = await deps.store.listBatches(request.principal.workspace, { limit: LIST_LIMIT });
      return reply.headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(batchesPage(batches));
    });
    app.get('/dashboard/api/batches', async (request) => {
      const { batches } = await deps.store.listBatches(request.principal.workspace, { limit: LIST_LIMIT });
      return {
        data: batches.map((b) => ({
          ...toMessageBatch(b, { baseUrl: '', liveCounts: true }),
          total: b.total,
        })),
      };
    });
    app.get<{ Params: { id: string } }>('/dashboard/batches/:id', async (request, reply) => {
      const b = await findBatch(deps.store, request.principal.workspace, request.params.id);
      const errored = await deps.store.erroredRequests(b.seq, ERRORED_SHOWN);
      return reply.headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(batchPage(b, errored));
    });
    app.get<{ Params: { id: string } }>('/dashboard/batches/:id/results', async (request, reply) => {
      reply.header(
        'content-disposition',
        `attachment; filename="${request.params.id.replace(/[^\w-]/g, '')}.jsonl"`,
      );
      return sendResults(deps, request.principal.workspace, request.params.id, reply);
    });
    app.get('/dashboard/workers', async (_request, reply) => {
      const now = deps.clock.now();
      const workers = await deps.store.listWorkers(now - WORKERS_SEEN_WITHIN_S * 1000);
      return reply.headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(workersPage(workers, now));
    });
  };
}
