import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { CliError } from './cli-error.ts';

/** The hosted API's limits per batch: a bigger file becomes several batches. */
export const MAX_BATCH_REQUESTS = 100_000;
export const MAX_BATCH_BYTES = 256 * 1024 * 1024;
const PREFIX = Buffer.from('{"requests":[');
const SUFFIX = Buffer.from(']}');
const COMMA = Buffer.from(',');

/** A batch's share of the file: its requests (by position, 1-based lines for messages) and its exact body size. */
export interface Part {
  requests: number;
  bodyBytes: number;
  firstLine: number;
  lastLine: number;
}

/** Where requests come from: each one as the exact JSON text of `{custom_id, params}`, with its line number. */
export type RequestSource = () => AsyncIterable<{ line: number; text: string }>;

const bad = (line: number, why: string) => new CliError(`line ${line}: ${why}`, 2);

/**
 * A requests file: JSON Lines of `{"custom_id": …, "params": {…}}` (sent as written, byte for byte), or, for a
 * `.json` file, one object in the create body's shape (`{"requests": […]}`), which is read whole.
 */
export function requestSource(path: string): RequestSource {
  if (path.endsWith('.json')) {
    let body: unknown;
    try {
      body = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new CliError(`${path}: not valid JSON (${(err as Error).message})`, 2);
    }
    const list = (body as { requests?: unknown }).requests;
    if (!Array.isArray(list)) throw new CliError(`${path}: expected {"requests": [...]}`, 2);
    const texts = list.map((r) => JSON.stringify(r));
    return async function* () {
      for (let i = 0; i < texts.length; i++) yield { line: i + 1, text: texts[i]! };
    };
  }
  return async function* () {
    const lines = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
    let n = 0;
    for await (const raw of lines) {
      n++;
      const text = raw.trim();
      if (text !== '') yield { line: n, text };
    }
  };
}

/**
 * First pass: checks every request's shape (an object with a string `custom_id`, unique in the file, and an object
 * `params`; the server validates the rest) and splits the file into parts within the per-batch limits.
 */
export async function planParts(source: RequestSource): Promise<Part[]> {
  const parts: Part[] = [];
  const seen = new Map<string, number>();
  let cur: Part | null = null;
  for await (const { line, text } of source()) {
    let r: unknown;
    try {
      r = JSON.parse(text);
    } catch (err) {
      throw bad(line, `not valid JSON (${(err as Error).message})`);
    }
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw bad(line, 'expected an object');
    const { custom_id: id, params } = r as { custom_id?: unknown; params?: unknown };
    if (typeof id !== 'string') throw bad(line, 'custom_id must be a string');
    if (typeof params !== 'object' || params === null || Array.isArray(params)) {
      throw bad(line, 'params must be an object');
    }
    const earlier = seen.get(id);
    if (earlier !== undefined) throw bad(line, `custom_id ${JSON.stringify(id)} repeats line ${earlier}`);
    seen.set(id, line);
    const bytes = Buffer.byteLength(text);
    if (PREFIX.length + bytes + SUFFIX.length > MAX_BATCH_BYTES)
      throw bad(line, 'this request alone exceeds 256 MB');
    if (!cur || cur.requests >= MAX_BATCH_REQUESTS || cur.bodyBytes + 1 + bytes > MAX_BATCH_BYTES) {
      cur = { requests: 0, bodyBytes: PREFIX.length + SUFFIX.length - 1, firstLine: line, lastLine: line };
      parts.push(cur);
    }
    cur.requests++;
    cur.bodyBytes += 1 + bytes; // a comma before every request but the first (counted by the -1 above)
    cur.lastLine = line;
  }
  if (parts.length === 0) throw new CliError('the file has no requests', 2);
  return parts;
}

/**
 * Second pass: the create bodies, one per part, streamed from a single walk over the source in chunks of about
 * 64 KB; `onBytes` reports progress.
 */
export function partBodies(
  source: RequestSource,
  parts: readonly Part[],
  onBytes: (n: number) => void,
): Array<() => AsyncIterable<Buffer>> {
  const it = source()[Symbol.asyncIterator]();
  return parts.map((part) => {
    return async function* () {
      const chunks: Buffer[] = [PREFIX];
      let size = PREFIX.length;
      for (let i = 0; i < part.requests; i++) {
        const next = await it.next();
        if (next.done) throw new CliError('the file changed while it was being sent', 2);
        if (i > 0) chunks.push(COMMA);
        const b = Buffer.from(next.value.text);
        chunks.push(b);
        size += b.length + (i > 0 ? 1 : 0);
        if (size >= 64 * 1024) {
          yield Buffer.concat(chunks, size);
          onBytes(size);
          chunks.length = 0;
          size = 0;
        }
      }
      chunks.push(SUFFIX);
      size += SUFFIX.length;
      yield Buffer.concat(chunks, size);
      onBytes(size);
    };
  });
}
