import { EventEmitter } from 'node:events';

/**
 * Events that wake parts of Barge up instead of waiting for their next poll. The batch events carry a batch id;
 * `lane-paused` carries a `LanePause` encoded by `encodeLanePause`.
 */
export type NotifyEvent = 'batch-ready' | 'batch-canceled' | 'batch-expired' | 'batch-ended' | 'lane-paused';

/**
 * The Notifier port: in-process for one process (`LocalNotifier`); PostgreSQL LISTEN/NOTIFY when several processes
 * share a database (`PgNotifier`), where every event also reaches every other process. Delivery is best effort:
 * every listener also polls.
 */
export interface Notifier {
  notify(event: NotifyEvent, payload: string): void;
  on(event: NotifyEvent, handler: (payload: string) => void): () => void;
  close?(): Promise<void>;
}

/** A lane paused by its upstream (a 429 with retry-after, the reset headers), told to the other workers. */
export interface LanePause {
  lane: string;
  untilMs: number;
}

export function encodeLanePause(p: LanePause): string {
  return `${p.untilMs} ${p.lane}`;
}

export function decodeLanePause(payload: string): LanePause | null {
  const space = payload.indexOf(' ');
  const untilMs = Number(payload.slice(0, space));
  return space > 0 && Number.isFinite(untilMs) ? { untilMs, lane: payload.slice(space + 1) } : null;
}

/** A Notifier for a single process. */
export class LocalNotifier implements Notifier {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  notify(event: NotifyEvent, payload: string): void {
    this.emitter.emit(event, payload);
  }

  on(event: NotifyEvent, handler: (payload: string) => void): () => void {
    this.emitter.on(event, handler);
    return () => this.emitter.off(event, handler);
  }
}
