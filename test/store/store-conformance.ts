import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BatchRecord } from '../../src/domain/batch.ts';
import { newBatchId } from '../../src/domain/ids.ts';
import type { Completion, Store } from '../../src/store/store.ts';
import { erroredLine, succeededLine } from '../../src/wire/result-line.ts';

const T0 = Date.parse('2026-11-25T12:00:00.000Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface StoreFactory {
  /** A fresh, empty store. */
  open(): Promise<Store>;
}

async function makeBatch(
  store: Store,
  n: number,
  opts: { workspace?: string; now?: number; model?: (i: number) => string } = {},
): Promise<BatchRecord> {
  const now = opts.now ?? T0;
  const s = await store.beginIngest({
    id: newBatchId(now),
    workspace: opts.workspace ?? 'w',
    createdAt: now,
    expiresAt: now + DAY,
    apiVersion: '2023-06-01',
    betas: null,
  });
  const items = Array.from({ length: n }, (_, i) => {
    const model = opts.model?.(i) ?? 'm';
    return {
      customId: `r${i}`,
      params: Buffer.from(
        JSON.stringify({ model, max_tokens: 5, messages: [{ role: 'user', content: `hi ${i}` }] }),
      ),
      model,
    };
  });
  for (let i = 0; i < items.length; i += 1000) await s.append(items.slice(i, i + 1000));
  return s.commit();
}

async function results(
  store: Store,
  seq: number,
): Promise<Array<{ custom_id: string; result: { type: string } }>> {
  let text = '';
  for await (const chunk of store.resultChunks(seq)) text += chunk.toString('utf8');
  assert.ok(text === '' || text.endsWith('\n'), 'every line ends with LF');
  return text === ''
    ? []
    : text
        .slice(0, -1)
        .split('\n')
        .map((l) => JSON.parse(l));
}

function done(item: { itemId: number; batchSeq: number; attempt: number; customId: string }): Completion {
  return { ...item, outcome: 'succeeded', line: succeededLine(item.customId, { ok: true }) };
}

