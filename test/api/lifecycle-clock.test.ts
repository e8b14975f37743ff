import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import Anthropic0 from 'anthropic-sdk-0';
import type { ServeConfig } from '../../src/config/config.ts';
import type { RunningServer, ServerOverrides } from '../../src/server.ts';
import { rfc3339 } from '../../src/wire/timestamp.ts';
import {
  assertEnvelope,
  byCustomId,
  GatedBackend,
  raw,
  rawResults,
  requests,
  sdkClient,
  until,
  untilEnded,
} from '../helpers/api-harness.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { countsWith } from '../helpers/message-batch.ts';
import { testServer } from '../helpers/test-server.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-11-25T12:00:00.000Z'); // ManualClock's start

/**
 * A server on a manual clock with the sweeper held (tests drain it after moving the clock) and, by default, a
 * gated backend that keeps requests in flight until released. Leases are made longer than any jump of the clock:
 * with a real clock the worker's heartbeat renews them, and these tests are about expiry and cancel, not rescue.
 */
async function clockServer(
  t: TestContext,
  config: Partial<ServeConfig> = {},
  over: ServerOverrides & { mock?: boolean } = {},
): Promise<{ clock: ManualClock; backend: GatedBackend; server: RunningServer; client: Anthropic }> {
  const clock = new ManualClock(T0);
  const backend = new GatedBackend();
  t.after(() => backend.open());
  const { mock, ...rest } = over;
  const server = await testServer(
    t,
    { leaseMs: 40 * DAY, ...config },
    { clock, startSweeper: false, ...(!mock && { backend }), ...rest },
  );
  return { clock, backend, server, client: sdkClient(Anthropic, server.url) };
}

/** Records every batch end, whoever ends it (a worker completion or a sweep). */
function recordEndings(server: RunningServer): string[] {
  const endings: string[] = [];
  const store = server.store;
  const complete = store.complete.bind(store);
  const sweep = store.sweep.bind(store);
  store.complete = async (c, now) => {
    const ended = await complete(c, now);
    endings.push(...ended);
    return ended;
  };
  store.sweep = async (o) => {
    const r = await sweep(o);
    endings.push(...r.ended);
    return r;
  };
  return endings;
}

async function resultTypes(url: string, id: string): Promise<Array<[string, string]>> {
  const lines = await rawResults(url, id);
  return [...byCustomId(lines)].map(([k, v]) => [k, v.result.type] as [string, string]).sort();
}

