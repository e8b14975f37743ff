import type { Duplex } from 'node:stream';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import { authenticator, credentialOf, type Principal } from '../auth/authenticator.ts';
import { dashboardRoutes, KEY_COOKIE } from '../dashboard/dashboard-routes.ts';
import type { Clock } from '../domain/clock.ts';
import { randomId } from '../domain/ids.ts';
import { ApiError } from '../errors/api-error.ts';
import type { BargeMetrics } from '../metrics/barge-metrics.ts';
import type { PriceTable } from '../pricing/price-table.ts';
import type { Notifier } from '../queue/notifier.ts';
import type { Store } from '../store/store.ts';
import { errorEnvelope } from '../wire/error-envelope.ts';
import { isApiVersion } from '../wire/headers.ts';
import type { LaneStatus } from '../worker/lane.ts';
import { errorHandler } from './error-handler.ts';
import { batchRoutes } from './routes/batch-routes.ts';
import { createBatchRoute } from './routes/create-batch.ts';
import { lanesRoute } from './routes/lanes.ts';
import { metricsRoute } from './routes/metrics.ts';
import { progressRoutes } from './routes/progress.ts';
import { resultsRoute } from './routes/results.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

export interface ApiDeps {
  store: Store;
  clock: Clock;
  notifier: Notifier;
  logger: Logger;
  auth: 'none' | 'keys';
  publicUrl: string | null;
  batchTtlMs: number;
  maxBodyBytes?: number;
  /** The worker's lanes, when this process runs one. */
  lanes?: () => LaneStatus[];
  /** Serve the Message Batches API (default true); a worker-only process serves health, lanes and metrics only. */
  batchApi?: boolean;
  /** The process's Prometheus metrics, served at `/metrics`. */
  metrics?: BargeMetrics;
  /** Prices for the usage and cost figures. */
  prices: PriceTable;
  /** Show outcome counts in `request_counts` while a batch runs (an opt-in; the contract shows them at the end). */
  liveCounts?: boolean;
  /** Serve the web dashboard at /dashboard (default true when the batch API is served). */
  dashboard?: boolean;
}

/** The dependencies routes get: the API's, plus the request authenticator. */
export type RouteDeps = ApiDeps & { authenticate: ReturnType<typeof authenticator> };

/** Small JSON bodies (cancel, delete) only; the create route streams its own body. */
const SMALL_BODY_LIMIT = 1024 * 1024;

/** Builds the Fastify app serving the Message Batches API. */
export function buildApp(deps: ApiDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    genReqId: () => randomId('req'),
    logController: new LogController({ requestIdLogLabel: 'request_id', disableRequestLogging: true }),
    bodyLimit: SMALL_BODY_LIMIT,
    // A 256 MB upload on a slow link needs time; the socket still dies if the client goes silent.
    requestTimeout: 15 * 60_000,
    return503OnClosing: false,
    trustProxy: false,
    // Errors Fastify raises before routing (a malformed percent-encoding, a path parameter over maxParamLength)
    // would otherwise be Fastify's own JSON shape, without the envelope or a `request-id` header.
    frameworkErrors: (err, request, reply) => {
      reply.header('request-id', request.id);
      const apiErr =
        err.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? new ApiError(
              'not_found',
              `Not found: ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}`,
            )
          : err.code === 'FST_ERR_BAD_URL'
            ? new ApiError('invalid_request', 'The request path is not a valid URL (bad percent-encoding)')
            : err;
      errorHandler(apiErr, request, reply);
    },
    // Requests Node's HTTP parser rejects (malformed framing, a body longer than its Content-Length) never reach
    // Fastify: answer them with the envelope too, then close the connection as Node does.
    clientErrorHandler: clientErrorHandler,
  });
  const authenticate = authenticator(deps.auth, deps.store);

  app.decorateRequest('principal', null as unknown as Principal);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => {
    errorHandler(
      new ApiError('not_found', `Not found: ${request.method} ${request.url.split('?')[0]}`),
      request,
      reply,
    );
  });

  // Bodies other than the create upload: an empty body is fine whatever its content type (the Python SDK sends
  // `Content-Type: application/json` with no body on cancel and delete).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: SMALL_BODY_LIMIT }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new ApiError('invalid_json', 'Request body is not valid JSON'), undefined);
    }
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('request-id', request.id);
    // The Anthropic routes, Barge's own (lanes, progress, metrics) and the dashboard need a key; /healthz, the
    // dashboard's sign-in page and its script do not.
    const url = request.url;
    const api = url.startsWith('/v1/');
    const page = url === '/dashboard' || url.startsWith('/dashboard/');
    if (!api && !page && !url.startsWith('/barge/') && !url.startsWith('/metrics')) return;
    if (page && (url.startsWith('/dashboard/login') || url === '/dashboard/app.js')) return;
    try {
      request.principal = await authenticate(withDashboardKey(request));
    } catch (err) {
      // A browser without a (valid) key goes to the sign-in page.
      if (page && request.method === 'GET' && !url.startsWith('/dashboard/api/'))
        return reply.redirect('/dashboard/login');
      throw err;
    }
    if (api) checkVersion(request);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  if (deps.batchApi !== false) {
    app.register(createBatchRoute(deps));
    app.register(batchRoutes(deps));
    app.register(resultsRoute(deps));
    app.register(progressRoutes(deps));
  }
  app.register(lanesRoute(deps));
  app.register(metricsRoute(deps));
  if (deps.batchApi !== false && deps.dashboard !== false)
    app.register(dashboardRoutes({ ...deps, authenticate }));
  return app;
}

/**
 * The request's headers, with the dashboard's key cookie as `x-api-key` when no key was sent. Honoured for reads,
 * and for writes only with the dashboard's own `x-barge-dashboard` header: another site can make a browser send the
 * cookie (SameSite=Strict aside), but not a custom header without a CORS grant, which Barge never gives.
 */
function withDashboardKey(request: FastifyRequest): Record<string, string | string[] | undefined> {
  const h = request.headers;
  if (credentialOf(h) !== null || typeof h.cookie !== 'string') return h;
  const read = request.method === 'GET' || request.method === 'HEAD';
  if (!read && h['x-barge-dashboard'] !== '1') return h;
  for (const part of h.cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === KEY_COOKIE) {
      try {
        return { ...h, 'x-api-key': decodeURIComponent(part.slice(eq + 1).trim()) };
      } catch {
        return h;
      }
    }
  }
  return h;
}

/** Fastify's default client-error answer, in the Anthropic error envelope with a `request-id` header. */
function clientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    const [status, reason, message] =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'Request timed out']
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'Request Header Fields Too Large', 'Request headers are too large']
          : [400, 'Bad Request', 'Malformed HTTP request'];
    const id = randomId('req');
    const body = JSON.stringify(
      errorEnvelope(
        status === 431 ? 'request_too_large' : status === 408 ? 'timeout_error' : 'invalid_request_error',
        message,
        id,
      ),
    );
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `request-id: ${id}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/** `anthropic-version` is required, as on the hosted API; both live versions are accepted. */
function checkVersion(request: FastifyRequest): void {
  const v = request.headers['anthropic-version'];
  if (v === undefined || v === '')
    throw new ApiError('missing_version', 'anthropic-version: header is required');
  if (typeof v !== 'string' || !isApiVersion(v)) {
    throw new ApiError(
      'invalid_request',
      `anthropic-version: "${String(v).slice(0, 40)}" is not a supported version; use 2023-06-01 or 2026-10-21`,
    );
  }
}
