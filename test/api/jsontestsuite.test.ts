import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { assertEnvelope, type RawResponse, raw, rawResults, untilEnded } from '../helpers/api-harness.ts';
import { testServer } from '../helpers/test-server.ts';

// The JSONTestSuite parsing corpus (y_ valid, n_ invalid, i_ implementation-defined), kept outside the repository.
const CORPUS = fileURLToPath(new URL('../../../shared/data/jsontestsuite/', import.meta.url));
const CREATE = '/v1/messages/batches';
const PREFIX = Buffer.from('{"requests":[{"custom_id":"a","params":');
const SUFFIX = Buffer.from('}]}');

function listCorpus(): string[] {
  let names: string[];
  try {
    names = readdirSync(CORPUS);
  } catch (err) {
    throw new Error(`the JSONTestSuite corpus is missing at ${CORPUS}: ${String(err)}`);
  }
  return names.filter((f) => /^[yni]_.*\.json$/.test(f)).sort();
}

/** A 4xx answer in the Anthropic envelope (never a 5xx, never Fastify's own shape). */
function assertClientError(res: RawResponse, label: string): void {
  assert.ok(
    res.status >= 400 && res.status < 500,
    `${label}: status ${res.status} ${res.text.slice(0, 200)}`,
  );
  assertEnvelope(res, res.status, 'invalid_request_error', undefined, label);
}

test('JSONTestSuite through POST /v1/messages/batches', { timeout: 120_000 }, async (t) => {
  const files = listCorpus();
  for (const kind of ['y_', 'n_', 'i_']) {
    assert.ok(files.filter((f) => f.startsWith(kind)).length > 10, `too few ${kind} files in ${CORPUS}`);
  }
  const server = await testServer(t);
  const post = (bytes: Buffer) => raw(server.url, 'POST', CREATE, { body: bytes });
  const accepted: Array<{ name: string; id: string }> = [];

  for (const name of files) {
    await t.test(name, async () => {
      const bytes = readFileSync(join(CORPUS, name)); // a path, not a URL: some names contain `#`

      // (a) No corpus file is a valid create body.
      assertClientError(await post(bytes), `${name} as the body`);

      // (b) The file as one request's params.
      const res = await post(Buffer.concat([PREFIX, bytes, SUFFIX]));
      const label = `${name} as params`;
      assert.ok(res.status < 500, `${label}: ${res.status} ${res.text.slice(0, 200)}`);
      if (name.startsWith('n_')) {
        assertClientError(res, label);
      } else if (name.startsWith('y_')) {
        const value: unknown = JSON.parse(bytes.toString('utf8'));
        if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
          assert.equal(res.status, 200, `${label}: ${res.text.slice(0, 200)}`);
        } else {
          assertClientError(res, label);
          assert.match((res.json as { error: { message: string } }).error.message, /^requests\.0\.params: /);
        }
      } else if (res.status !== 200) {
        assertClientError(res, label);
      }
      if (res.status === 200) {
        const batch = res.json as {
          id: string;
          processing_status: string;
          request_counts: { processing: number };
        };
        assert.equal(batch.processing_status, 'in_progress');
        assert.equal(batch.request_counts.processing, 1);
        accepted.push({ name, id: batch.id });
      }
    });
  }

  await t.test('every accepted batch ends with exactly one result line', async () => {
    assert.ok(
      accepted.some((a) => a.name.startsWith('y_')),
      'some y_ objects were accepted',
    );
    for (const { name, id } of accepted) {
      const ended = await untilEnded(
        async () =>
          (await raw(server.url, 'GET', `${CREATE}/${id}`)).json as {
            processing_status: string;
            request_counts: Record<string, number>;
          },
      );
      const counts = ended.request_counts;
      assert.equal((counts.succeeded ?? 0) + (counts.errored ?? 0), 1, name);
      const lines = await rawResults(server.url, id);
      assert.equal(lines.length, 1, name);
      assert.equal(lines[0]?.custom_id, 'a', name);
      assert.ok(['succeeded', 'errored'].includes(lines[0]?.result.type ?? ''), name);
    }
    // Nothing else was stored: exactly the accepted batches are listed.
    let listed = 0;
    let after: string | null = null;
    for (;;) {
      const page = (await raw(server.url, 'GET', `${CREATE}?limit=1000${after ? `&after_id=${after}` : ''}`))
        .json as {
        data: unknown[];
        has_more: boolean;
        last_id: string | null;
      };
      listed += page.data.length;
      if (!page.has_more) break;
      after = page.last_id;
    }
    assert.equal(listed, accepted.length);
  });

  const health = await fetch(`${server.url}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });
});
