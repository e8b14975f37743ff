import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { closestKey } from '../../src/routing/config-problems.ts';
import {
  defaultRoutingConfig,
  formatPath,
  loadRoutingConfig,
  parseRoutingConfig,
} from '../../src/routing/load-routing-config.ts';
import type { RoutingConfig } from '../../src/routing/routing-config.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const KEY = 'sk-ant-api03-test-key-value-that-must-never-appear-in-errors-0123456789';
const ENV = { ANTHROPIC_API_KEY: KEY };

const EXAMPLE_YAML = `backends:
  claude:   { type: anthropic, base_url: "https://api.anthropic.com", api_key_env: ANTHROPIC_API_KEY }
  local:    { type: openai, base_url: "http://127.0.0.1:8000/v1", max_concurrency: 64 }
  mock:     { type: mock }
routes:
  - { model: "claude-*", backend: claude }
  - { model: "*", backend: local }
`;

const EXAMPLE = {
  backends: {
    claude: { type: 'anthropic', base_url: 'https://api.anthropic.com', api_key_env: 'ANTHROPIC_API_KEY' },
    local: { type: 'openai', base_url: 'http://127.0.0.1:8000/v1', max_concurrency: 64 },
    mock: { type: 'mock' },
  },
  routes: [
    { model: 'claude-*', backend: 'claude' },
    { model: '*', backend: 'local' },
  ],
};

const NO_RATES = {
  requestsPerMinute: undefined,
  inputTokensPerMinute: undefined,
  outputTokensPerMinute: undefined,
};

const EXPECTED: RoutingConfig = {
  backends: new Map([
    [
      'claude',
      {
        name: 'claude',
        type: 'anthropic',
        maxConcurrency: 32,
        ...NO_RATES,
        maxAttempts: 5,
        attemptTimeoutMs: 600_000,
        adaptive: 'rate',
        baseUrl: 'https://api.anthropic.com',
        apiKeyEnv: 'ANTHROPIC_API_KEY',
        apiKey: KEY,
        headers: {},
        streamAboveMaxTokens: 21_333,
      },
    ],
    [
      'local',
      {
        name: 'local',
        type: 'openai',
        maxConcurrency: 64,
        ...NO_RATES,
        maxAttempts: 5,
        attemptTimeoutMs: 600_000,
        adaptive: 'latency',
        baseUrl: 'http://127.0.0.1:8000/v1',
        apiKeyEnv: undefined,
        apiKey: undefined,
        headers: {},
      },
    ],
    [
      'mock',
      {
        name: 'mock',
        type: 'mock',
        maxConcurrency: 64,
        ...NO_RATES,
        maxAttempts: 5,
        attemptTimeoutMs: 600_000,
        adaptive: 'latency',
        latency: undefined,
        errorRate: undefined,
      },
    ],
  ]),
  routes: [
    { model: 'claude-*', backend: 'claude' },
    { model: '*', backend: 'local' },
  ],
  prices: [],
};

function writeConfig(t: TestContext, name: string, content: string | Uint8Array): string {
  const path = join(tempDir(t), name);
  writeFileSync(path, content);
  return path;
}

/** The error message of parsing `value`, which must fail. */
function errorOf(value: unknown, env: Record<string, string | undefined> = ENV): string {
  try {
    parseRoutingConfig(value, 'test.yaml', env);
  } catch (err) {
    assert.ok(err instanceof Error);
    return err.message;
  }
  assert.fail('expected the config to be rejected');
}

function loadError(path: string, env: Record<string, string | undefined> = ENV): string {
  try {
    loadRoutingConfig(path, env);
  } catch (err) {
    assert.ok(err instanceof Error);
    return err.message;
  }
  assert.fail('expected the file to be rejected');
}

/** A copy of the example with one backend's settings replaced. */
function withBackend(name: string, backend: unknown): Record<string, unknown> {
  return { ...EXAMPLE, backends: { ...EXAMPLE.backends, [name]: backend } };
}

