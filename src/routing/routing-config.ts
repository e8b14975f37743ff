import { z } from 'zod';
import { type DurationRange, parseDuration, parseDurationRange } from '../domain/duration.ts';
import type { ModelPrice } from '../pricing/price-table.ts';
import { compileModelGlob, globWildcards, MAX_GLOB_WILDCARDS } from './router.ts';

/*
 * The routing file (`barge serve --config FILE`): which backends exist, and which requests go where by the
 * request's `model`. The file is snake_case and every object is strict, so a typo is an error at start-up rather
 * than a setting silently ignored. `RoutingConfig` is the normalised camelCase result with the defaults filled.
 */

// ---- The normalised result ----

/** How a lane learns its concurrency (architecture §4.4, §4.5): from 429s and rate headers, or from latency. */
export type AdaptiveMode = 'rate' | 'latency';

/** The limits every backend has. A per-minute budget is undefined when the operator set none. */
export interface BackendLimits {
  maxConcurrency: number;
  requestsPerMinute: number | undefined;
  inputTokensPerMinute: number | undefined;
  outputTokensPerMinute: number | undefined;
  /** Attempts per request, the first included. */
  maxAttempts: number;
  attemptTimeoutMs: number;
  adaptive: AdaptiveMode;
}

/** What the two HTTP backend types share. */
export interface UpstreamFields {
  /** http(s) URL without a trailing slash. */
  baseUrl: string;
  /** The NAME of the environment variable the key came from (safe to log). */
  apiKeyEnv: string | undefined;
  /** The key itself, read from `apiKeyEnv` at load. Never log it. */
  apiKey: string | undefined;
  /** Extra request headers, sent as given. */
  headers: Readonly<Record<string, string>>;
}

export interface AnthropicBackendConfig extends BackendLimits, UpstreamFields {
  name: string;
  type: 'anthropic';
  /** Requests with a larger `max_tokens` are sent streaming, as the SDKs require for long generations. */
  streamAboveMaxTokens: number;
}

export interface OpenAIBackendConfig extends BackendLimits, UpstreamFields {
  name: string;
  type: 'openai';
}

export interface MockBackendConfig extends BackendLimits {
  name: string;
  type: 'mock';
  /** Undefined: take `--mock-latency`. */
  latency: DurationRange | undefined;
  /** Undefined: take `--mock-error-rate`. */
  errorRate: number | undefined;
}

export type BackendConfig = AnthropicBackendConfig | OpenAIBackendConfig | MockBackendConfig;
export type BackendType = BackendConfig['type'];

/** `model` is a glob (see router.ts); the first matching route wins. */
export interface RouteRule {
  model: string;
  backend: string;
}

export interface RoutingConfig {
  /** By name, in file order. */
  backends: ReadonlyMap<string, BackendConfig>;
  /** In order; a top-level `default` is already appended as `{ model: '*', backend }`. */
  routes: readonly RouteRule[];
  /** Price entries that come before the built-in Claude list prices (first match wins). */
  prices: readonly ModelPrice[];
}

// ---- Bounds and defaults ----

const MAX_BACKENDS = 100;
const MAX_ROUTES = 1000;
const MAX_HEADERS = 32;
const MAX_TIMER_MS = 2 ** 31 - 1; // Node fires longer timers after 1 ms
const DEFAULT_MAX_CONCURRENCY: Record<BackendType, number> = { mock: 64, anthropic: 32, openai: 16 };
const DEFAULT_MAX_ATTEMPTS = 5;
const DEFAULT_ATTEMPT_TIMEOUT_MS = 10 * 60_000; // the SDKs' own request timeout (spec §9.3)
const DEFAULT_STREAM_ABOVE_MAX_TOKENS = 21_333;
const HOSTED_ANTHROPIC_HOST = 'api.anthropic.com';

const NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
// Framing headers belong to the HTTP client; setting them by hand breaks requests in confusing ways.
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
]);

// ---- Describing values in messages ----

/**
 * A short description of a value for an error message. Long strings are not echoed (a misplaced key is long),
 * and `secret` values (header values) are described by kind only.
 */
