import type Anthropic from '@anthropic-ai/sdk';
import { type Command, Option } from 'commander';
import { CliError } from './cli-error.ts';

// The SDK is loaded by the commands that use it (about 0.3 s), not by every `barge` start such as `serve`.
let sdk: typeof import('@anthropic-ai/sdk') | null = null;

/** The flags every command that talks to a server takes, named and defaulted as the SDKs do. */
export function addClientOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--base-url <url>', 'the Barge server')
        .env('ANTHROPIC_BASE_URL')
        .default('http://127.0.0.1:8080'),
    )
    .addOption(
      new Option('--api-key <key>', 'an API key (any value works against --auth none)').env(
        'ANTHROPIC_API_KEY',
      ),
    )
    .option('--json', 'print JSON for scripts instead of text');
}

export interface ClientFlags {
  baseUrl: string;
  apiKey?: string;
  json?: boolean;
}

/** The official SDK, pointed at Barge. A server started with `--auth none` takes any key, so one is made up. */
async function sdkClient(o: ClientFlags): Promise<Anthropic> {
  sdk ??= await import('@anthropic-ai/sdk');
  return new sdk.default({
    baseURL: o.baseUrl.replace(/\/+$/, ''),
    apiKey: o.apiKey ?? 'barge-cli',
    maxRetries: 2,
    timeout: 60_000,
  });
}

/** Headers for the calls the SDK cannot make (streamed upload, byte-exact download, Barge's own endpoints). */
export function rawHeaders(o: ClientFlags): Record<string, string> {
  return { 'x-api-key': o.apiKey ?? 'barge-cli', 'anthropic-version': '2023-06-01' };
}

/** Runs an SDK call on a client for the flags, turning its errors into one readable line. */
export async function call<T>(o: ClientFlags, fn: (client: Anthropic) => Promise<T>): Promise<T> {
  const client = await sdkClient(o);
  try {
    return await fn(client);
  } catch (err) {
    throw asCliError(err);
  }
}

function asCliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (sdk && err instanceof sdk.default.APIError) {
    const body = err.error as { error?: { type?: string; message?: string } } | undefined;
    const type = body?.error?.type;
    const message = body?.error?.message ?? err.message;
    if (err.status === undefined) return new CliError(`cannot reach the server: ${err.message}`);
    return new CliError(`${err.status}${type ? ` ${type}` : ''}: ${message}`);
  }
  return new CliError(err instanceof Error ? err.message : String(err));
}

/** Reads an Anthropic error envelope from a raw response body. */
export function envelopeMessage(status: number, text: string): string {
  try {
    const e = (JSON.parse(text) as { error?: { type?: string; message?: string } }).error;
    if (e?.message) return `${status} ${e.type ?? 'error'}: ${e.message}`;
  } catch {
    // not JSON
  }
  return `${status}: ${text.slice(0, 200)}`;
}