describe('routing config: valid files', () => {
  it('reads the example in YAML with every default filled', (t) => {
    const config = loadRoutingConfig(writeConfig(t, 'barge.yaml', EXAMPLE_YAML), ENV);
    assert.deepEqual(config, EXPECTED);
    assert.deepEqual([...config.backends.keys()], ['claude', 'local', 'mock']);
  });

  it('reads the same example in JSON to the same result', (t) => {
    const config = loadRoutingConfig(writeConfig(t, 'barge.json', JSON.stringify(EXAMPLE, null, 2)), ENV);
    assert.deepEqual(config, EXPECTED);
  });

  it('tries JSON then YAML for other extensions', (t) => {
    assert.deepEqual(loadRoutingConfig(writeConfig(t, 'barge.conf', JSON.stringify(EXAMPLE)), ENV), EXPECTED);
    assert.deepEqual(loadRoutingConfig(writeConfig(t, 'barge', EXAMPLE_YAML), ENV), EXPECTED);
  });

  it('takes every setting that is given', () => {
    const config = parseRoutingConfig(
      {
        backends: {
          vllm: {
            type: 'anthropic',
            base_url: 'http://127.0.0.1:8000/',
            headers: { 'x-team': 'research' },
            stream_above_max_tokens: 0,
            max_concurrency: 8,
            requests_per_minute: 600,
            input_tokens_per_minute: 100_000,
            output_tokens_per_minute: 20_000,
            max_attempts: 1,
            attempt_timeout: '90s',
          },
          hosted: {
            type: 'anthropic',
            base_url: 'https://api.anthropic.com/',
            adaptive: 'latency',
            attempt_timeout: 1500,
          },
          m: { type: 'mock', latency: '50ms-500ms', error_rate: 0.25, adaptive: 'rate' },
          fixed: { type: 'mock', latency: '200ms' },
          numeric: { type: 'mock', latency: 0 },
        },
        default: 'm',
      },
      'inline',
      {},
    );
    const vllm = config.backends.get('vllm');
    assert.ok(vllm?.type === 'anthropic');
    assert.equal(vllm.baseUrl, 'http://127.0.0.1:8000');
    assert.deepEqual(vllm.headers, { 'x-team': 'research' });
    assert.equal(vllm.streamAboveMaxTokens, 0);
    assert.equal(vllm.maxConcurrency, 8);
    assert.equal(vllm.requestsPerMinute, 600);
    assert.equal(vllm.inputTokensPerMinute, 100_000);
    assert.equal(vllm.outputTokensPerMinute, 20_000);
    assert.equal(vllm.maxAttempts, 1);
    assert.equal(vllm.attemptTimeoutMs, 90_000);
    // A local Anthropic-compatible server sends no rate headers: latency mode by default.
    assert.equal(vllm.adaptive, 'latency');
    assert.equal(vllm.apiKey, undefined);
    const hosted = config.backends.get('hosted');
    assert.equal(hosted?.adaptive, 'latency');
    assert.equal(hosted?.attemptTimeoutMs, 1500);
    assert.equal(hosted?.type === 'anthropic' && hosted.baseUrl, 'https://api.anthropic.com');
    const m = config.backends.get('m');
    assert.ok(m?.type === 'mock');
    assert.deepEqual(m.latency, { minMs: 50, maxMs: 500 });
    assert.equal(m.errorRate, 0.25);
    assert.equal(m.adaptive, 'rate');
    const fixed = config.backends.get('fixed');
    assert.deepEqual(fixed?.type === 'mock' && fixed.latency, { minMs: 200, maxMs: 200 });
    const numeric = config.backends.get('numeric');
    assert.deepEqual(numeric?.type === 'mock' && numeric.latency, { minMs: 0, maxMs: 0 });
    assert.deepEqual(config.routes, [{ model: '*', backend: 'm' }]);
  });

  it('appends default after the routes as a catch-all', () => {
    const config = parseRoutingConfig(
      { backends: EXAMPLE.backends, routes: [{ model: 'claude-*', backend: 'claude' }], default: 'mock' },
      'inline',
      ENV,
    );
    assert.deepEqual(config.routes, [
      { model: 'claude-*', backend: 'claude' },
      { model: '*', backend: 'mock' },
    ]);
  });

  it('the built-in default sends everything to one mock whose latency and error rate come from the flags', () => {
    const config = defaultRoutingConfig();
    assert.deepEqual([...config.backends.keys()], ['mock']);
    const mock = config.backends.get('mock');
    assert.ok(mock?.type === 'mock');
    assert.equal(mock.latency, undefined);
    assert.equal(mock.errorRate, undefined);
    assert.equal(mock.maxConcurrency, 64);
    assert.deepEqual(config.routes, [{ model: '*', backend: 'mock' }]);
  });

  it('an empty API key variable is fine when no backend names one', () => {
    const config = parseRoutingConfig(EXAMPLE, 'inline', { ANTHROPIC_API_KEY: KEY, OTHER: '' });
    assert.equal(config.backends.get('claude')?.type, 'anthropic');
  });
});

