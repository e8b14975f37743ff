import type { FastifyPluginAsync } from 'fastify';
import type { ApiDeps } from '../app.ts';

/**
 * `GET /metrics`: Prometheus text format, behind the same keys as the API when `--auth keys` (Prometheus sends one
 * with `authorization: { credentials: … }`). Served by every role, so each worker can be scraped too.
 */
export function metricsRoute(deps: ApiDeps): FastifyPluginAsync {
  return async (app) => {
    app.get('/metrics', async (_request, reply) => {
      if (!deps.metrics) return reply.code(404).send();
      const { contentType, body } = await deps.metrics.render();
      return reply.type(contentType).send(body);
    });
  };
}
