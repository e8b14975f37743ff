import type { ServeConfig } from '../config/config.ts';
import { Router } from '../routing/router.ts';
import type {
  AnthropicBackendConfig,
  BackendConfig,
  OpenAIBackendConfig,
  RoutingConfig,
} from '../routing/routing-config.ts';
import { AnthropicBackend } from './anthropic/anthropic-backend.ts';
import type { BackendRoutes, RoutedBackend } from './backend-routes.ts';
import { MockBackend } from './mock/mock-backend.ts';
import type { ModelBackend } from './model-backend.ts';
import { OpenAiBackend } from './openai/openai-backend.ts';
import type { UpstreamOptions } from './upstream-options.ts';

/** The backend a config entry names, with its connection pool sized to its concurrency. */
function upstream(c: AnthropicBackendConfig | OpenAIBackendConfig): UpstreamOptions {
  return {
    name: c.name,
    baseUrl: c.baseUrl,
    ...(c.apiKey !== undefined && { apiKey: c.apiKey }),
    headers: { ...c.headers },
    maxConnections: c.maxConcurrency,
    attemptTimeoutMs: c.attemptTimeoutMs,
  };
}

function createBackend(c: BackendConfig, serve: ServeConfig): ModelBackend {
  switch (c.type) {
    case 'anthropic':
      return new AnthropicBackend({ ...upstream(c), streamAboveMaxTokens: c.streamAboveMaxTokens });
    case 'openai':
      return new OpenAiBackend(upstream(c));
    case 'mock':
      return new MockBackend({
        latency: c.latency ?? serve.mockLatency,
        errorRate: c.errorRate ?? serve.mockErrorRate,
      });
  }
}

function routed(c: BackendConfig, serve: ServeConfig): RoutedBackend {
  return {
    name: c.name,
    backend: createBackend(c, serve),
    laneLimits: {
      maxConcurrency: c.maxConcurrency,
      // The in-process model needs no slow start: there is no upstream to spare.
      ...(c.type === 'mock' && { initialConcurrency: c.maxConcurrency }),
      ...(c.requestsPerMinute !== undefined && { requestsPerMinute: c.requestsPerMinute }),
      ...(c.inputTokensPerMinute !== undefined && { inputTokensPerMinute: c.inputTokensPerMinute }),
      ...(c.outputTokensPerMinute !== undefined && { outputTokensPerMinute: c.outputTokensPerMinute }),
      latencyAware: c.adaptive === 'latency',
    },
    maxConcurrency: c.maxConcurrency,
    maxAttempts: c.maxAttempts,
    attemptTimeoutMs: c.attemptTimeoutMs,
    passThroughUnknownParams: c.type === 'anthropic',
  };
}

/** Builds every configured backend and the router over them. */
export function buildBackendRoutes(config: RoutingConfig, serve: ServeConfig): BackendRoutes {
  const byName = new Map<string, RoutedBackend>();
  for (const [name, c] of config.backends) byName.set(name, routed(c, serve));
  const router = new Router(config);
  const all = [...byName.values()];
  return {
    resolve(model) {
      const target = router.route(model);
      return target ? (byName.get(target.backend) ?? null) : null;
    },
    all: () => all,
  };
}
