import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYamlText, YAMLError } from 'yaml';
import { describeIssue } from './config-problems.ts';
import {
  type ConfigProblem,
  type Env,
  normaliseRoutingFile,
  type RoutingConfig,
  RoutingFileSchema,
} from './routing-config.ts';

// A routing file is a few dozen lines; anything near this is a mistake (a log file, a data file).
const MAX_CONFIG_BYTES = 1024 * 1024;
// Enough to explain; a hundred lines of errors hide the first one.
const MAX_PROBLEM_LINES = 5;

function configError(source: string, lines: readonly string[]): Error {
  return new Error(lines.map((l) => `config ${source}: ${l}`).join('\n'));
}

/** `backends.local.max_concurrency`, `routes[2].backend`, `backends["a b"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(seg))
      out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(String(seg).slice(0, 64))}]`;
  }
  return out;
}

function problemLines(problems: readonly ConfigProblem[]): string[] {
  const lines = problems
    .slice(0, MAX_PROBLEM_LINES)
    .map((p) => (p.path.length === 0 ? p.message : `${formatPath(p.path)}: ${p.message}`));
  const more = problems.length - MAX_PROBLEM_LINES;
  if (more > 0) lines.push(`and ${more} more problem${more === 1 ? '' : 's'}`);
  return lines;
}

const OPEN_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'is a directory, not a file',
};

/** Reads at most MAX_CONFIG_BYTES + 1 bytes, so a huge or endless file (a FIFO, /dev/zero) is refused cheaply. */
function readConfigText(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    throw configError(path, [`cannot read the file: ${OPEN_ERRORS[code] ?? code}`]);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw configError(path, [`cannot read the file: ${OPEN_ERRORS.EISDIR}`]);
    const tooLarge = (): Error => configError(path, [`the file is larger than ${MAX_CONFIG_BYTES} bytes`]);
    if (st.size > MAX_CONFIG_BYTES) throw tooLarge();
    // fstat says 0 for FIFOs and /dev files, so the read itself is bounded too.
    const buf = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let n = 0;
    while (n < buf.length) {
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
    }
    if (n > MAX_CONFIG_BYTES) throw tooLarge();
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, n));
    } catch {
      throw configError(path, ['the file is not valid UTF-8 text']);
    }
  } finally {
    closeSync(fd);
  }
}

/** The line and column (1-based) of a character offset. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    // V8 quotes a stretch of the source ("... is not valid JSON"); it may hold header values, so drop it.
    let message = (err as Error).message.replace(/, ".*" is not valid JSON$/s, '');
    const at = /\s*in JSON at position (\d+)(?: \(line \d+ column \d+\))?/.exec(message);
    if (!at) throw configError(source, [`JSON syntax error: ${message}`]);
    message = message.replace(at[0], '');
    const { line, column } = lineColumn(text, Number(at[1]));
    throw configError(source, [`JSON syntax error at line ${line}, column ${column}: ${message}`]);
  }
}

function parseYaml(text: string, source: string): unknown {
  try {
    // logLevel 'error': throw on errors, print no warnings to the console.
    return parseYamlText(text, { logLevel: 'error', prettyErrors: true });
  } catch (err) {
    if (!(err instanceof YAMLError)) throw err;
    // The pretty message ends with a copy of the offending lines, which may hold header values; keep the reason.
    const reason = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    const pos = err.linePos?.[0];
    const where = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
    throw configError(source, [`YAML syntax error${where}: ${reason}`]);
  }
}

/** Parses by extension: `.json`, `.yaml`/`.yml`, otherwise JSON and then YAML. */
function parseConfigText(text: string, path: string): unknown {
  const ext = extname(path).toLowerCase();
  if (ext === '.json') return parseJson(text, path);
  if (ext === '.yaml' || ext === '.yml') return parseYaml(text, path);
  try {
    return JSON.parse(text);
  } catch {
    return parseYaml(text, path);
  }
}

/**
 * Validates an already-parsed routing file (`source` names it in errors) and resolves `api_key_env` from `env`.
 * Throws an `Error` with one line per problem (at most a few), each `config SOURCE: path: what is wrong`.
 */
export function parseRoutingConfig(value: unknown, source: string, env: Env): RoutingConfig {
  const parsed = RoutingFileSchema.safeParse(value, { reportInput: true });
  if (!parsed.success) throw configError(source, problemLines(parsed.error.issues.flatMap(describeIssue)));
  const result = normaliseRoutingFile(parsed.data, env);
  if (!result.ok) throw configError(source, problemLines(result.problems));
  return result.config;
}

/** Reads, parses and validates a routing file (JSON or YAML, at most 1 MiB). Throws a readable `Error`. */
export function loadRoutingConfig(path: string, env: Env): RoutingConfig {
  const text = readConfigText(path);
  if (text.trim() === '')
    throw configError(path, ['the file is empty; it needs backends and routes (or default)']);
  const value = parseConfigText(text, path);
  if (value === null || value === undefined)
    throw configError(path, ['the file has no settings; it needs backends and routes (or default)']);
  return parseRoutingConfig(value, path, env);
}

/** Used when there is no file: one `mock` backend (latency and error rate from the serve flags) taking everything. */
export function defaultRoutingConfig(): RoutingConfig {
  return parseRoutingConfig(
    { backends: { mock: { type: 'mock' } }, default: 'mock' },
    '(built-in default)',
    {},
  );
}
