// The body of the queue thread (see queue-thread.ts): one connection of its own, the same queue operations.
import { fdatasync, openSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from './open-database.ts';
import { packClaim, type QueueReply, type QueueRequest, unpackCompletions } from './queue-messages.ts';
import { queueOperations } from './queue-operations.ts';

const port = parentPort!;
const file = (workerData as { file: string }).file;
const db = openDatabase(file, { mmap: false });
const ops = queueOperations(db);
/** The WAL, opened once it exists (after the first commit), to sync it off the write lock. */
let walFd: number | null = null;
/** Completions waiting for their sync, and a close waiting for them. */
let syncing = 0;
let closeAfterSync: (() => void) | null = null;

type Sent = { reply: QueueReply; transfer?: ArrayBuffer[] };

function reply(out: Sent): void {
  port.postMessage(out.reply, out.transfer ?? []);
}

function failure(id: number, e: unknown): Sent {
  const err = e as { message?: unknown; code?: unknown };
  return {
    reply: {
      id,
      ok: false,
      message: String(err?.message ?? e),
      code: typeof err?.code === 'string' ? err.code : undefined,
    },
  };
}

/**
 * Completion: the results are committed with synchronous=NORMAL, so the write lock is released before the disk is
 * touched and the claims queued behind keep flowing; the WAL is then synced on libuv's pool while this thread takes
 * further messages, and only after that are the drained batches ended (FULL) and the completion acknowledged.
 */
function complete(m: Extract<QueueRequest, { op: 'complete' }>): void {
  const { written, drained } = ops.stageCompletions(unpackCompletions(m.completions));
  walFd ??= openSync(`${file}-wal`, 'r');
  syncing++;
  fdatasync(walFd, (err) => {
    syncing--;
    if (err) reply(failure(m.id, err));
    else {
      try {
        reply({ reply: { id: m.id, ok: true, value: { written, ended: ops.endBatches(drained, m.now) } } });
      } catch (e) {
        reply(failure(m.id, e));
      }
    }
    if (syncing === 0) closeAfterSync?.();
  });
}

function run(m: QueueRequest): Sent | null {
  switch (m.op) {
    case 'claim': {
      const packed = packClaim(ops.claim(m.opts));
      return {
        reply: { id: m.id, ok: true, value: packed },
        transfer: [packed.bytes, packed.nums.buffer as ArrayBuffer],
      };
    }
    case 'complete':
      complete(m);
      return null;
    case 'retry':
      return { reply: { id: m.id, ok: true, value: ops.retry(m.retries) } };
    case 'heartbeat':
      return { reply: { id: m.id, ok: true, value: ops.heartbeat(m.owner, m.now, m.leaseMs, m.itemIds) } };
    case 'close':
      closeAfterSync = () => {
        db.close();
        reply({ reply: { id: m.id, ok: true, value: null } });
        port.close();
      };
      if (syncing === 0) closeAfterSync();
      return null;
  }
}

port.on('message', (m: QueueRequest) => {
  let out: Sent | null;
  try {
    out = run(m);
  } catch (e) {
    out = failure(m.id, e);
  }
  if (out) reply(out);
});
