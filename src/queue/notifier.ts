import { EventEmitter } from 'node:events';

/** Events that wake parts of Barge up instead of waiting for their next poll. */
export type NotifyEvent = 'batch-ready' | 'batch-canceled' | 'batch-expired' | 'batch-ended';

/** The Notifier port: in-process today; PostgreSQL LISTEN/NOTIFY when several processes share a database. */
export interface Notifier {
  notify(event: NotifyEvent, batchId: string): void;
  on(event: NotifyEvent, handler: (batchId: string) => void): () => void;
}

/** A Notifier for a single process. */
export class LocalNotifier implements Notifier {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  notify(event: NotifyEvent, batchId: string): void {
    this.emitter.emit(event, batchId);
  }

  on(event: NotifyEvent, handler: (batchId: string) => void): () => void {
    this.emitter.on(event, handler);
    return () => this.emitter.off(event, handler);
  }
}