describe('expiry, archival and retention on a manual clock', () => {
  test('at created + 24h queued and in-flight requests expire; not a millisecond earlier', async (t) => {
    const { clock, backend, server, client } = await clockServer(t, { concurrency: 2 });
    const batch = await client.messages.batches.create({ requests: requests(5) });
    assert.equal(batch.created_at, rfc3339(T0));
    assert.equal(batch.expires_at, rfc3339(T0 + DAY));
    await backend.waitForCalls(2);
    assert.deepEqual(backend.held.sort(), ['r0', 'r1'], 'two in flight, three queued');

    clock.advance(DAY - 1);
    await server.sweeper.drain();
    const before = await client.messages.batches.retrieve(batch.id);
    assert.equal(before.processing_status, 'in_progress');
    assert.equal(before.ended_at, null);
    assert.equal(before.results_url, null);
    assert.deepEqual(before.request_counts, countsWith({ processing: 5 }));
    assertEnvelope(
      await raw(server.url, 'GET', `/v1/messages/batches/${batch.id}/results`),
      400,
      'invalid_request_error',
    );

    clock.advance(1);
    await server.sweeper.drain();
    const ended = await client.messages.batches.retrieve(batch.id);
    assert.equal(ended.processing_status, 'ended');
    assert.equal(ended.ended_at, rfc3339(T0 + DAY));
    assert.deepEqual(ended.request_counts, countsWith({ expired: 5 }));
    assert.equal(ended.results_url, `${server.url}/v1/messages/batches/${batch.id}/results`);
    const expected = ['r0', 'r1', 'r2', 'r3', 'r4'].map((id) => [id, 'expired']);
    assert.deepEqual(await resultTypes(server.url, batch.id), expected);

    // Expiry aborts the two in-flight calls, freeing their slots; any late answer would be fenced out anyway.
    await until(() => server.worker.activeCount === 0, 'the in-flight calls to be aborted');
    assert.equal(server.worker.completed, 0, 'no late completion was produced');
    backend.release();
    await server.worker.flush();
    await server.sweeper.drain();
    assert.deepEqual(await resultTypes(server.url, batch.id), expected);
    assert.deepEqual({ ...(await client.messages.batches.retrieve(batch.id)) }, { ...ended });
    assert.equal(backend.calls.length, 2, 'expired requests were never sent');
  });

  test('--batch-ttl and --retention overrides are honoured', async (t) => {
    const { clock, server, client } = await clockServer(
      t,
      { batchTtlMs: HOUR, retentionMs: 2 * HOUR },
      { startWorker: false },
    );
    const batch = await client.messages.batches.create({ requests: requests(2) });
    assert.equal(batch.expires_at, rfc3339(T0 + HOUR));

    clock.advance(HOUR - 1);
    await server.sweeper.drain();
    assert.equal((await client.messages.batches.retrieve(batch.id)).processing_status, 'in_progress');
    clock.advance(1);
    await server.sweeper.drain();
    const ended = await client.messages.batches.retrieve(batch.id);
    assert.equal(ended.processing_status, 'ended');
    assert.deepEqual(ended.request_counts, countsWith({ expired: 2 }));

    clock.advance(HOUR - 1);
    await server.sweeper.drain();
    assert.equal((await client.messages.batches.retrieve(batch.id)).archived_at, null);
    assert.equal((await rawResults(server.url, batch.id)).length, 2);
    clock.advance(1);
    await server.sweeper.drain();
    assert.equal((await client.messages.batches.retrieve(batch.id)).archived_at, rfc3339(T0 + 2 * HOUR));
    assertEnvelope(
      await raw(server.url, 'GET', `/v1/messages/batches/${batch.id}/results`),
      404,
      'not_found_error',
    );
  });

  test('archival at created + 29 days: still retrievable and listed, results 404', async (t) => {
    const { clock, server, client } = await clockServer(t, {}, { mock: true });
    const batch = await client.messages.batches.create({ requests: requests(2) });
    const ended = await untilEnded(() => client.messages.batches.retrieve(batch.id));
    assert.equal(ended.ended_at, rfc3339(T0), 'the worker reads the manual clock too');

    clock.advance(29 * DAY - 1);
    await server.sweeper.drain();
    assert.equal((await client.messages.batches.retrieve(batch.id)).archived_at, null);
    assert.deepEqual(await resultTypes(server.url, batch.id), [
      ['r0', 'succeeded'],
      ['r1', 'succeeded'],
    ]);

    clock.advance(1);
    await server.sweeper.drain();
    const archived = await client.messages.batches.retrieve(batch.id);
    assert.equal(archived.archived_at, rfc3339(T0 + 29 * DAY));
    assert.equal(archived.processing_status, 'ended');
    assert.deepEqual(archived.request_counts, ended.request_counts);
    assert.deepEqual(
      (await client.messages.batches.list()).data.map((b) => [b.id, b.archived_at]),
      [[batch.id, rfc3339(T0 + 29 * DAY)]],
    );
    assertEnvelope(
      await raw(server.url, 'GET', `/v1/messages/batches/${batch.id}/results`),
      404,
      'not_found_error',
      /archived/,
    );
    for (const Sdk of [Anthropic, Anthropic0]) {
      await assert.rejects(sdkClient(Sdk, server.url).messages.batches.results(batch.id), Sdk.NotFoundError);
    }
    // Later sweeps change nothing; delete still works.
    clock.advance(DAY);
    await server.sweeper.drain();
    assert.equal((await client.messages.batches.retrieve(batch.id)).archived_at, rfc3339(T0 + 29 * DAY));
    assert.equal((await client.messages.batches.delete(batch.id)).type, 'message_batch_deleted');
    await assert.rejects(client.messages.batches.retrieve(batch.id), Anthropic.NotFoundError);
  });
});

