import Anthropic from '@anthropic-ai/sdk';
import { type Command, Option } from 'commander';

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

/** What a failed call becomes: one line, with the status and error type when the server sent them. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** The official SDK, pointed at Barge. A server started with `--auth none` takes any key, so one is made up. */
export function sdkClient(o: ClientFlags): Anthropic {
  return new Anthropic({
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

/** Runs an SDK call, turning its errors into one readable line. */
export async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw asCliError(err);
  }
}

export function asCliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof Anthropic.APIError) {
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
