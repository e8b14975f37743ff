import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BatchId } from '../../src/domain/ids.ts';
import {
  packClaim,
  packCompletions,
  unpackClaim,
  unpackCompletions,
} from '../../src/store/sqlite/queue-messages.ts';
import type { ClaimedItem, Completion } from '../../src/store/store.ts';

const usage = (n: number) => ({
  requests: 1,
  inputTokens: n,
  outputTokens: n + 1,
  cacheWriteTokens: n + 2,
  cacheWrite1hTokens: n + 3,
  cacheReadTokens: n + 4,
});

test('completions survive packing for the queue thread exactly, usage and models included', () => {
  const completions: Completion[] = [
    {
      itemId: 2 ** 40 + 7,
      batchSeq: 3,
      attempt: 1,
      outcome: 'succeeded',
      line: '{"custom_id":"a","x":"é😀"}',
      model: 'm-1',
      usage: usage(10),
    },
    { itemId: 9, batchSeq: 4, attempt: 2, outcome: 'errored', line: '{"custom_id":"b"}' },
    { itemId: 10, batchSeq: 3, attempt: 3, outcome: 'succeeded', line: '', model: null, usage: usage(0) },
    { itemId: 11, batchSeq: 3, attempt: 1, outcome: 'succeeded', line: '{}', model: 'm-1', usage: usage(5) },
  ];
  const packed = structuredClone(packCompletions(completions));
  const back = unpackCompletions(packed);
  // A null model is totalled under '' (as the store does for a request without one).
  assert.deepEqual(
    back,
    completions.map((c) => (c.usage ? { ...c, model: c.model ?? '' } : c)),
  );
  assert.deepEqual(packed.models, ['m-1', ''], 'each model is sent once');
});

test('an empty flush packs to nothing', () => {
  assert.deepEqual(unpackCompletions(packCompletions([])), []);
  assert.deepEqual(unpackClaim(packClaim([])), []);
});

test('claimed items survive packing: params bytes exact, batches and models shared', () => {
  const item = (i: number, batch: number, model: string | null, params: string): ClaimedItem => ({
    itemId: batch * 2 ** 20 + i,
    batchSeq: batch,
    batchId: `msgbatch_${batch}` as BatchId,
    customId: `id-${i}_x`,
    attempt: i + 1,
    params: new TextEncoder().encode(params),
    model,
    apiVersion: '2023-06-01',
    betas: batch === 2 ? 'b1,b2' : null,
  });
  const items = [
    item(0, 1, 'claude-x', '{"model":"claude-x","é":1}'),
    item(1, 2, null, '{}'),
    item(2, 1, 'claude-x', ''),
    item(3, 2, 'other', '{"a":[1,2,3]}'),
  ];
  const packed = packClaim(items);
  // As the thread sends it: the numbers and the params buffer transferred, the rest cloned.
  const copy = structuredClone(packed, { transfer: [packed.bytes, packed.nums.buffer as ArrayBuffer] });
  assert.equal(packed.bytes.byteLength, 0, 'the params buffer was moved, not copied');
  const back = unpackClaim(copy);
  assert.equal(back.length, items.length);
  for (let i = 0; i < items.length; i++) {
    const { params, ...rest } = back[i]!;
    const { params: want, ...wantRest } = items[i]!;
    assert.deepEqual(rest, wantRest);
    assert.deepEqual(Buffer.from(params), Buffer.from(want));
  }
  assert.equal(copy.batches.length, 2);
  assert.deepEqual(copy.models, ['claude-x', 'other']);
});