/** The Store conformance suite: every Store implementation must pass all of it. */
export function storeConformance(name: string, factory: StoreFactory): void {
  describe(`Store conformance: ${name}`, () => {
    const withStore = (fn: (s: Store) => Promise<void>) => async () => {
      const store = await factory.open();
      try {
        await fn(store);
      } finally {
        await store.close();
      }
    };

    test(
      'a staged upload is invisible until commit, and abort leaves nothing',
      withStore(async (store) => {
        const id = newBatchId(T0);
        const s = await store.beginIngest({
          id,
          workspace: 'w',
          createdAt: T0,
          expiresAt: T0 + DAY,
          apiVersion: 'v',
          betas: null,
        });
        await s.append([{ customId: 'a', params: Buffer.from('{}'), model: null }]);
        assert.equal(await store.getBatch('w', id), null);
        assert.equal((await store.listBatches('w', { limit: 10 })).batches.length, 0);
        const b = await s.commit();
        assert.equal(b.status, 'in_progress');
        assert.equal(b.total, 1);
        assert.equal((await store.getBatch('w', id))?.id, id);

        const id2 = newBatchId(T0);
        const s2 = await store.beginIngest({
          id: id2,
          workspace: 'w',
          createdAt: T0,
          expiresAt: T0 + DAY,
          apiVersion: 'v',
          betas: null,
        });
        await s2.append([{ customId: 'a', params: Buffer.from('{}'), model: null }]);
        await s2.abort();
        assert.equal(await store.getBatch('w', id2), null);
        const claimed = await store.claim({ owner: 'o', limit: 10, now: T0, leaseMs: 1000 });
        assert.deepEqual(
          claimed.map((c) => c.batchId),
          [id],
          'only the committed batch has claimable items',
        );
      }),
    );

    test(
      'params bytes come back exactly as stored',
      withStore(async (store) => {
        const raw = Buffer.from('{ "model" : "m",\n "x":"\\u00e9 日本 😀" }');
        const s = await store.beginIngest({
          id: newBatchId(T0),
          workspace: 'w',
          createdAt: T0,
          expiresAt: T0 + DAY,
          apiVersion: 'v',
          betas: 'b1',
        });
        await s.append([{ customId: 'a', params: raw, model: 'm' }]);
        await s.commit();
        const [c] = await store.claim({ owner: 'o', limit: 1, now: T0, leaseMs: 1000 });
        assert.ok(c);
        assert.ok(Buffer.from(c.params).equals(raw));
        assert.equal(c.betas, 'b1');
        assert.equal(c.attempt, 1);
      }),
    );

    test(
      'list is newest first and pages both ways across workspaces',
      withStore(async (store) => {
        const ids: string[] = [];
        for (let i = 0; i < 7; i++) ids.push((await makeBatch(store, 1, { now: T0 + i })).id);
        await makeBatch(store, 1, { workspace: 'other' });
        const newestFirst = [...ids].reverse();
        const p1 = await store.listBatches('w', { limit: 3 });
        assert.deepEqual(
          p1.batches.map((b) => b.id),
          newestFirst.slice(0, 3),
        );
        assert.equal(p1.hasMore, true);
        const p2 = await store.listBatches('w', { limit: 3, afterId: newestFirst[2]! });
        assert.deepEqual(
          p2.batches.map((b) => b.id),
          newestFirst.slice(3, 6),
        );
        const p3 = await store.listBatches('w', { limit: 3, afterId: newestFirst[5]! });
        assert.deepEqual(
          p3.batches.map((b) => b.id),
          newestFirst.slice(6),
        );
        assert.equal(p3.hasMore, false);
        const back = await store.listBatches('w', { limit: 2, beforeId: newestFirst[5]! });
        assert.deepEqual(
          back.batches.map((b) => b.id),
          newestFirst.slice(3, 5),
        );
        assert.equal(back.hasMore, true);
        const back2 = await store.listBatches('w', { limit: 5, beforeId: newestFirst[2]! });
        assert.deepEqual(
          back2.batches.map((b) => b.id),
          newestFirst.slice(0, 2),
        );
        assert.equal(back2.hasMore, false);
        assert.equal(await store.getBatch('other', ids[0]!), null, 'other workspaces do not see it');
      }),
    );

    test(
      'claims are shared fairly: a small batch created after a big one is served at once',
      withStore(async (store) => {
        const big = await makeBatch(store, 3000);
        await store.claim({ owner: 'o', limit: 100, now: T0, leaseMs: 60_000 });
        const small = await makeBatch(store, 10, { now: T0 + 1 });
        const next = await store.claim({ owner: 'o', limit: 20, now: T0, leaseMs: 60_000 });
        assert.equal(next.filter((c) => c.batchSeq === small.seq).length, 10);
        assert.equal(next.filter((c) => c.batchSeq === big.seq).length, 10);
      }),
    );

    test(
      'claims are shared across workspaces first: two batches of one workspace do not outweigh another',
      withStore(async (store) => {
        await makeBatch(store, 100, { workspace: 'a' });
        await makeBatch(store, 100, { workspace: 'a', now: T0 + 1 });
        const b = await makeBatch(store, 100, { workspace: 'b', now: T0 + 2 });
        const got = await store.claim({ owner: 'o', limit: 30, now: T0, leaseMs: 60_000 });
        assert.equal(got.length, 30);
        assert.equal(got.filter((c) => c.batchSeq === b.seq).length, 15);
      }),
    );

    test(
      'concurrent claims and completions: every item is claimed once and each batch ends with exact counts',
      withStore(async (store) => {
        const batches = [await makeBatch(store, 300), await makeBatch(store, 300, { workspace: 'x' })];
        const seen = new Set<number>();
        const ended: string[] = [];
        // Four "workers" claim and complete in parallel; on PostgreSQL they use separate connections.
        await Promise.all(
          ['w1', 'w2', 'w3', 'w4'].map(async (owner) => {
            for (;;) {
              const got = await store.claim({ owner, limit: 25, now: T0, leaseMs: 60_000 });
              if (got.length === 0) return;
              for (const c of got) {
                assert.ok(!seen.has(c.itemId), `item ${c.itemId} claimed twice`);
                seen.add(c.itemId);
              }
              ended.push(...(await store.complete(got.map(done), T0 + 1)));
            }
          }),
        );
        assert.equal(seen.size, 600);
        assert.deepEqual(ended.sort(), batches.map((b) => b.id).sort());
        for (const b of batches) {
          const r = await store.getBatch(b.workspace, b.id);
          assert.deepEqual(r?.counts, { succeeded: 300, errored: 0, canceled: 0, expired: 0 });
          assert.equal((await results(store, b.seq)).length, 300);
        }
      }),
    );

    test(
      'completion is fenced by attempt and ends the batch with its counts',
      withStore(async (store) => {
        const b = await makeBatch(store, 3);
        const claimed = await store.claim({ owner: 'o', limit: 3, now: T0, leaseMs: 1000 });
        assert.equal(claimed.length, 3);
        // The first claim's lease lapses and is rescued; the re-claim gets attempt 2.
        const report = await store.sweep({ now: T0 + 2000, retentionMs: 29 * DAY, chunk: 100 });
        assert.equal(report.rescued, 3);
        const again = await store.claim({ owner: 'p', limit: 3, now: T0 + 2000, leaseMs: 1000 });
        assert.deepEqual(
          again.map((c) => c.attempt),
          [2, 2, 2],
        );
        // A stale completion from the first attempt is dropped.
        assert.deepEqual(await store.complete(claimed.map(done), T0 + 2100), []);
        const [x, y, z] = again;
        assert.deepEqual(
          await store.complete(
            [
              done(x!),
              { ...done(y!), outcome: 'errored', line: erroredLine(y!.customId, 'api_error', 'boom') },
            ],
            T0 + 2200,
          ),
          [],
        );
        // Completing twice is a no-op.
        assert.deepEqual(await store.complete([done(x!)], T0 + 2200), []);
        assert.equal((await store.getBatch('w', b.id))?.status, 'in_progress');
        assert.deepEqual(await store.complete([done(z!)], T0 + 2300), [b.id]);
        const ended = await store.getBatch('w', b.id);
        assert.equal(ended?.status, 'ended');
        assert.equal(ended?.endedAt, T0 + 2300);
        assert.deepEqual(ended?.counts, { succeeded: 2, errored: 1, canceled: 0, expired: 0 });
        const lines = await results(store, b.seq);
        assert.deepEqual(lines.map((l) => l.custom_id).sort(), ['r0', 'r1', 'r2']);
      }),
    );

    test(
      'release returns items without counting the attempt; heartbeat extends leases',
      withStore(async (store) => {
        await makeBatch(store, 2);
        const claimed = await store.claim({ owner: 'o', limit: 2, now: T0, leaseMs: 1000 });
        await store.release([{ itemId: claimed[0]!.itemId, attempt: claimed[0]!.attempt }]);
        assert.equal(
          await store.heartbeat('o', T0 + 900, 1000, [claimed[0]!.itemId, claimed[1]!.itemId]),
          1,
          'only the item still claimed is renewed',
        );
        const r = await store.sweep({ now: T0 + 1500, retentionMs: 29 * DAY, chunk: 100 });
        assert.equal(r.rescued, 0, 'the renewed lease has not lapsed');
        const again = await store.claim({ owner: 'o', limit: 2, now: T0 + 1500, leaseMs: 1000 });
        assert.deepEqual(
          again.map((c) => [c.customId, c.attempt]),
          [[claimed[0]!.customId, 1]],
        );
      }),
    );

    test(
      'a heartbeat renews only the items it lists: an item its worker lost track of lapses and is rescued',
      withStore(async (store) => {
        await makeBatch(store, 2);
        const [kept, lost] = await store.claim({ owner: 'o', limit: 2, now: T0, leaseMs: 1000 });
        assert.ok(kept && lost);
        assert.equal(await store.heartbeat('o', T0 + 900, 1000, [kept.itemId]), 1);
        assert.equal(await store.heartbeat('other', T0 + 900, 1000, [lost.itemId]), 0, 'not its owner');
        const r = await store.sweep({ now: T0 + 1500, retentionMs: 29 * DAY, chunk: 100 });
        assert.equal(r.rescued, 1);
        const again = await store.claim({ owner: 'p', limit: 2, now: T0 + 1500, leaseMs: 1000 });
        assert.deepEqual(
          again.map((c) => [c.customId, c.attempt]),
          [[lost.customId, 2]],
        );
      }),
    );

    test(
      'claims skip the models of lanes with no budget, and take them again once they have it',
      withStore(async (store) => {
        await makeBatch(store, 6, { model: (i) => (i % 2 === 0 ? 'busy' : 'free') });
        const s = await store.beginIngest({
          id: newBatchId(T0 + 1),
          workspace: 'w',
          createdAt: T0 + 1,
          expiresAt: T0 + DAY,
          apiVersion: 'v',
          betas: null,
        });
        await s.append([{ customId: 'no-model', params: Buffer.from('{}'), model: null }]);
        await s.commit();
        const first = await store.claim({
          owner: 'o',
          limit: 10,
          now: T0,
          leaseMs: 60_000,
          skipModels: ['busy'],
        });
        assert.deepEqual(first.map((c) => c.model).sort(), ['free', 'free', 'free', null]);
        const rest = await store.claim({ owner: 'o', limit: 10, now: T0, leaseMs: 60_000, skipModels: [] });
        assert.deepEqual(
          rest.map((c) => [c.customId, c.model]),
          [
            ['r0', 'busy'],
            ['r2', 'busy'],
            ['r4', 'busy'],
          ],
        );
      }),
    );

    test(
      'retry requeues at runAt, fenced by attempt; a 429-style retry gives the attempt back',
      withStore(async (store) => {
        const b = await makeBatch(store, 3);
        const [x, y, z] = await store.claim({ owner: 'o', limit: 3, now: T0, leaseMs: 60_000 });
        assert.ok(x && y && z);
        const n = await store.retry([
          {
            itemId: x.itemId,
            attempt: x.attempt,
            runAt: T0 + 5000,
            countAttempt: true,
            error: 'api_error: 500',
          },
          {
            itemId: y.itemId,
            attempt: y.attempt,
            runAt: T0 + 2000,
            countAttempt: false,
            error: 'rate_limit_error',
          },
          // A stale attempt number changes nothing.
          { itemId: z.itemId, attempt: z.attempt + 1, runAt: T0, countAttempt: true, error: 'stale' },
        ]);
        assert.equal(n, 2);
        assert.deepEqual(await store.claim({ owner: 'o', limit: 3, now: T0 + 1999, leaseMs: 60_000 }), []);
        const atTwo = await store.claim({ owner: 'o', limit: 3, now: T0 + 2000, leaseMs: 60_000 });
        assert.deepEqual(
          atTwo.map((c) => [c.customId, c.attempt]),
          [[y.customId, 1]],
          'the rate-limited retry did not use up an attempt',
        );
        const atFive = await store.claim({ owner: 'o', limit: 3, now: T0 + 5000, leaseMs: 60_000 });
        assert.deepEqual(
          atFive.map((c) => [c.customId, c.attempt]),
          [[x.customId, 2]],
        );
        // A retried item whose batch is canceled meanwhile ends canceled, not run again.
        await store.retry([
          { itemId: atFive[0]!.itemId, attempt: 2, runAt: T0 + 9000, countAttempt: true, error: 'e' },
        ]);
        await store.cancelBatch('w', b.id, T0 + 6000);
        await store.complete([done(atTwo[0]!), done(z)], T0 + 6000);
        const r = await store.sweep({ now: T0 + 6000, retentionMs: 29 * DAY, chunk: 100 });
        assert.equal(r.canceled, 1);
        const ended = await store.getBatch('w', b.id);
        assert.equal(ended?.status, 'ended');
        assert.deepEqual(ended?.counts, { succeeded: 2, errored: 0, canceled: 1, expired: 0 });
      }),
    );

    test(
      'cancel: queued items become canceled, in-flight ones may finish, then the batch ends',
      withStore(async (store) => {
        const b = await makeBatch(store, 5);
        const inflight = await store.claim({ owner: 'o', limit: 2, now: T0, leaseMs: 60_000 });
        const c = await store.cancelBatch('w', b.id, T0 + 10);
        assert.equal(c.kind, 'ok');
        assert.equal(c.kind === 'ok' && c.batch.status, 'canceling');
        assert.equal(c.kind === 'ok' && c.batch.cancelInitiatedAt, T0 + 10);
        const again = await store.cancelBatch('w', b.id, T0 + 20);
        assert.equal(
          again.kind === 'ok' && again.batch.cancelInitiatedAt,
          T0 + 10,
          'a second cancel changes nothing',
        );
        assert.equal((await store.claim({ owner: 'o', limit: 5, now: T0, leaseMs: 1000 })).length, 0);
        const r = await store.sweep({ now: T0 + 30, retentionMs: 29 * DAY, chunk: 2 });
        assert.equal(r.more, true, 'the chunk limit leaves more to do');
        await store.sweep({ now: T0 + 30, retentionMs: 29 * DAY, chunk: 2 });
        assert.equal((await store.getBatch('w', b.id))?.status, 'canceling');
        assert.deepEqual(await store.complete(inflight.map(done), T0 + 40), [b.id]);
        const ended = await store.getBatch('w', b.id);
        assert.deepEqual(ended?.counts, { succeeded: 2, errored: 0, canceled: 3, expired: 0 });
        assert.equal((await store.cancelBatch('w', b.id, T0 + 50)).kind, 'ended');
        assert.equal((await store.cancelBatch('w', 'msgbatch_nope', T0)).kind, 'not_found');
      }),
    );

    test(
      'expiry: queued and in-flight requests become expired; late completions are dropped',
      withStore(async (store) => {
        const b = await makeBatch(store, 4);
        const inflight = await store.claim({ owner: 'o', limit: 1, now: T0, leaseMs: 2 * DAY });
        let r = await store.sweep({ now: T0 + DAY - 1, retentionMs: 29 * DAY, chunk: 100 });
        assert.equal(r.expired, 0);
        r = await store.sweep({ now: T0 + DAY, retentionMs: 29 * DAY, chunk: 100 });
        assert.equal(r.expired, 4);
        assert.deepEqual(r.expiredBatches, [b.id]);
        assert.deepEqual(r.ended, [b.id]);
        assert.deepEqual(await store.complete(inflight.map(done), T0 + DAY + 1), []);
        const ended = await store.getBatch('w', b.id);
        assert.deepEqual(ended?.counts, { succeeded: 0, errored: 0, canceled: 0, expired: 4 });
        const lines = await results(store, b.seq);
        assert.equal(lines.length, 4);
        assert.ok(lines.every((l) => l.result.type === 'expired'));
        assert.equal((await store.claim({ owner: 'o', limit: 4, now: T0 + DAY, leaseMs: 1000 })).length, 0);
      }),
    );

    test(
      'archival at created + retention keeps the batch and drops its results; delete hides everything',
      withStore(async (store) => {
        const b = await makeBatch(store, 2);
        const claimed = await store.claim({ owner: 'o', limit: 2, now: T0, leaseMs: 1000 });
        await store.complete(claimed.map(done), T0 + 5);
        assert.equal((await store.deleteBatch('w', (await makeBatch(store, 1)).id, T0)).kind, 'not_ended');
        let r = await store.sweep({ now: T0 + 29 * DAY - 1, retentionMs: 29 * DAY, chunk: 100 });
        assert.deepEqual(r.archived, []);
        r = await store.sweep({ now: T0 + 29 * DAY, retentionMs: 29 * DAY, chunk: 100 });
        // The other (unfinished) batch expired long ago, so it is archived in the same pass.
        assert.ok(r.archived.includes(b.id));
        const archived = await store.getBatch('w', b.id);
        assert.equal(archived?.archivedAt, T0 + 29 * DAY);
        assert.equal(archived?.status, 'ended');
        assert.deepEqual(await results(store, b.seq), []);
        assert.deepEqual(
          (await store.listBatches('w', { limit: 10 })).batches.some((x) => x.id === b.id),
          true,
        );
        assert.equal((await store.deleteBatch('w', b.id, T0 + 29 * DAY)).kind, 'ok');
        assert.equal(await store.getBatch('w', b.id), null);
        assert.equal((await store.deleteBatch('w', b.id, T0 + 29 * DAY)).kind, 'not_found');
        r = await store.sweep({ now: T0 + 29 * DAY, retentionMs: 29 * DAY, chunk: 100 });
        assert.ok(r.purged >= 1);
      }),
    );

    test(
      'usage is totalled per batch and model from succeeded completions only, and kept for the workspace after delete',
      withStore(async (store) => {
        const b = await makeBatch(store, 4, { model: (i) => (i < 3 ? 'claude-x' : 'local') });
        const [a0, a1, a2, l0] = await store.claim({ owner: 'o', limit: 4, now: T0, leaseMs: 60_000 });
        const other = await makeBatch(store, 1, { workspace: 'v' });
        const u = (input: number, output: number) => ({
          requests: 1,
          inputTokens: input,
          outputTokens: output,
          cacheWriteTokens: 2,
          cacheWrite1hTokens: 1,
          cacheReadTokens: 3,
        });
        await store.complete(
          [
            { ...done(a0!), model: 'claude-x', usage: u(10, 5) },
            { ...done(a1!), model: 'claude-x', usage: u(20, 7) },
            // Errored results cost nothing, even if usage came along.
            {
              ...done(a2!),
              outcome: 'errored',
              line: erroredLine(a2!.customId, 'api_error', 'x'),
              usage: u(99, 99),
            },
          ],
          T0 + 1,
        );
        assert.deepEqual(
          (await store.erroredRequests(b.seq, 10)).map((e) => [e.customId, JSON.parse(e.line).result.type]),
          [[a2!.customId, 'errored']],
        );
        // A stale (fenced-out) completion adds nothing.
        await store.complete([{ ...done(a0!), model: 'claude-x', usage: u(1000, 1000) }], T0 + 2);
        await store.complete([{ ...done(l0!), model: 'local', usage: u(1, 1) }], T0 + 3);
        const expected = [
          {
            model: 'claude-x',
            usage: {
              requests: 2,
              inputTokens: 30,
              outputTokens: 12,
              cacheWriteTokens: 4,
              cacheWrite1hTokens: 2,
              cacheReadTokens: 6,
            },
          },
          { model: 'local', usage: u(1, 1) },
        ];
        assert.deepEqual(await store.batchUsage(b.seq), expected);
        assert.deepEqual(await store.batchUsage(other.seq), []);
        assert.deepEqual(await store.workspaceUsage('v'), []);
        assert.equal((await store.deleteBatch('w', b.id, T0 + 4)).kind, 'ok');
        await store.sweep({ now: T0 + 5, retentionMs: 29 * DAY, chunk: 100 });
        assert.deepEqual(
          await store.workspaceUsage('w'),
          expected,
          "the workspace's totals outlive the batch",
        );
      }),
    );

    test(
      'a request is found by custom_id with its state, attempts, last error and result line',
      withStore(async (store) => {
        const b = await makeBatch(store, 3);
        const r1 = await store.findRequest(b.seq, 'r1');
        assert.deepEqual(
          { ...r1, params: JSON.parse(r1?.params ?? 'null') },
          {
            customId: 'r1',
            state: 'queued',
            attempts: 0,
            lastError: null,
            resultLine: null,
            params: { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'hi 1' }] },
          },
        );
        const [x, y] = await store.claim({ owner: 'o', limit: 2, now: T0, leaseMs: 60_000 });
        assert.equal((await store.findRequest(b.seq, x!.customId))?.state, 'running');
        await store.retry([
          {
            itemId: y!.itemId,
            attempt: y!.attempt,
            runAt: T0 + 10,
            countAttempt: true,
            error: 'api_error: 500',
          },
        ]);
        await store.complete([done(x!)], T0 + 1);
        const finished = await store.findRequest(b.seq, x!.customId);
        assert.equal(finished?.state, 'succeeded');
        assert.equal(finished?.attempts, 1);
        assert.equal(JSON.parse(finished?.resultLine ?? 'null').custom_id, x!.customId);
        const ry = await store.findRequest(b.seq, y!.customId);
        assert.deepEqual(
          { ...ry, params: undefined },
          {
            customId: y!.customId,
            state: 'queued',
            attempts: 1,
            lastError: 'api_error: 500',
            resultLine: null,
            params: undefined,
          },
        );
        assert.equal(await store.findRequest(b.seq, 'nope'), null);
      }),
    );

    test(
      'workers report themselves; the list shows those seen lately; the sweeper forgets the long gone',
      withStore(async (store) => {
        const lanes = [{ backend: 'b', model: 'm', inFlight: 2, limit: 8, waiting: 1, pausedUntil: null }];
        const w = (owner: string, seenAt: number) => ({
          owner,
          startedAt: T0,
          seenAt,
          concurrency: 8,
          running: 2,
          held: 3,
          lanes,
        });
        await store.reportWorker(w('a', T0));
        await store.reportWorker(w('b', T0));
        await store.reportWorker(w('a', T0 + HOUR));
        assert.deepEqual(await store.listWorkers(T0 + 1), [w('a', T0 + HOUR)]);
        assert.equal((await store.listWorkers(T0)).length, 2);
        await store.sweep({ now: T0 + DAY + 1, retentionMs: 29 * DAY, chunk: 100 });
        assert.deepEqual(
          (await store.listWorkers(0)).map((x) => x.owner),
          ['a'],
        );
      }),
    );

    test(
      'queue stats: visible batches by status and queued requests by model',
      withStore(async (store) => {
        assert.deepEqual(await store.queueStats(), { batchesByStatus: {}, queuedByModel: [] });
        const a = await makeBatch(store, 5, { model: (i) => (i < 3 ? 'x' : 'y') });
        await makeBatch(store, 2, { model: () => 'x' });
        const claimed = await store.claim({ owner: 'o', limit: 3, now: T0, leaseMs: 60_000 });
        await store.cancelBatch('w', a.id, T0);
        const s = await store.queueStats();
        assert.deepEqual(s.batchesByStatus, { canceling: 1, in_progress: 1 });
        const queued = Object.fromEntries(s.queuedByModel.map((q) => [q.model, q.queued]));
        const byModel = { x: 5, y: 2 };
        for (const c of claimed) byModel[c.model as 'x' | 'y']--;
        assert.deepEqual(queued, Object.fromEntries(Object.entries(byModel).filter(([, n]) => n > 0)));
      }),
    );

    test(
      'api keys: stored by hash, found, listed and revoked',
      withStore(async (store) => {
        await store.createKey(
          { id: 'key_1', workspace: 'w', prefix: 'sk-barge-abc', createdAt: T0, revokedAt: null },
          'h1',
        );
        assert.equal((await store.findKeyByHash('h1'))?.workspace, 'w');
        assert.equal(await store.findKeyByHash('h2'), null);
        assert.equal((await store.listKeys()).length, 1);
        assert.equal(await store.revokeKey('key_1', T0 + 1), true);
        assert.equal((await store.findKeyByHash('h1'))?.revokedAt, T0 + 1);
        assert.equal(await store.revokeKey('key_1', T0 + 2), false);
      }),
    );
  });
}