export function describeValue(value: unknown, secret = false): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (secret) return `a ${typeof value}`;
  if (typeof value === 'string')
    return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  return String(value);
}

// ---- Field schemas ----

function tryOr<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

const isTimerMs = (ms: number): boolean => Number.isInteger(ms) && ms >= 0 && ms <= MAX_TIMER_MS;

/** `90s`, `10m`, or a number of milliseconds. */
const attemptTimeoutSchema = z.unknown().transform((v, ctx): number => {
  const ms =
    typeof v === 'number'
      ? v
      : typeof v === 'string' && v.length <= 32
        ? tryOr(() => parseDuration(v))
        : undefined;
  if (ms !== undefined && isTimerMs(ms) && ms >= 1) return ms;
  ctx.addIssue({
    code: 'custom',
    message: `expected a duration like 90s or 10m, or a number of milliseconds (1ms to 24d), got ${describeValue(v)}`,
  });
  return z.NEVER;
});

/** `200ms`, a range `50ms-500ms`, or a number of milliseconds. */
const latencySchema = z.unknown().transform((v, ctx): DurationRange => {
  const range =
    typeof v === 'number'
      ? { minMs: v, maxMs: v }
      : typeof v === 'string' && v.length <= 64
        ? tryOr(() => parseDurationRange(v))
        : undefined;
  if (range && isTimerMs(range.minMs) && isTimerMs(range.maxMs)) return range;
  ctx.addIssue({
    code: 'custom',
    message: `expected a duration like 200ms or a range like 50ms-500ms (up to 24d), got ${describeValue(v)}`,
  });
  return z.NEVER;
});

/** Checks a backend's base URL and returns it without trailing slashes. Throws with the reason. */
function normaliseBaseUrl(text: string): string {
  const url = URL.canParse(text) ? new URL(text) : null;
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    throw new Error('expected an http:// or https:// URL');
  // Credentials in a URL end up in logs; the key belongs in api_key_env.
  if (url.username || url.password)
    throw new Error('must not contain a user name or password: name the key with api_key_env');
  if (url.search || url.hash) throw new Error('must not have a query (?...) or fragment (#...)');
  return url.href.replace(/\/+$/, '');
}

