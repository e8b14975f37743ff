import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from './src/store/sqlite/open-database.ts';
import { ingestOperations } from './src/store/sqlite/ingest-session.ts';
import { newBatchId } from './src/domain/ids.ts';
const hr = process.hrtime.bigint;
const N = 50_000, CHUNK = Number(process.env.CHUNK ?? 32);
const dir = mkdtempSync(join(tmpdir(), 'micro-'));
const db = openDatabase(join(dir, 'barge.db'));
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
const V = process.env.V ?? 'full';
const openBatches = db.prepare(`SELECT seq, id, workspace, api_version, betas FROM batches WHERE status = 'in_progress' AND deleted_at IS NULL AND expires_at > ? ORDER BY seq`);
const upd = db.prepare(`UPDATE items SET state = 1, attempts = attempts + 1, lease_owner = ?, lease_expires_at = ?
       WHERE id IN (SELECT id FROM items WHERE batch_seq = ? AND state = 0 AND run_at <= ? ORDER BY id LIMIT ?)
       RETURNING id, custom_id, attempts, model`);
const sel = db.prepare(`SELECT id, custom_id, attempts, model FROM items WHERE batch_seq = ? AND state = 0 AND run_at <= ? ORDER BY id LIMIT ?`);
const payload = db.prepare('SELECT params FROM payloads WHERE item_id = ?').pluck();
const payloadRange = db.prepare('SELECT item_id, params FROM payloads WHERE item_id BETWEEN ? AND ?');
const begin = db.prepare('BEGIN IMMEDIATE'), commit = db.prepare('COMMIT');
const fin = db.prepare('UPDATE items SET state = 2, lease_owner = NULL, lease_expires_at = NULL WHERE id = ? AND attempts = ? AND state = 1');
const T = { batches: 0n, update: 0n, payload: 0n, begin: 0n, commit: 0n, finish: 0n };
let done = 0;
const cpu0 = process.cpuUsage();
while (done < N) {
  let t = hr();
  begin.run(); T.begin += hr() - t; t = hr();
  const b = openBatches.all(now) as any[]; T.batches += hr() - t; t = hr();
  const rows = (V === 'select' ? sel.all(b[0].seq, now, CHUNK) : upd.all('worker-abc-123', now + 300000, b[0].seq, now, CHUNK)) as any[];
  T.update += hr() - t; t = hr();
  if (V === 'range') { payloadRange.all(rows[0].id, rows[rows.length - 1].id); }
  else for (const r of rows) payload.get(r.id);
  T.payload += hr() - t; t = hr();
  commit.run(); T.commit += hr() - t;
  t = hr();
  if (V !== 'select') { begin.run(); for (const r of rows) fin.run(r.id, r.attempts); commit.run(); }
  T.finish += hr() - t;
  done += rows.length;
  if (V === 'select') db.prepare('UPDATE items SET state = 2 WHERE id BETWEEN ? AND ?').run(rows[0].id, rows[rows.length - 1].id);
  if (done % 3200 === 0) db.pragma('wal_checkpoint(PASSIVE)');
}
const cpu = process.cpuUsage(cpu0);
console.log(V, CHUNK, Object.entries(T).map(([k, v]) => `${k} ${(Number(v) / 1000 / done).toFixed(2)}`).join(', '), `| cpu ${((cpu.user + cpu.system) / done).toFixed(2)} µs/item`);
