import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type BatchRecord, requestCounts } from '../../src/domain/batch.ts';
import { canCancel, canDelete } from '../../src/domain/batch-status.ts';
import { formatDuration, parseDuration, parseDurationRange } from '../../src/domain/duration.ts';
import { isBatchId, newBatchId, sortableId } from '../../src/domain/ids.ts';
import { toMessageBatch } from '../../src/wire/message-batch.ts';
import { rfc3339 } from '../../src/wire/timestamp.ts';
import { MESSAGE_BATCH_KEYS } from '../helpers/message-batch.ts';

const counts = { succeeded: 3, errored: 1, canceled: 2, expired: 4 };

describe('request_counts', () => {
  test('everything is processing until the batch ends', () => {
    for (const status of ['in_progress', 'canceling'] as const) {
      assert.deepEqual(requestCounts({ status, total: 10, counts }), {
        processing: 10,
        succeeded: 0,
        errored: 0,
        canceled: 0,
        expired: 0,
      });
    }
  });
  test('the four outcomes are revealed at the end and sum to the total', () => {
    const c = requestCounts({ status: 'ended', total: 10, counts });
    assert.deepEqual(c, { processing: 0, ...counts });
    assert.equal(c.succeeded + c.errored + c.canceled + c.expired, 10);
  });
  test('live counts show finished outcomes early when asked', () => {
    assert.deepEqual(requestCounts({ status: 'in_progress', total: 20, counts }, true), {
      processing: 10,
      ...counts,
    });
  });
});

describe('lifecycle rules', () => {
  test('cancel is allowed until the batch ends; delete only after', () => {
    assert.equal(canCancel('in_progress'), true);
    assert.equal(canCancel('canceling'), true);
    assert.equal(canCancel('ended'), false);
    assert.equal(canDelete('in_progress'), false);
    assert.equal(canDelete('canceling'), false);
    assert.equal(canDelete('ended'), true);
  });
});

describe('MessageBatch rendering', () => {
  const base: BatchRecord = {
    seq: 1,
    id: newBatchId(0),
    workspace: 'w',
    status: 'in_progress',
    total: 2,
    counts: { succeeded: 0, errored: 0, canceled: 0, expired: 0 },
    createdAt: Date.parse('2024-09-24T18:37:24.100Z'),
    expiresAt: Date.parse('2024-09-25T18:37:24.100Z'),
    endedAt: null,
    cancelInitiatedAt: null,
    archivedAt: null,
    apiVersion: '2023-06-01',
    betas: null,
  };
  test('all ten keys, results_url only once ended', () => {
    const b = toMessageBatch(base, { baseUrl: 'http://h:1' });
    assert.deepEqual(Object.keys(b).sort(), MESSAGE_BATCH_KEYS);
    assert.equal(b.results_url, null);
    assert.equal(b.created_at, '2024-09-24T18:37:24.100000Z');
    const ended = toMessageBatch(
      { ...base, status: 'ended', endedAt: base.createdAt + 5 },
      { baseUrl: 'http://h:1' },
    );
    assert.equal(ended.results_url, `http://h:1/v1/messages/batches/${base.id}/results`);
    assert.equal(ended.ended_at, rfc3339(base.createdAt + 5));
  });
});

describe('durations', () => {
  test('units', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('10m'), 600_000);
    assert.equal(parseDuration('24h'), 86_400_000);
    assert.equal(parseDuration('29d'), 29 * 86_400_000);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.throws(() => parseDuration('5 parsecs'), /invalid duration/);
    assert.throws(() => parseDuration(''), /invalid duration/);
  });
  test('ranges', () => {
    assert.deepEqual(parseDurationRange('200ms'), { minMs: 200, maxMs: 200 });
    assert.deepEqual(parseDurationRange('50ms-500ms'), { minMs: 50, maxMs: 500 });
    assert.throws(() => parseDurationRange('500ms-50ms'), /upper bound/);
  });
  test('format round-trips', () => {
    for (const s of ['2h', '29d', '10s', '250ms']) assert.equal(formatDuration(parseDuration(s)), s);
  });
});

describe('ids', () => {
  test('batch ids look like the hosted ones and sort by creation, even within one millisecond', () => {
    const ids = Array.from({ length: 1000 }, () => newBatchId(1_700_000_000_000));
    for (const id of ids) {
      assert.match(id, /^msgbatch_01[1-9A-HJ-NP-Za-km-z]{22}$/);
      assert.ok(isBatchId(id));
    }
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(sortableId(1_700_000_000_001) > ids.at(-1)!.slice('msgbatch_'.length));
  });
  test('a clock moving backwards never breaks the order', () => {
    const a = newBatchId(2_000_000_000_000);
    const b = newBatchId(1_000_000_000_000);
    assert.ok(b > a);
  });
});
