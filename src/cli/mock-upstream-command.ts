import { Command, Option } from 'commander';
import { parseDurationRange } from '../domain/duration.ts';
import type { MockUpstreamOptions } from '../mock-upstream/mock-upstream-server.ts';

/** An option whose environment variable is `BARGE_MOCK_UPSTREAM_` + the flag in capitals. */
function envOption(flags: string, description: string): Option {
  const long = /--([a-z0-9-]+)/.exec(flags)![1]!;
  return new Option(flags, description).env(`BARGE_MOCK_UPSTREAM_${long.replace(/-/g, '_').toUpperCase()}`);
}

function wholeNumber(name: string, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v.trim());
    if (!/^\d+$/.test(v.trim()) || n > max) {
      throw new Error(
        `--${name} must be a whole number${max < Number.MAX_SAFE_INTEGER ? ` up to ${max}` : ''}, got "${v}"`,
      );
    }
    return n;
  };
}

function seconds(name: string) {
  return (v: string): number => {
    const n = Number(v.trim());
    if (!/^\d+(\.\d+)?$/.test(v.trim()) || n > 86_400) {
      throw new Error(`--${name} must be a number of seconds from 0 to 86400, got "${v}"`);
    }
    return n;
  };
}

function positiveNumber(name: string) {
  const parse = wholeNumber(name);
  return (v: string): number => {
    const n = parse(v);
    if (n === 0) throw new Error(`--${name} must be at least 1 (leave it out for no limit), got "${v}"`);
    return n;
  };
}

function rate(name: string) {
  return (v: string): number => {
    const n = Number(v.trim());
    if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) {
      throw new Error(`--${name} must be a number between 0 and 1, got "${v}"`);
    }
    return n;
  };
}

interface Flags {
  host: string;
  port: number;
  protocol: 'anthropic' | 'openai';
  latency: string;
  rpm?: number;
  itpm?: number;
  otpm?: number;
  rate429: number;
  rate529: number;
  rate500: number;
  rateReset: number;
  rateHang: number;
  retryAfter: number;
  seed: number;
  apiKey?: string;
}

/** The server options from parsed flags; throws one clear line on a bad value. */
function toOptions(f: Flags): MockUpstreamOptions {
  let latency: { minMs: number; maxMs: number };
  try {
    latency = parseDurationRange(f.latency);
  } catch (err) {
    throw new Error(`--latency: ${err instanceof Error ? err.message : String(err)}`);
  }
  const sum = f.rate429 + f.rate529 + f.rate500 + f.rateReset + f.rateHang;
  if (sum > 1 + 1e-9) throw new Error(`the --rate-* flags add up to ${sum}, more than 1`);
  if (f.apiKey === '') throw new Error('--api-key must not be empty');
  return {
    host: f.host,
    port: f.port,
    protocol: f.protocol,
    latency,
    budget: {
      ...(f.rpm !== undefined && { requestsPerMinute: f.rpm }),
      ...(f.itpm !== undefined && { inputTokensPerMinute: f.itpm }),
      ...(f.otpm !== undefined && { outputTokensPerMinute: f.otpm }),
    },
    faults: {
      rate429: f.rate429,
      rate529: f.rate529,
      rate500: f.rate500,
      rateReset: f.rateReset,
      rateHang: f.rateHang,
    },
    retryAfterSeconds: f.retryAfter,
    seed: f.seed,
    ...(f.apiKey !== undefined && { requireApiKey: f.apiKey }),
  };
}

/** `barge mock-upstream`: the built-in mock model as a standalone upstream, for load tests and e2e tests. */
export function mockUpstreamCommand(): Command {
  const cmd = new Command('mock-upstream')
    .description(
      'Run the built-in mock model as a standalone HTTP upstream (Anthropic /v1/messages or OpenAI /v1/chat/completions)',
    )
    .addOption(envOption('--host <host>', 'interface to listen on').default('127.0.0.1'))
    .addOption(
      envOption('--port <port>', 'port to listen on (0 picks a free one)')
        .default(4010)
        .argParser(wholeNumber('port', 65535)),
    )
    .addOption(
      envOption('--protocol <protocol>', 'which upstream to imitate')
        .choices(['anthropic', 'openai'])
        .default('anthropic'),
    )
    .addOption(
      envOption('--latency <duration>', 'latency per answer: 0ms, 200ms or a range 50ms-500ms').default(
        '0ms',
      ),
    )
    .addOption(
      envOption('--rpm <n>', 'requests per minute budget (default: unlimited)').argParser(
        positiveNumber('rpm'),
      ),
    )
    .addOption(envOption('--itpm <n>', 'input tokens per minute budget').argParser(positiveNumber('itpm')))
    .addOption(envOption('--otpm <n>', 'output tokens per minute budget').argParser(positiveNumber('otpm')))
    .addOption(
      envOption('--rate-429 <rate>', 'share of requests answered 429 (0 to 1)')
        .default(0)
        .argParser(rate('rate-429')),
    )
    .addOption(
      envOption('--rate-529 <rate>', 'share answered 529 overloaded (503 with --protocol openai)')
        .default(0)
        .argParser(rate('rate-529')),
    )
    .addOption(envOption('--rate-500 <rate>', 'share answered 500').default(0).argParser(rate('rate-500')))
    .addOption(
      envOption('--rate-reset <rate>', 'share whose connection is reset without an answer')
        .default(0)
        .argParser(rate('rate-reset')),
    )
    .addOption(
      envOption('--rate-hang <rate>', 'share never answered').default(0).argParser(rate('rate-hang')),
    )
    .addOption(
      envOption(
        '--retry-after <seconds>',
        'retry-after on injected 429s; a fraction (0.05) is also sent as retry-after-ms',
      )
        .default(1)
        .argParser(seconds('retry-after')),
    )
    .addOption(
      envOption('--seed <n>', 'seed of the fault and latency draws')
        .default(1)
        .argParser(wholeNumber('seed')),
    )
    .addOption(envOption('--api-key <key>', 'require this key (x-api-key or Authorization: Bearer)'));

  return cmd.action(async (f: Flags) => {
    const options = toOptions(f);
    // Loaded here so that other commands do not pay for it.
    const { startMockUpstream } = await import('../mock-upstream/mock-upstream-server.ts');
    const upstream = await startMockUpstream(options);
    console.log(`barge mock-upstream (${options.protocol}) listening on ${upstream.url}`);
    let signals = 0;
    const shutdown = (): void => {
      signals++;
      if (signals > 1) process.exit(1);
      upstream.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.on('SIGINT', shutdown);
    process.on('SIGTERM', shutdown);
  });
}
