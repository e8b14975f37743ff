import { Worker } from 'node:worker_threads';
import type { ClaimedItem, ClaimOptions, Completion, Retry } from '../store.ts';
import {
  type PackedClaim,
  packCompletions,
  type QueueReply,
  type QueueRequest,
  unpackClaim,
} from './queue-messages.ts';
import type { CompleteResult, Queue } from './queue-operations.ts';

type Op = QueueRequest extends infer R ? (R extends { op: infer O } ? O : never) : never;
type Args<O extends Op> = Omit<Extract<QueueRequest, { op: O }>, 'id' | 'op'>;

// When Barge runs from its TypeScript sources the thread registers tsx itself: an eval'd worker gets no loader hooks
// from the main thread, not even in a process started with `--import tsx` (checked on Node 20).
const BOOT = `
const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.tsx) (await import(workerData.tsx)).register();
  await import(workerData.entry);
})().catch((e) => { setImmediate(() => { throw e; }); });
`;

/**
 * The worker's hot queue operations (claim, complete, retry, heartbeat) on a connection of their own, in a
 * worker thread, so that their statements and the fsync of every completion run on the other core instead of
 * blocking the event loop that drives the upstream calls. Measured on the dispatch benchmark: they were about a
 * quarter of the main thread's time per request. SQLite serialises this connection's write transactions with the
 * main one's (every write transaction there starts IMMEDIATE or is a single statement, so none can fail on a stale
 * read snapshot). The thread starts on the first operation, so processes that never dispatch never start it.
 */
export class QueueThread implements Queue {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private closed = false;

  constructor(private readonly file: string) {}

  async claim(opts: ClaimOptions): Promise<ClaimedItem[]> {
    return unpackClaim((await this.call('claim', { opts })) as PackedClaim);
  }
  complete(completions: Completion[], now: number): Promise<CompleteResult> {
    const packed = packCompletions(completions);
    return this.call('complete', { completions: packed, now }, [
      packed.nums.buffer as ArrayBuffer,
    ]) as Promise<CompleteResult>;
  }
  retry(retries: Retry[]): Promise<number> {
    return this.call('retry', { retries }) as Promise<number>;
  }
  heartbeat(owner: string, now: number, leaseMs: number, itemIds: readonly number[]): Promise<number> {
    return this.call('heartbeat', { owner, now, leaseMs, itemIds }) as Promise<number>;
  }

  /** Waits for the operations already sent, closes the thread's connection and ends the thread. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    await this.send('close', {}).catch(() => {});
    worker.ref(); // until it has exited, or a caller awaiting close() could see the event loop run dry
    await exited;
  }

  private call<O extends Op>(op: O, args: Args<O>, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    return this.send(op, args, transfer);
  }

  private send<O extends Op>(op: O, args: Args<O>, transfer: ArrayBuffer[] = []): Promise<unknown> {
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.waiting.size === 0) worker.ref();
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, op, ...args }, transfer);
    });
  }

  private start(): Worker {
    const ts = import.meta.url.endsWith('.ts');
    const worker = new Worker(BOOT, {
      eval: true,
      workerData: {
        file: this.file,
        entry: new URL(`./queue-thread-main.${ts ? 'ts' : 'js'}`, import.meta.url).href,
        tsx: ts ? import.meta.resolve('tsx/esm/api') : null,
      },
    });
    worker.unref();
    worker.on('message', (r: QueueReply) => {
      const w = this.waiting.get(r.id);
      if (!w) return;
      this.waiting.delete(r.id);
      if (this.waiting.size === 0) worker.unref();
      if (r.ok) w.resolve(r.value);
      else w.reject(Object.assign(new Error(r.message), r.code ? { code: r.code } : {}));
    });
    // A thread that died (it should not) fails what it was doing; the next operation starts a new one.
    const fail = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = null;
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the queue thread exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }
}
