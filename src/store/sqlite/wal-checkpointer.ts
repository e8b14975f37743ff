import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// Runs in a worker thread with its own connection. PASSIVE checkpoints never take the write lock, so the main
// thread's writers are not blocked; they just find a short WAL.
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 100');
let stopped = false;
parentPort.on('message', (m) => { if (m === 'stop') stopped = true; });
const pageBytes = db.pragma('page_size', { simple: true });
function tick() {
  if (stopped) { try { db.pragma('wal_checkpoint(PASSIVE)'); db.close(); } catch {} parentPort.postMessage('stopped'); return; }
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    if (r && r.log * pageBytes > workerData.restartBytes) {
      // Under writes that never pause the log is never found fully copied and keeps growing; a RESTART makes the
      // next writer wrap. It holds off writers while it syncs (0.3-0.4 s measured, on the event loop of a writer
      // waiting for its lock), hence a bound well above what one upload writes (~340 MiB for 256 MB).
      db.pragma('wal_checkpoint(RESTART)');
    }
  } catch (e) {
    if (!String(e && e.code).startsWith('SQLITE_BUSY')) parentPort.postMessage({ error: String(e && e.message || e) });
  }
  setTimeout(tick, workerData.intervalMs);
}
tick();
`;

/**
 * Moves WAL checkpoints off the main thread. With better-sqlite3 every statement runs on the event loop, and an
 * automatic checkpoint runs inside whichever commit crosses the threshold, copying up to the whole WAL (measured:
 * about half of a 256 MB upload's write time, in stalls of 50-100 ms). Here the main connection's autocheckpoint is
 * turned off and a worker thread checkpoints every `intervalMs` instead, on the other core.
 */
export class WalCheckpointer {
  private readonly worker: Worker;
  private stopping: Promise<void> | null = null;
  /** The thread is gone (it failed to start, say, because its database was removed first): nothing to stop. */
  private exited = false;

  constructor(
    file: string,
    intervalMs = 25,
    restartBytes = 1024 * 1024 * 1024,
    onError: (message: string) => void = () => {},
  ) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { file, driver, intervalMs, restartBytes },
    });
    this.worker.on('message', (m) => {
      if (m && typeof m === 'object' && 'error' in m) onError(String(m.error));
    });
    this.worker.on('error', (e) => onError(e.message));
    this.worker.once('exit', () => {
      this.exited = true;
    });
    this.worker.unref();
  }

  /** Runs a last checkpoint and stops the thread. */
  stop(): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      if (this.exited) return resolve();
      const done = () => resolve();
      this.worker.on('message', (m) => {
        if (m === 'stopped') done();
      });
      this.worker.once('exit', done);
      this.worker.ref(); // keep the process alive until the last checkpoint is done
      this.worker.postMessage('stop');
    }).then(() => this.worker.terminate().then(() => {}));
    return this.stopping;
  }
}