describe('routing config: errors', () => {
  it('names an unknown key and suggests the one meant', () => {
    assert.equal(
      errorOf(withBackend('local', { type: 'openai', base_url: 'http://x', max_concurency: 4 })),
      'config test.yaml: backends.local.max_concurency: unknown key (did you mean max_concurrency?)',
    );
    assert.match(
      errorOf(withBackend('local', { type: 'openai', base_url: 'http://x', maxConcurrency: 4 })),
      /backends\.local\.maxConcurrency: unknown key \(did you mean max_concurrency\?\)/,
    );
    assert.match(
      errorOf({ ...EXAMPLE, route: [] }),
      /^config test\.yaml: route: unknown key \(did you mean routes\?\)$/,
    );
    assert.match(
      errorOf({ ...EXAMPLE, routes: [{ model: '*', backend: 'mock', weight: 2 }] }),
      /routes\[0\]\.weight: unknown key; allowed here: model, backend/,
    );
    // A key valid for one type is a typo on another.
    assert.match(
      errorOf(withBackend('mock', { type: 'mock', base_url: 'http://x' })),
      /backends\.mock\.base_url: unknown key/,
    );
  });

  it('refuses an API key written into the file without echoing it', () => {
    const msg = errorOf(withBackend('claude', { type: 'anthropic', base_url: 'https://x', api_key: KEY }));
    assert.match(msg, /backends\.claude\.api_key: unknown key: .*api_key_env/);
    assert.ok(!msg.includes(KEY));
  });

  it('says what type was expected and what was found', () => {
    const local = (extra: object): Record<string, unknown> =>
      withBackend('local', { type: 'openai', base_url: 'http://x', ...extra });
    assert.equal(
      errorOf(local({ max_concurrency: 'x' })),
      'config test.yaml: backends.local.max_concurrency: expected an integer, got "x"',
    );
    assert.match(errorOf(local({ max_concurrency: 1.5 })), /max_concurrency: expected an integer, got 1\.5$/);
    assert.match(errorOf(local({ max_concurrency: 0 })), /max_concurrency: must be at least 1, got 0$/);
    assert.match(
      errorOf(local({ max_concurrency: 10_001 })),
      /max_concurrency: must be at most 10000, got 10001$/,
    );
    assert.match(errorOf(local({ max_attempts: 101 })), /max_attempts: must be at most 100/);
    assert.match(
      errorOf(local({ adaptive: 'fast' })),
      /adaptive: expected one of rate, latency, got "fast"$/,
    );
    assert.match(
      errorOf(withBackend('mock', { type: 'mock', error_rate: 2 })),
      /error_rate: must be at most 1, got 2$/,
    );
    assert.match(
      errorOf({ ...EXAMPLE, routes: 'claude' }),
      /^config test\.yaml: routes: expected a list, got "claude"$/,
    );
    assert.match(errorOf(withBackend('mock', true)), /backends\.mock: expected a mapping, got true$/);
    assert.match(
      errorOf([EXAMPLE]),
      /^config test\.yaml: expected a mapping with backends and routes .*got a list$/,
    );
  });

  it('names the backend types when a type is unknown or missing', () => {
    assert.equal(
      errorOf(withBackend('x', { type: 'vllm' })),
      'config test.yaml: backends.x.type: expected one of anthropic, openai, mock, got "vllm"',
    );
    assert.match(
      errorOf(withBackend('x', {})),
      /backends\.x\.type: is required: one of anthropic, openai, mock$/,
    );
  });

  it('names the route index and the unknown backend, listing the defined ones', () => {
    const routes = [
      { model: 'claude-*', backend: 'claude' },
      { model: '*', backend: 'lokal' },
    ];
    assert.equal(
      errorOf({ ...EXAMPLE, routes }),
      'config test.yaml: routes[1].backend: unknown backend "lokal"; defined backends: claude, local, mock',
    );
    assert.match(
      errorOf({ ...EXAMPLE, default: 'nope' }),
      /default: unknown backend "nope"; defined backends:/,
    );
  });

  it('requires base_url and checks it', () => {
    assert.equal(
      errorOf(withBackend('local', { type: 'openai' })),
      'config test.yaml: backends.local.base_url: is required',
    );
    const url = (base_url: string): string => errorOf(withBackend('local', { type: 'openai', base_url }));
    assert.match(url('ftp://host/v1'), /base_url: expected an http:\/\/ or https:\/\/ URL$/);
    assert.match(url('localhost:8000'), /base_url: expected an http:\/\/ or https:\/\/ URL$/);
    assert.match(url('not a url'), /base_url: expected an http:\/\/ or https:\/\/ URL$/);
    const withPassword = url('http://user:hunter2@host/v1');
    assert.match(withPassword, /base_url: must not contain a user name or password/);
    assert.ok(!withPassword.includes('hunter2'));
    assert.match(url('http://host/v1?key=1'), /base_url: must not have a query/);
  });

  it('rejects a bad duration', () => {
    assert.equal(
      errorOf(withBackend('mock', { type: 'mock', attempt_timeout: '10 minutes' })),
      'config test.yaml: backends.mock.attempt_timeout: expected a duration like 90s or 10m, ' +
        'or a number of milliseconds (1ms to 24d), got "10 minutes"',
    );
    assert.match(
      errorOf(withBackend('mock', { type: 'mock', attempt_timeout: 0 })),
      /attempt_timeout: expected/,
    );
    assert.match(
      errorOf(withBackend('mock', { type: 'mock', attempt_timeout: '30d' })),
      /attempt_timeout: expected/,
    );
    assert.match(
      errorOf(withBackend('mock', { type: 'mock', latency: 'fast' })),
      /latency: expected .*got "fast"$/,
    );
    assert.match(errorOf(withBackend('mock', { type: 'mock', latency: '500ms-50ms' })), /latency: expected/);
    assert.match(errorOf(withBackend('mock', { type: 'mock', latency: -5 })), /latency: expected/);
  });

  it('fails at start-up when a named key variable is missing or empty, naming both and never the key', () => {
    assert.equal(
      errorOf(EXAMPLE, {}),
      'config test.yaml: backends.claude.api_key_env: the environment variable ANTHROPIC_API_KEY is not set',
    );
    assert.match(
      errorOf(EXAMPLE, { ANTHROPIC_API_KEY: '' }),
      /claude\.api_key_env: .*ANTHROPIC_API_KEY is empty$/,
    );
    assert.match(errorOf(EXAMPLE, { ANTHROPIC_API_KEY: '  ' }), /ANTHROPIC_API_KEY is empty$/);
    // Variables are looked up as own entries only.
    const proto = withBackend('local', { type: 'openai', base_url: 'http://x', api_key_env: 'constructor' });
    assert.match(errorOf(proto), /local\.api_key_env: the environment variable constructor is not set/);

    // One key present, another missing: the present one's value appears nowhere.
    const both = withBackend('local', { type: 'openai', base_url: 'http://x', api_key_env: 'LOCAL_KEY' });
    const msg = errorOf(both, { ANTHROPIC_API_KEY: KEY });
    assert.match(msg, /backends\.local\.api_key_env: the environment variable LOCAL_KEY is not set/);
    assert.ok(!msg.includes(KEY));

    const broken = errorOf(EXAMPLE, { ANTHROPIC_API_KEY: `${KEY}\nx-evil: 1` });
    assert.match(broken, /ANTHROPIC_API_KEY contains a line break/);
    assert.ok(!broken.includes(KEY));

    // The key pasted where its variable's name belongs is refused without being echoed.
    const pasted = errorOf(
      withBackend('claude', { type: 'anthropic', base_url: 'https://x', api_key_env: KEY }),
    );
    assert.match(pasted, /backends\.claude\.api_key_env: expected the NAME of an environment variable/);
    assert.ok(!pasted.includes(KEY));
  });

  it('checks headers without echoing their values', () => {
    const secret = 'Bearer abc123-secret';
    const headers = (h: unknown): string =>
      errorOf(withBackend('local', { type: 'openai', base_url: 'http://x', headers: h }));
    const crlf = headers({ authorization: `${secret}\r\nx-evil: 1` });
    assert.match(crlf, /headers\.authorization: a header value must not contain line breaks or NUL$/);
    assert.ok(!crlf.includes(secret));
    const wrongType = headers({ authorization: 42 });
    assert.match(wrongType, /headers\.authorization: expected a string, got a number$/);
    assert.match(headers({ 'bad header': 'x' }), /headers\["bad header"\]: invalid header name$/);
    assert.match(headers({ Host: 'x' }), /headers\.Host: this header is set by the HTTP client/);
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`x-h${i}`, 'v']));
    assert.match(headers(many), /headers: at most 32 headers$/);
  });

  it('refuses an empty config, routes that cannot run anything, and bad names', () => {
    assert.match(errorOf({ backends: {}, default: 'x' }), /backends: define at least one backend/);
    assert.equal(
      errorOf({ backends: EXAMPLE.backends }),
      'config test.yaml: routes: no routes and no default, so no request could run: add routes such as ' +
        '{ model: "*", backend: NAME }, or default: NAME',
    );
    assert.match(errorOf({ backends: EXAMPLE.backends, routes: [] }), /routes: no routes and no default/);
    assert.match(
      errorOf({ backends: { 'a b': { type: 'mock' } }, default: 'a b' }),
      /backends\["a b"\]: invalid backend name: use 1 to 64 letters/,
    );
    // A `__proto__` key cannot become a backend (a record would drop it): it is named as the problem.
    assert.match(
      errorOf(JSON.parse('{"backends": {"__proto__": {"type": "mock"}}, "default": "__proto__"}')),
      /backends: invalid backend name "__proto__": a reserved word$/m,
    );
  });

  it('bounds the route globs', () => {
    const glob = (model: string): string => errorOf({ ...EXAMPLE, routes: [{ model, backend: 'mock' }] });
    assert.match(glob('*a*b*c*d'), /routes\[0\]\.model: has 4 wildcards; at most 3 are allowed/);
    assert.match(glob(''), /routes\[0\]\.model: must have at least 1 characters/);
    assert.match(glob('x'.repeat(257)), /routes\[0\]\.model: must have at most 256 characters/);
  });

  it('lists a few problems, one per line, and counts the rest', () => {
    const backends = Object.fromEntries(
      Array.from({ length: 8 }, (_, i) => [`b${i}`, { type: 'mock', typo: 1 }]),
    );
    const lines = errorOf({ backends, default: 'b0' }).split('\n');
    assert.equal(lines.length, 6);
    assert.ok(lines.slice(0, 5).every((l) => /^config test\.yaml: backends\.b\d\.typo: unknown key/.test(l)));
    assert.equal(lines[5], 'config test.yaml: and 3 more problems');
  });
});