const baseUrlSchema = z
  .string()
  .max(2048)
  .transform((s, ctx): string => {
    try {
      return normaliseBaseUrl(s.trim());
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });

const envNameSchema = z.string().regex(ENV_NAME, {
  error:
    'expected the NAME of an environment variable (letters, digits and "_", not starting with a digit), ' +
    'not the key itself',
});

const headersSchema = z
  .record(
    z
      .string()
      .regex(HEADER_NAME, { error: 'invalid header name' })
      .refine((n) => !RESERVED_HEADERS.has(n.toLowerCase()), {
        error: 'this header is set by the HTTP client and cannot be configured',
      }),
    z
      .string()
      .max(8192)
      .regex(/^[^\r\n\0]*$/, { error: 'a header value must not contain line breaks or NUL' }),
  )
  .refine((h) => Object.keys(h).length <= MAX_HEADERS, { error: `at most ${MAX_HEADERS} headers` });

// zod reports a non-number given for an integer as "expected number"; this message keeps "integer".
const INT = { error: 'expected an integer' };
const perMinuteSchema = z.int(INT).min(1).max(1e12);

const limitsShape = {
  max_concurrency: z.int(INT).min(1).max(10_000).optional(),
  requests_per_minute: perMinuteSchema.optional(),
  input_tokens_per_minute: perMinuteSchema.optional(),
  output_tokens_per_minute: perMinuteSchema.optional(),
  max_attempts: z.int(INT).min(1).max(100).optional(),
  attempt_timeout: attemptTimeoutSchema.optional(),
  adaptive: z.enum(['rate', 'latency']).optional(),
};

const upstreamShape = {
  base_url: baseUrlSchema,
  api_key_env: envNameSchema.optional(),
  headers: headersSchema.optional(),
};

export const AnthropicBackendSchema = z.strictObject({
  type: z.literal('anthropic'),
  ...limitsShape,
  ...upstreamShape,
  stream_above_max_tokens: z.int(INT).min(0).max(10_000_000).optional(),
});

export const OpenAIBackendSchema = z.strictObject({
  type: z.literal('openai'),
  ...limitsShape,
  ...upstreamShape,
});

export const MockBackendSchema = z.strictObject({
  type: z.literal('mock'),
  ...limitsShape,
  latency: latencySchema.optional(),
  error_rate: z.number().min(0).max(1).optional(),
});

const BackendSchema = z.discriminatedUnion('type', [
  AnthropicBackendSchema,
  OpenAIBackendSchema,
  MockBackendSchema,
]);
export const BACKEND_TYPES: readonly BackendType[] = ['anthropic', 'openai', 'mock'];

const globSchema = z
  .string()
  .min(1)
  .max(256)
  .superRefine((glob, ctx) => {
    const n = globWildcards(glob);
    if (n > MAX_GLOB_WILDCARDS) {
      ctx.addIssue({
        code: 'custom',
        message: `has ${n} wildcards; at most ${MAX_GLOB_WILDCARDS} are allowed, since each one multiplies the matching time`,
      });
    } else if (tryOr(() => compileModelGlob(glob)) === undefined) {
      ctx.addIssue({ code: 'custom', message: 'is not a valid glob pattern' });
    }
  });

export const RouteSchema = z.strictObject({ model: globSchema, backend: z.string().max(64) });

const dollars = z.number().min(0).max(100_000);
/** A price entry: standard list prices in US dollars per million tokens (batches cost half). */
export const PriceSchema = z.strictObject({
  model: globSchema,
  input: dollars,
  output: dollars,
  cache_write: dollars.optional(),
  cache_write_1h: dollars.optional(),
  cache_read: dollars.optional(),
});

function unknownBackend(name: string, defined: string[]): string {
  const list = defined.length > 0 ? `defined backends: ${defined.join(', ')}` : 'no backends are defined';
  return `unknown backend ${describeValue(name)}; ${list}`;
}

/** The file as written (snake_case), durations already in milliseconds. */
export const RoutingFileSchema = z
  .strictObject({
    backends: z.preprocess(
      (v, ctx) => {
        // A record drops a `__proto__` key (assigning it would set the prototype): say so, rather than report a file
        // that defines it as defining no such backend.
        if (v !== null && typeof v === 'object' && Object.hasOwn(v, '__proto__'))
          ctx.addIssue({
            code: 'custom',
            message: 'invalid backend name "__proto__": a reserved word',
            input: v,
          });
        return v;
      },
      z
        .record(
          z.string().regex(NAME, { error: 'invalid backend name: use 1 to 64 letters, digits, "_" or "-"' }),
          BackendSchema,
        )
        .refine((b) => Object.keys(b).length >= 1, { error: 'define at least one backend' })
        .refine((b) => Object.keys(b).length <= MAX_BACKENDS, { error: `at most ${MAX_BACKENDS} backends` }),
    ),
    routes: z.array(RouteSchema).max(MAX_ROUTES).optional(),
    default: z.string().max(64).optional(),
    prices: z.array(PriceSchema).max(MAX_ROUTES).optional(),
  })
  .superRefine((file, ctx) => {
    const defined = Object.keys(file.backends);
    const known = (name: string): boolean => Object.hasOwn(file.backends, name);
    file.routes?.forEach((r, i) => {
      if (!known(r.backend))
        ctx.addIssue({
          code: 'custom',
          path: ['routes', i, 'backend'],
          message: unknownBackend(r.backend, defined),
        });
    });
    if (file.default !== undefined && !known(file.default))
      ctx.addIssue({ code: 'custom', path: ['default'], message: unknownBackend(file.default, defined) });
    if ((file.routes?.length ?? 0) === 0 && file.default === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['routes'],
        message:
          'no routes and no default, so no request could run: add routes such as ' +
          '{ model: "*", backend: NAME }, or default: NAME',
      });
    }
  });
export type RoutingFile = z.output<typeof RoutingFileSchema>;

// ---- Normalisation ----

export type Env = Readonly<Record<string, string | undefined>>;

/** One thing wrong with the file, at a path such as `['backends', 'local', 'max_concurrency']`. */
export interface ConfigProblem {
  path: readonly PropertyKey[];
  message: string;
}

