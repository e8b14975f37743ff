import assert from 'node:assert/strict';
import { test } from 'node:test';
import { singleBackendRoutes } from '../../src/backends/backend-routes.ts';
import { mockMessage } from '../../src/backends/mock/mock-message.ts';
import type { BackendOutcome, BackendRequest, ModelBackend } from '../../src/backends/model-backend.ts';
import { newBatchId } from '../../src/domain/ids.ts';
import { decodeLanePause, encodeLanePause, LocalNotifier } from '../../src/queue/notifier.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { Worker } from '../../src/worker/worker.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { tempDir } from '../helpers/temp-dir.ts';

/** A backend whose answers the test scripts per call; it reports each call as an event. */
class ScriptedBackend implements ModelBackend {
  readonly name = 'scripted';
  readonly calls: Array<{ customId: string; model: string; attempt: number }> = [];
  private waiters: Array<{ n: number; resolve: () => void }> = [];
  constructor(private readonly answer: (req: BackendRequest, call: number) => BackendOutcome) {}

  async send(req: BackendRequest): Promise<BackendOutcome> {
    this.calls.push({ customId: req.customId, model: req.params.model as string, attempt: req.attempt });
    const out = this.answer(req, this.calls.length);
    for (const w of this.waiters.filter((x) => this.calls.length >= x.n)) w.resolve();
    this.waiters = this.waiters.filter((x) => this.calls.length < x.n);
    return out;
  }
  /** Resolves once `n` calls have been made. */
  called(n: number): Promise<void> {
    if (this.calls.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }
}

const ok = (req: BackendRequest): BackendOutcome => ({
  type: 'succeeded',
  message: mockMessage(req.params),
  upstream: { status: 200, latencyMs: 1 },
});

async function setup(
  t: import('node:test').TestContext,
  backend: ModelBackend,
  {
    concurrency = 4,
    maxAttempts = 3,
    pollMs,
  }: { concurrency?: number; maxAttempts?: number; pollMs?: number } = {},
) {
  const clock = new ManualClock();
  const store = new SqliteStore(SqliteStore.fileIn(tempDir(t)));
  const notifier = new LocalNotifier();
  const worker = new Worker({
    store,
    routes: singleBackendRoutes({
      name: backend.name,
      backend,
      laneLimits: { maxConcurrency: concurrency, initialConcurrency: concurrency },
      maxConcurrency: concurrency,
      maxAttempts,
    }),
    clock,
    notifier,
    concurrency,
    owner: 'w1',
    random: () => 0.5,
    ...(pollMs !== undefined && { pollMs }),
  });
  t.after(async () => {
    await worker.stop(0);
    await store.close();
  });
  const ended = new Promise<string>((resolve) => notifier.on('batch-ended', resolve));
  const batch = async (models: string[]) => {
    const s = await store.beginIngest({
      id: newBatchId(clock.now()),
      workspace: 'w',
      createdAt: clock.now(),
      expiresAt: clock.now() + 86_400_000,
      apiVersion: '2023-06-01',
      betas: null,
    });
    await s.append(
      models.map((model, i) => ({
        customId: `${model}-${i}`,
        params: Buffer.from(
          JSON.stringify({ model, max_tokens: 10, messages: [{ role: 'user', content: `hello ${i}` }] }),
        ),
        model,
      })),
    );
    return s.commit();
  };
  const lines = async (seq: number) => {
    let text = '';
    for await (const c of store.resultChunks(seq)) text += c.toString();
    return text
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(
        (l) =>
          JSON.parse(l) as {
            custom_id: string;
            result: { type: string; error?: { error: { type: string; message: string } } };
          },
      );
  };
  return { clock, store, worker, notifier, ended, batch, lines };
}

test('a lane paused by a 429 does not hold up another lane; its requests run after the pause, attempts intact', async (t) => {
  // The upstream rate-limits the first call of the busy model, asking for a minute's pause.
  const limited = new Set<string>();
  const backend = new ScriptedBackend((req) => {
    if (req.params.model === 'busy' && limited.size === 0) {
      limited.add(req.customId);
      return {
        type: 'errored',
        error: { type: 'rate_limit_error', message: 'slow down' },
        retryable: true,
        retryAfterMs: 60_000,
        upstream: { status: 429, latencyMs: 1 },
      };
    }
    return ok(req);
  });
  const { clock, worker, ended, batch, lines, store, notifier } = await setup(t, backend);
  const told: string[] = [];
  notifier.on('lane-paused', (p) => told.push(p));
  const models = [
    'busy',
    'busy',
    'busy',
    'busy',
    'busy',
    'busy',
    'free',
    'free',
    'free',
    'free',
    'free',
    'free',
  ];
  const b = await batch(models);
  worker.start();
  // Every free request is answered while the busy lane is paused (the clock does not move).
  while (backend.calls.filter((c) => c.model === 'free').length < 6)
    await backend.called(backend.calls.length + 1);
  await worker.flush();
  const during = await store.getBatch('w', b.id);
  assert.equal(during?.status, 'in_progress');
  const busyCalls = backend.calls.filter((c) => c.model === 'busy');
  assert.ok(
    busyCalls.length >= 1 && busyCalls.length <= 4,
    `the paused lane stopped sending (${busyCalls.length})`,
  );
  assert.ok(busyCalls.every((c) => c.attempt === 1));
  assert.deepEqual(
    told.map(decodeLanePause),
    [{ lane: 'scripted:busy', untilMs: clock.now() + 60_000 }],
    'the pause was told to the other workers of the cluster',
  );

  // After retry-after, the busy lane resumes; a 429 gave its attempt back.
  clock.advance(60_000);
  worker.wake();
  assert.equal(await ended, b.id);
  const out = await lines(b.seq);
  assert.equal(out.length, 12);
  assert.deepEqual(new Set(out.map((l) => l.custom_id)).size, 12);
  assert.ok(out.every((l) => l.result.type === 'succeeded'));
  const retried = backend.calls.filter((c) => c.model === 'busy' && limited.has(c.customId));
  assert.ok(
    retried.every((c) => c.attempt === 1),
    'rate-limited retries run as attempt 1 again',
  );
});

test('a lane pause told by another worker holds this worker on that lane too, even before it opened the lane', async (t) => {
  const backend = new ScriptedBackend(ok);
  const { clock, worker, notifier, ended, batch, lines } = await setup(t, backend);
  const b = await batch(['busy', 'free', 'busy', 'free']);
  worker.start();
  // Told before this worker has claimed anything of the model: remembered, and applied when the lane opens.
  notifier.notify('lane-paused', encodeLanePause({ lane: 'scripted:busy', untilMs: clock.now() + 30_000 }));
  await backend.called(2);
  await worker.flush();
  assert.deepEqual(
    backend.calls.map((c) => c.model),
    ['free', 'free'],
  );
  const lane = worker.laneStatus().find((l) => l.model === 'busy');
  assert.equal(lane?.pausedUntil, clock.now() + 30_000);
  assert.equal(lane?.pauseReason, 'remote');
  clock.advance(30_000);
  worker.wake();
  assert.equal(await ended, b.id);
  assert.equal((await lines(b.seq)).length, 4);
});

test('transient failures are retried until they succeed; final ones and exhausted attempts become errored results', async (t) => {
  const backend = new ScriptedBackend((req) => {
    const id = req.customId;
    if (id.startsWith('flaky') && req.attempt < 3) {
      return {
        type: 'errored',
        error: { type: 'api_error', message: 'upstream 500' },
        retryable: true,
        upstream: { status: 500, latencyMs: 1 },
      };
    }
    if (id.startsWith('broken')) {
      return {
        type: 'errored',
        error: { type: 'overloaded_error', message: 'always overloaded' },
        retryable: true,
        upstream: { status: 529, latencyMs: 1 },
      };
    }
    if (id.startsWith('bad')) {
      return {
        type: 'errored',
        error: { type: 'invalid_request_error', message: 'max_tokens: too large for this model' },
        retryable: false,
        upstream: { status: 400, latencyMs: 1 },
      };
    }
    return ok(req);
  });
  const { clock, worker, ended, batch, lines } = await setup(t, backend);
  const b = await batch(['flaky', 'broken', 'bad', 'fine']);
  worker.start();
  // Move the clock past each backoff (and the 529 pauses) until the batch ends.
  let done = false;
  void ended.then(() => {
    done = true;
  });
  while (!done) {
    await new Promise((r) => setImmediate(r));
    clock.advance(500);
    worker.wake();
  }
  const out = new Map((await lines(b.seq)).map((l) => [l.custom_id, l.result]));
  assert.equal(out.get('flaky-0')?.type, 'succeeded');
  assert.equal(out.get('fine-3')?.type, 'succeeded');
  assert.deepEqual(out.get('bad-2')?.error?.error, {
    type: 'invalid_request_error',
    message: 'max_tokens: too large for this model',
  });
  assert.deepEqual(out.get('broken-1')?.error?.error, {
    type: 'overloaded_error',
    message: 'always overloaded (gave up after 3 attempts)',
  });
  assert.deepEqual(
    backend.calls.filter((c) => c.customId === 'flaky-0').map((c) => c.attempt),
    [1, 2, 3],
  );
  assert.equal(backend.calls.filter((c) => c.customId === 'bad-2').length, 1, 'a final error is not retried');
});

test('a model no route matches ends errored with invalid_request_error naming the model', async (t) => {
  const backend = new ScriptedBackend(ok);
  const clock = new ManualClock();
  const store = new SqliteStore(SqliteStore.fileIn(tempDir(t)));
  const notifier = new LocalNotifier();
  const target = {
    name: 'only',
    backend,
    laneLimits: { maxConcurrency: 2 },
    maxConcurrency: 2,
    maxAttempts: 1,
  };
  const worker = new Worker({
    store,
    routes: { resolve: (m) => (m.startsWith('claude-') ? target : null), all: () => [target] },
    clock,
    notifier,
    concurrency: 2,
    owner: 'w',
    onError: (e) => console.error('ERR', e),
  });
  t.after(async () => {
    await worker.stop(0);
    await store.close();
  });
  const ended = new Promise<string>((resolve) => notifier.on('batch-ended', resolve));
  const s = await store.beginIngest({
    id: newBatchId(clock.now()),
    workspace: 'w',
    createdAt: clock.now(),
    expiresAt: clock.now() + 3_600_000,
    apiVersion: '2023-06-01',
    betas: null,
  });
  for (const [id, model] of [
    ['a', 'claude-x'],
    ['b', 'gpt-oss'],
  ]) {
    await s.append([
      {
        customId: id!,
        params: Buffer.from(
          JSON.stringify({ model, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
        ),
        model: model!,
      },
    ]);
  }
  const b = await s.commit();
  worker.start();
  await ended;
  let text = '';
  for await (const c of store.resultChunks(b.seq)) text += c.toString();
  const byId = new Map(
    text
      .trim()
      .split('\n')
      .map((l) => [JSON.parse(l).custom_id, JSON.parse(l).result]),
  );
  assert.equal(byId.get('a').type, 'succeeded');
  assert.equal(byId.get('b').type, 'errored');
  assert.equal(byId.get('b').error.error.type, 'invalid_request_error');
  assert.match(byId.get('b').error.error.message, /"gpt-oss"/);
  assert.deepEqual(
    backend.calls.map((c) => c.customId),
    ['a'],
  );
});

test('a wake-up that arrives while a claim is in flight is not lost: the worker claims again when it returns', async (t) => {
  const backend = new ScriptedBackend(ok);
  // The idle poll is an hour away, so only the wake-up sent during the held claim can get the batch claimed.
  const { worker, store, ended, batch } = await setup(t, backend, {
    concurrency: 1,
    maxAttempts: 1,
    pollMs: 3_600_000,
  });
  // The first claim finds nothing and is held until the test lets it return.
  let inFirstClaim!: () => void;
  const firstClaimStarted = new Promise<void>((r) => {
    inFirstClaim = r;
  });
  let letFirstClaimReturn!: () => void;
  const gate = new Promise<void>((r) => {
    letFirstClaimReturn = r;
  });
  const claim = store.claim.bind(store);
  let claims = 0;
  store.claim = async (opts) => {
    claims++;
    if (claims > 1) return claim(opts);
    const items = await claim(opts);
    inFirstClaim();
    await gate;
    return items;
  };
  worker.start();
  await firstClaimStarted;
  const b = await batch(['m']);
  worker.wake(); // what the API's batch-ready notification does
  // The wake-up's pump runs on the next turn (setImmediate, queued first), finding the first claim still in flight.
  await new Promise((r) => setImmediate(r));
  letFirstClaimReturn();
  // Without the fix the worker waited for its idle poll (an hour here); the test's own timeout would end it.
  const stalled = new Promise<string>((resolve) => setTimeout(() => resolve('stalled'), 20_000).unref());
  assert.equal(await Promise.race([ended, stalled]), b.id);
  assert.equal(backend.calls.length, 1);
  assert.ok(claims >= 2, 'the worker claimed again after the held claim returned');
});

test('the worker does not repeat a claim that can find nothing: with its only lane skipped, or the queue drained', async (t) => {
  // Answers a turn of the event loop later, as a real upstream does, so the lane holds waiting requests while the
  // worker decides whether to claim.
  const backend = new ScriptedBackend(ok);
  const send = backend.send.bind(backend);
  backend.send = async (req) => {
    await new Promise((r) => setImmediate(r));
    return send(req);
  };
  const { worker, store, ended, batch } = await setup(t, backend, {
    concurrency: 1,
    maxAttempts: 1,
    pollMs: 3_600_000,
  });
  const claim = store.claim.bind(store);
  let fruitless = 0;
  let claims = 0;
  store.claim = async (opts) => {
    const items = await claim(opts);
    claims++;
    // A claim that skips every model the batch has reads all its queued requests and comes back short.
    if (items.length < opts.limit) fruitless++;
    return items;
  };
  worker.start();
  const b = await batch(Array.from({ length: 300 }, () => 'm'));
  worker.wake();
  assert.equal(await ended, b.id);
  assert.equal(backend.calls.length, 300);
  // One short claim before the batch existed, and one when the lane first had enough waiting to be skipped (or the
  // queue ran dry). Without the guard, 40 of 60 claims skipped the lane's model and found nothing.
  assert.ok(fruitless <= 2, `${fruitless} of ${claims} claims came back short`);
  assert.ok(claims >= 300 / 17, `the batch was claimed in ${claims} claims`);
});
