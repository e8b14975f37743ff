// Preloaded into the server process by bench/run.ts (`node --import ./bench/loop-monitor.mjs bin/barge.js serve …`):
// measures the server's event-loop lag with a 10 ms interval timer and, when the process exits, writes every
// sample to $BARGE_BENCH_LOOP_FILE as { endUs: number[], lagMs: number[] }. A sample's lag is how late its tick
// ran, i.e. how long the loop was blocked just before endUs (µs on the monotonic clock, like CPU profiles).
// Plain JS so it loads before bin/barge.js registers tsx; it touches nothing of Barge's.

import { writeFileSync } from 'node:fs';

const file = process.env.BARGE_BENCH_LOOP_FILE;
if (file) {
  const intervalMs = 10;
  const endUs = [];
  const lagMs = [];
  let last = process.hrtime.bigint();
  const timer = setInterval(() => {
    const now = process.hrtime.bigint();
    endUs.push(Number(now / 1000n));
    lagMs.push(Math.max(0, Number(now - last) / 1e6 - intervalMs));
    last = now;
  }, intervalMs);
  timer.unref();
  process.on('exit', () => {
    try {
      writeFileSync(file, JSON.stringify({ endUs, lagMs }));
    } catch {
      // the bench reports the file as missing
    }
  });
}
