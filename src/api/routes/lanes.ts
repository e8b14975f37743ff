import type { FastifyPluginAsync } from 'fastify';
import type { ApiDeps } from '../app.ts';

/**
 * `GET /barge/v1/lanes`: a Barge extension (outside the Anthropic routes), the dispatch state of each
 * (backend, model) lane in this process: in flight, concurrency limit, bucket levels, pauses, outcome counts and
 * call latencies. Operational data, behind the same keys as the API.
 */
export function lanesRoute(deps: ApiDeps): FastifyPluginAsync {
  return async (app) => {
    app.get('/barge/v1/lanes', async () => ({ data: deps.lanes?.() ?? [] }));
  };
}