type FileBackend = RoutingFile['backends'][string];

/**
 * The hosted Anthropic API sends `anthropic-ratelimit-*` headers and 429s, which a rate-based limiter follows.
 * Local servers (vLLM, llama.cpp, Ollama) send no rate-limit headers and show overload as rising latency, so
 * only a latency-based limiter sees it (architecture §4.2, §4.4).
 */
function defaultAdaptive(b: FileBackend): AdaptiveMode {
  return b.type === 'anthropic' && new URL(b.base_url).hostname === HOSTED_ANTHROPIC_HOST
    ? 'rate'
    : 'latency';
}

function limitsOf(b: FileBackend): BackendLimits {
  return {
    maxConcurrency: b.max_concurrency ?? DEFAULT_MAX_CONCURRENCY[b.type],
    requestsPerMinute: b.requests_per_minute,
    inputTokensPerMinute: b.input_tokens_per_minute,
    outputTokensPerMinute: b.output_tokens_per_minute,
    maxAttempts: b.max_attempts ?? DEFAULT_MAX_ATTEMPTS,
    attemptTimeoutMs: b.attempt_timeout ?? DEFAULT_ATTEMPT_TIMEOUT_MS,
    adaptive: b.adaptive ?? defaultAdaptive(b),
  };
}

/** Reads the key named by `api_key_env`. The message names the variable, never its value. */
function readKey(envName: string, env: Env): { key: string } | { problem: string } {
  const value = Object.hasOwn(env, envName) ? env[envName] : undefined;
  if (value === undefined) return { problem: `the environment variable ${envName} is not set` };
  if (value.trim() === '') return { problem: `the environment variable ${envName} is empty` };
  // A line break in a key would split the HTTP header it is sent in.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this rejects
  if (/[\u0000-\u001f\u007f]/.test(value))
    return {
      problem: `the environment variable ${envName} contains a line break or other control character`,
    };
  return { key: value };
}

export type NormaliseResult = { ok: true; config: RoutingConfig } | { ok: false; problems: ConfigProblem[] };

/** Fills the defaults, resolves `api_key_env` from `env` and appends `default` as a final catch-all route. */
export function normaliseRoutingFile(file: RoutingFile, env: Env): NormaliseResult {
  const problems: ConfigProblem[] = [];
  const backends = new Map<string, BackendConfig>();
  for (const [name, b] of Object.entries(file.backends)) {
    const limits = limitsOf(b);
    if (b.type === 'mock') {
      backends.set(name, { name, type: 'mock', ...limits, latency: b.latency, errorRate: b.error_rate });
      continue;
    }
    let apiKey: string | undefined;
    if (b.api_key_env !== undefined) {
      const r = readKey(b.api_key_env, env);
      if ('key' in r) apiKey = r.key;
      else problems.push({ path: ['backends', name, 'api_key_env'], message: r.problem });
    }
    const upstream: UpstreamFields = {
      baseUrl: b.base_url,
      apiKeyEnv: b.api_key_env,
      apiKey,
      headers: { ...b.headers },
    };
    backends.set(
      name,
      b.type === 'anthropic'
        ? {
            name,
            type: 'anthropic',
            ...limits,
            ...upstream,
            streamAboveMaxTokens: b.stream_above_max_tokens ?? DEFAULT_STREAM_ABOVE_MAX_TOKENS,
          }
        : { name, type: 'openai', ...limits, ...upstream },
    );
  }
  if (problems.length > 0) return { ok: false, problems };
  const routes: RouteRule[] = (file.routes ?? []).map((r) => ({ model: r.model, backend: r.backend }));
  if (file.default !== undefined) routes.push({ model: '*', backend: file.default });
  const prices = (file.prices ?? []).map((p) => ({
    model: p.model,
    input: p.input,
    output: p.output,
    ...(p.cache_write !== undefined && { cacheWrite: p.cache_write }),
    ...(p.cache_write_1h !== undefined && { cacheWrite1h: p.cache_write_1h }),
    ...(p.cache_read !== undefined && { cacheRead: p.cache_read }),
  }));
  return { ok: true, config: { backends, routes, prices } };
}
