import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CreateBodyScanner, IngestError, type ScannedItem } from '../../src/ingest/create-body-scanner.ts';

// The JSONTestSuite parsing corpus (y_ valid, n_ invalid, i_ implementation-defined), kept outside the repository.
const CORPUS = fileURLToPath(new URL('../../../shared/data/jsontestsuite/', import.meta.url));

let files: string[] = [];
let missing: unknown = null;
try {
  files = readdirSync(CORPUS)
    .filter((f) => /^[yni]_.*\.json$/.test(f))
    .sort();
} catch (err) {
  missing = err;
}

const PREFIX = Buffer.from('{"requests":[{"custom_id":"a","params":');
const SUFFIX = Buffer.from('}]}');

/** Scans a whole body, in one chunk or in chunks of `size` bytes; returns the items or the thrown error. */
function outcome(body: Buffer, size?: number): { items: ScannedItem[] } | { error: unknown } {
  const scanner = new CreateBodyScanner();
  const items: ScannedItem[] = [];
  try {
    if (size === undefined) items.push(...scanner.push(body));
    else for (let o = 0; o < body.length; o += size) items.push(...scanner.push(body.subarray(o, o + size)));
    scanner.end();
    return { items };
  } catch (error) {
    return { error };
  }
}

/** Asserts an outcome is an IngestError, with a message located by the scanner itself (not V8's fallback words). */
function assertIngestError(result: ReturnType<typeof outcome>, label: string): IngestError {
  assert.ok('error' in result, `${label}: accepted`);
  assert.ok(result.error instanceof IngestError, `${label}: threw ${String(result.error)}`);
  assert.doesNotMatch(
    result.error.message,
    /^invalid JSON in /,
    `${label}: the locator disagreed with JSON.parse`,
  );
  return result.error;
}

/** The file's bytes without the JSON whitespace around its value. */
function trimJson(bytes: Buffer): Buffer {
  const ws = (c: number | undefined) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
  let a = 0;
  let b = bytes.length;
  while (a < b && ws(bytes[a])) a++;
  while (b > a && ws(bytes[b - 1])) b--;
  return bytes.subarray(a, b);
}

describe('JSONTestSuite through the create-body scanner', { timeout: 120_000 }, () => {
  test('the corpus is present', () => {
    assert.equal(missing, null, `cannot read the JSONTestSuite corpus at ${CORPUS}: ${String(missing)}`);
    for (const kind of ['y_', 'n_', 'i_']) {
      assert.ok(files.filter((f) => f.startsWith(kind)).length > 10, `too few ${kind} files in ${CORPUS}`);
    }
  });

  for (const name of files) {
    test(name, { timeout: 10_000 }, () => {
      const bytes = readFileSync(join(CORPUS, name)); // a path: some names contain `#`;

      // (a) No corpus file is a valid create body.
      for (const size of [undefined, 7])
        assertIngestError(outcome(bytes, size), `${name} as the body (chunks ${size})`);

      // (b) The file as one request's params.
      const body = Buffer.concat([PREFIX, bytes, SUFFIX]);
      for (const size of [undefined, 7]) {
        const label = `${name} as params (chunks ${size})`;
        const result = outcome(body, size);
        if (name.startsWith('n_')) {
          assertIngestError(result, label);
        } else if (name.startsWith('y_')) {
          const value: unknown = JSON.parse(bytes.toString('utf8'));
          if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
            assert.ok(
              'items' in result,
              `${label}: rejected with ${String('error' in result && result.error)}`,
            );
            assert.equal(result.items.length, 1);
            assert.ok(result.items[0]!.params.equals(trimJson(bytes)), `${label}: params bytes differ`);
          } else {
            const err = assertIngestError(result, label);
            assert.equal(err.message, 'requests.0.params: Input should be a valid dictionary', label);
          }
        } else if ('error' in result) {
          assertIngestError(result, label);
        }
      }
    });
  }
});