describe('routing config: files', () => {
  it('reports a YAML syntax error with its line and column, without quoting the file', (t) => {
    const path = writeConfig(
      t,
      'barge.yaml',
      'backends:\n  mock: { type: mock }\nroutes:\n  - { model: "*", backend: mock\n  headers: secret-value\n',
    );
    const msg = loadError(path);
    assert.match(
      msg,
      new RegExp(
        `^config ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: YAML syntax error at line \\d+, column \\d+: \\S`,
      ),
    );
    assert.equal(msg.split('\n').length, 1);
    assert.ok(!msg.includes('secret-value'));
    const dup = loadError(
      writeConfig(t, 'dup.yml', 'backends:\n  a: { type: mock }\n  a: { type: mock }\ndefault: a\n'),
    );
    assert.match(dup, /YAML syntax error at line 3, column 3: Map keys must be unique$/);
  });

  it('reports a JSON syntax error with its line and column', (t) => {
    const msg = loadError(
      writeConfig(t, 'barge.json', '{\n  "backends": {\n    "mock": {"type": "mock"}\n  "x": 1\n}'),
    );
    assert.match(msg, /: JSON syntax error at line 4, column 3: Expected ',' or '}' after property value$/);
    const quoted = loadError(writeConfig(t, 'q.json', '{"headers": {"authorization": secret-value}}'));
    assert.match(quoted, /: JSON syntax error/);
    assert.ok(!quoted.includes('secret-value'));
  });

  it('refuses an empty file, a file of comments, a missing file and a directory', (t) => {
    assert.match(loadError(writeConfig(t, 'empty.yaml', '')), /: the file is empty; it needs backends/);
    assert.match(loadError(writeConfig(t, 'blank.json', '  \n\t\n')), /: the file is empty/);
    assert.match(loadError(writeConfig(t, 'comments.yaml', '# nothing yet\n')), /: the file has no settings/);
    const dir = tempDir(t);
    assert.equal(
      loadError(join(dir, 'nope.yaml')),
      `config ${join(dir, 'nope.yaml')}: cannot read the file: no such file`,
    );
    assert.match(loadError(dir), /: cannot read the file: is a directory, not a file$/);
  });

  it('refuses a file over 1 MiB and text that is not UTF-8', (t) => {
    const big = `${EXAMPLE_YAML}#${'x'.repeat(1024 * 1024)}\n`;
    assert.match(loadError(writeConfig(t, 'big.yaml', big)), /: the file is larger than 1048576 bytes$/);
    assert.match(
      loadError(writeConfig(t, 'latin1.yaml', Buffer.from([0x62, 0x3a, 0x20, 0xe9, 0x0a]))),
      /: the file is not valid UTF-8 text$/,
    );
  });

  it('validation errors from a file name the file', (t) => {
    const path = writeConfig(
      t,
      'barge.yml',
      EXAMPLE_YAML.replace('max_concurrency: 64', 'max_concurrency: x'),
    );
    assert.equal(
      loadError(path),
      `config ${path}: backends.local.max_concurrency: expected an integer, got "x"`,
    );
  });
});

describe('routing config: helpers', () => {
  it('formats paths the way the file reads', () => {
    assert.equal(formatPath(['backends', 'local', 'max_concurrency']), 'backends.local.max_concurrency');
    assert.equal(formatPath(['routes', 2, 'backend']), 'routes[2].backend');
    assert.equal(formatPath(['headers', 'a b']), 'headers["a b"]');
  });

  it('suggests a key only when it is close', () => {
    const known = ['max_concurrency', 'max_attempts', 'base_url'];
    assert.equal(closestKey('max_attempt', known), 'max_attempts');
    assert.equal(closestKey('BASE-URL', known), 'base_url');
    assert.equal(closestKey('colour', known), undefined);
  });
});
