import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AttemptDeadline, attemptSignal } from '../../src/backends/attempt-signal.ts';
import { CallAbort, type CallSignal } from '../../src/backends/call-signal.ts';
import type { BackendRequest } from '../../src/backends/model-backend.ts';

test('CallAbort runs each listener once, with its reason, and none that was removed', () => {
  const ctl = new CallAbort();
  const calls: string[] = [];
  const fn = () => calls.push(`fn:${String(ctl.reason)}`);
  const obj = { handleEvent: () => calls.push('obj') };
  const removed = () => calls.push('removed');
  ctl.addEventListener('abort', fn);
  ctl.addEventListener('abort', fn); // a duplicate is ignored, as on an AbortSignal
  ctl.addEventListener('abort', obj, { once: true });
  ctl.addEventListener('abort', removed);
  ctl.removeEventListener('abort', removed);
  assert.equal(ctl.aborted, false);
  assert.doesNotThrow(() => ctl.throwIfAborted());
  ctl.abort('why');
  ctl.abort('again');
  assert.deepEqual(calls, ['fn:why', 'obj']);
  assert.equal(ctl.aborted, true);
  assert.equal(ctl.reason, 'why');
  assert.throws(
    () => ctl.throwIfAborted(),
    (e) => e === 'why',
  );
  // A listener added after the abort never runs (an aborted AbortSignal never fires again).
  ctl.addEventListener('abort', () => calls.push('late'));
  assert.equal(calls.length, 2);
});

test('CallAbort removes the first listener without dropping later ones, and aborts with an AbortError by default', () => {
  const ctl = new CallAbort();
  const calls: number[] = [];
  const a = () => calls.push(1);
  const b = () => calls.push(2);
  const c = () => calls.push(3);
  ctl.addEventListener('abort', a);
  ctl.addEventListener('abort', b);
  ctl.addEventListener('abort', c);
  ctl.removeEventListener('abort', a);
  ctl.removeEventListener('abort', c);
  ctl.abort();
  assert.deepEqual(calls, [2]);
  assert.equal((ctl.reason as DOMException).name, 'AbortError');
});

function request(signal: CallSignal, deadlineOnSignal?: boolean): BackendRequest {
  return {
    customId: 'a',
    params: {},
    rawParams: new Uint8Array(),
    apiVersion: '2023-06-01',
    betas: [],
    attempt: 1,
    signal,
    ...(deadlineOnSignal && { deadlineOnSignal }),
  };
}

test('attemptSignal on a caller-enforced deadline uses the caller signal and reads the deadline from its reason', () => {
  const ctl = new CallAbort();
  const a = attemptSignal(request(ctl, true), 1000);
  assert.equal(a.signal, ctl);
  assert.equal(a.timedOut(), false);
  ctl.abort(new AttemptDeadline(1000));
  assert.equal(a.timedOut(), true);
  a.done();
});

test('attemptSignal with a deadline of its own follows the caller and times out by its timer', async () => {
  const outer = new CallAbort();
  const followed = attemptSignal(request(outer), 60_000);
  outer.abort(new Error('shutting down'));
  assert.equal(followed.signal.aborted, true);
  assert.equal((followed.signal.reason as Error).message, 'shutting down');
  assert.equal(followed.timedOut(), false);
  followed.done();

  // A real AbortSignal fits too; the timer aborts the attempt's own signal, not the caller's.
  const ac = new AbortController();
  const timed = attemptSignal(request(ac.signal), 5);
  await new Promise<void>((resolve) => timed.signal.addEventListener('abort', () => resolve()));
  assert.equal(timed.timedOut(), true);
  assert.ok(timed.signal.reason instanceof AttemptDeadline);
  assert.equal(ac.signal.aborted, false);
  timed.done();

  // Once done, the caller's abort no longer reaches it.
  const outer2 = new CallAbort();
  const settled = attemptSignal(request(outer2), 60_000);
  settled.done();
  outer2.abort();
  assert.equal(settled.signal.aborted, false);
});