describe('cancel races', () => {
  test('in-flight requests finish as succeeded, queued ones become canceled, one line each', async (t) => {
    const { server, backend, client } = await clockServer(t, { concurrency: 2 });
    const batch = await client.messages.batches.create({ requests: requests(5) });
    await backend.waitForCalls(2);
    const inFlight = backend.held.sort();

    const canceling = await client.messages.batches.cancel(batch.id);
    assert.equal(canceling.processing_status, 'canceling');
    assert.equal(canceling.cancel_initiated_at, rfc3339(T0));
    await server.sweeper.drain();
    const mid = await client.messages.batches.retrieve(batch.id);
    assert.equal(mid.processing_status, 'canceling', 'in-flight requests keep it canceling');
    assert.deepEqual(mid.request_counts, countsWith({ processing: 5 }));

    backend.release();
    const ended = await untilEnded(() => client.messages.batches.retrieve(batch.id));
    assert.deepEqual(ended.request_counts, countsWith({ succeeded: 2, canceled: 3 }));
    const types = await resultTypes(server.url, batch.id);
    assert.equal(types.length, 5);
    for (const [id, type] of types) assert.equal(type, inFlight.includes(id) ? 'succeeded' : 'canceled', id);
    assert.equal(backend.calls.length, 2, 'canceled requests were never sent');
  });

  test('cancel right after create: nothing is sent once the batch is canceling', async (t) => {
    const { server, backend, client } = await clockServer(t, {}, { startWorker: false });
    const batch = await client.messages.batches.create({ requests: requests(4) });
    const canceling = await client.messages.batches.cancel(batch.id);
    assert.equal(canceling.processing_status, 'canceling');
    server.worker.start();
    await server.sweeper.drain();
    const ended = await client.messages.batches.retrieve(batch.id);
    assert.equal(ended.processing_status, 'ended');
    assert.deepEqual(ended.request_counts, countsWith({ canceled: 4 }));
    assert.equal(backend.calls.length, 0);
    assert.deepEqual(
      (await resultTypes(server.url, batch.id)).map(([, type]) => type),
      ['canceled', 'canceled', 'canceled', 'canceled'],
    );
  });

  test('cancel right after create with a running worker: counts and lines agree', async (t) => {
    // One request at a time: the cancel arrives while most of the 200 are still queued.
    const { server, client } = await clockServer(t, { concurrency: 1 }, { mock: true });
    const endings = recordEndings(server);
    const batch = await client.messages.batches.create({ requests: requests(200) });
    await client.messages.batches.cancel(batch.id);
    const ended = await untilEnded(() => client.messages.batches.retrieve(batch.id), {
      between: () => server.sweeper.drain(),
    });
    const c = ended.request_counts;
    assert.equal(c.succeeded + c.errored + c.canceled + c.expired, 200);
    assert.equal(c.processing, 0);
    assert.equal(c.expired, 0);
    assert.ok(c.canceled > 0, 'most requests were still queued');
    const types = await resultTypes(server.url, batch.id);
    assert.equal(types.length, 200);
    assert.equal(types.filter(([, x]) => x === 'canceled').length, c.canceled);
    assert.equal(types.filter(([, x]) => x === 'succeeded').length, c.succeeded);
    assert.equal(endings.filter((id) => id === batch.id).length, 1, 'the batch ended exactly once');
  });

  test('cancel concurrently with the completion of the last request: ends exactly once', async (t) => {
    const { server, backend, client } = await clockServer(t);
    const endings = recordEndings(server);

    // Each batch: r0 has finished, r1 (the last) is in flight.
    const setUp = async (prefix: string) => {
      const calls = backend.calls.length;
      const b = await client.messages.batches.create({ requests: requests(2, prefix) });
      await backend.waitForCalls(calls + 2);
      const done = server.worker.completed;
      backend.release([`${prefix}0`]);
      await until(() => server.worker.completed === done + 1, 'the first completion');
      await server.worker.flush();
      return b.id;
    };
    const finishLast = async (prefix: string) => {
      const done = server.worker.completed;
      backend.release([`${prefix}1`]);
      await until(() => server.worker.completed === done + 1, 'the last completion');
    };
    const check = async (id: string) => {
      await server.sweeper.drain();
      const ended = await client.messages.batches.retrieve(id);
      assert.equal(ended.processing_status, 'ended');
      assert.deepEqual(ended.request_counts, countsWith({ succeeded: 2 }));
      assert.equal(endings.filter((x) => x === id).length, 1, `${id} ended exactly once`);
      assert.equal((await rawResults(server.url, id)).length, 2);
      return ended;
    };

    // Cancel lands first: the batch is canceling, and the last completion ends it.
    const a = await setUp('a');
    assert.equal((await client.messages.batches.cancel(a)).processing_status, 'canceling');
    await finishLast('a');
    await server.worker.flush();
    assert.notEqual((await check(a)).cancel_initiated_at, null);

    // Completion lands first: the batch has ended, and the cancel is a 400.
    const b = await setUp('b');
    await finishLast('b');
    await server.worker.flush();
    await assert.rejects(client.messages.batches.cancel(b), Anthropic.BadRequestError);
    assert.equal((await check(b)).cancel_initiated_at, null);

    // Both at once, several times, with the completion staggered against the cancel: whichever wins, the batch
    // ends once with every request counted.
    const ids: Array<[string, string]> = [];
    for (const p of ['c', 'd', 'e', 'f', 'g', 'h']) ids.push([p, await setUp(p)]);
    const before = server.worker.completed;
    const outcomes = await Promise.all(
      ids.map(async ([p, id], k) => {
        const cancel = client.messages.batches.cancel(id).then(
          (x) => x.processing_status as string,
          (err: unknown) => {
            assert.ok(err instanceof Anthropic.BadRequestError, String(err));
            return 'rejected';
          },
        );
        for (let i = 0; i < k; i++) await new Promise((r) => setImmediate(r));
        backend.release([`${p}1`]);
        // Some completions are written at once, the others by the worker's own flush timer.
        if (k % 2) await server.worker.flush();
        return cancel;
      }),
    );
    await until(() => server.worker.completed === before + ids.length, 'the last completions');
    await server.worker.flush();
    for (const [, id] of ids) await check(id);
    for (const o of outcomes) assert.ok(['canceling', 'rejected'].includes(o), o);
  });
});
