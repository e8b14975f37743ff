import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { RoutedBackend } from '../../src/backends/backend-routes.ts';
import { type Job, Lane } from '../../src/worker/lane.ts';
import { ManualClock } from '../helpers/manual-clock.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function lane(): Lane {
  const target = { name: 'b', laneLimits: { maxConcurrency: 4 } } as RoutedBackend;
  return new Lane('b\0m', 'm', target, new ManualClock(), Math.random);
}

/** A job standing in for a claimed request; only its identity matters to the lane. */
function job(i: number): Job {
  return { item: { customId: `c${i}` }, params: { big: 'x'.repeat(10_000) } } as unknown as Job;
}

test('a lane keeps its waiting jobs in order, and takes them out with remove', () => {
  const l = lane();
  for (let i = 0; i < 5; i++) l.push(job(i));
  assert.equal(l.waiting, 5);
  assert.equal(l.shift().item.customId, 'c0');
  assert.equal(l.peek()?.item.customId, 'c1');
  const taken = l.remove((j) => j.item.customId === 'c2' || j.item.customId === 'c4');
  assert.deepEqual(
    taken.map((j) => j.item.customId),
    ['c2', 'c4'],
  );
  assert.equal(l.waiting, 2);
  assert.deepEqual([l.shift().item.customId, l.shift().item.customId], ['c1', 'c3']);
  assert.equal(l.waiting, 0);
  assert.equal(l.peek(), undefined);
});

test('a job taken from its lane is no longer held by the lane (its params can be collected)', async () => {
  const l = lane();
  // Filled and emptied in functions of their own: a suspended async frame keeps its temporaries (the last job made
  // or taken), which would hold one job here whatever the lane does.
  const fill = (n: number) => {
    const refs: Array<WeakRef<Job>> = [];
    for (let i = 0; i < n; i++) {
      const j = job(i);
      refs.push(new WeakRef(j));
      l.push(j);
    }
    l.push(job(n));
    return refs;
  };
  const take = (n: number) => {
    for (let i = 0; i < n; i++) l.shift();
  };
  // Fewer than the lane compacts at: before the fix, every taken job stayed referenced until 1,024 were taken.
  const refs = fill(100);
  take(100);
  // WeakRefs hold their targets until the end of the current job: collect on a later turn.
  await new Promise((r) => setImmediate(r));
  gc();
  await new Promise((r) => setImmediate(r));
  gc();
  const alive = refs.flatMap((r, i) => (r.deref() === undefined ? [] : [i]));
  assert.deepEqual(alive, [], `taken jobs still reachable: ${alive.length}`);
  assert.equal(l.waiting, 1, 'the job not taken is still waiting');
  assert.equal(l.peek()?.item.customId, 'c100');
});
