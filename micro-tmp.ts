import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from './src/store/sqlite/open-database.ts';
import { ingestOperations } from './src/store/sqlite/ingest-session.ts';
import { queueOperations } from './src/store/sqlite/queue-operations.ts';
const hr = process.hrtime.bigint; function hr0() { return hr(); }
import { newBatchId } from './src/domain/ids.ts';

const N = 50_000, CHUNK = Number(process.env.CHUNK ?? 32);
const dir = mkdtempSync(join(tmpdir(), 'micro-'));
const file = join(dir, 'barge.db');
const db = openDatabase(file);
const now = Date.now();
const s = ingestOperations(db)({ id: newBatchId(now), workspace: 'w', createdAt: now, expiresAt: now + 3.6e6, apiVersion: '2023-06-01', betas: null });
const params = Buffer.from(JSON.stringify({ model: 'mock-1', max_tokens: 64, messages: [{ role: 'user', content: 'Hello there, how are you doing today? '.repeat(3) }] }));
for (let i = 0; i < N; i += 1000) {
  const items = [];
  for (let j = i; j < i + 1000; j++) items.push({ customId: `req-${j}`, params, model: 'mock-1' });
  await s.append(items);
}
await s.commit();
db.pragma('wal_checkpoint(TRUNCATE)');
const ops = queueOperations(db);
const line = JSON.stringify({ custom_id: 'req-000000', result: { type: 'succeeded', message: { id: 'msg_0123456789abcdefghijklmn', type: 'message', role: 'assistant', model: 'mock-1', content: [{ type: 'text', text: 'x'.repeat(200) }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 20, output_tokens: 50 } } } });
const cpu0 = process.cpuUsage(); const w0 = hr0();
let tClaim = 0n, tComplete = 0n, tCkpt = 0n, done = 0, walFrames = 0;

let pending: any[] = [];
while (done < N) {
  let t = hr();
  const claimed = ops.claim({ owner: 'worker-abc-123', limit: CHUNK, now, leaseMs: 300_000 });
  tClaim += hr() - t;
  if (claimed.length === 0) break;
  pending.push(...claimed);
  if (pending.length >= 128 || done + pending.length >= N) {
    t = hr();
    const r = ops.stageCompletions(pending.map((c) => ({ itemId: c.itemId, batchSeq: c.batchSeq, attempt: c.attempt, customId: c.customId, model: c.model, outcome: 'succeeded' as const, line, usage: { requests: 1, inputTokens: 20, outputTokens: 50, cacheWriteTokens: 0, cacheWrite1hTokens: 0, cacheReadTokens: 0 } })));
    tComplete += hr() - t;
    done += pending.length;
    pending = [];
    if ((done / 128) % 4 === 0) {
      t = hr();
      const [r2] = db.pragma('wal_checkpoint(PASSIVE)') as any[];
      walFrames += r2.log;
      tCkpt += hr() - t;
    }
  }
}
const cpu = process.cpuUsage(cpu0); const wall = Number(hr() - w0) / 1000;
console.log(`loop wall ${(wall / done).toFixed(2)} µs/item, cpu ${((cpu.user + cpu.system) / done).toFixed(2)} (user ${(cpu.user / done).toFixed(2)}, sys ${(cpu.system / done).toFixed(2)})`);
const us = (x: bigint) => (Number(x) / 1000 / done).toFixed(2);
console.log(`chunk ${CHUNK}: ${done} items; claim ${us(tClaim)} µs/item, complete ${us(tComplete)}, checkpoint ${us(tCkpt)}; WAL frames/item ${(walFrames / done).toFixed(3)}`);
