import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';
import { LocalNotifier, type Notifier, type NotifyEvent } from '../../queue/notifier.ts';

const EVENTS = new Set<string>([
  'batch-ready',
  'batch-canceled',
  'batch-expired',
  'batch-ended',
  'lane-paused',
]);
/** NOTIFY payloads are limited to 8000 bytes; a longer one (a huge model name) is only delivered locally. */
const MAX_PAYLOAD = 7900;

/**
 * The Notifier for a PostgreSQL cluster. Events go to this process's listeners at once and to every other process
 * through NOTIFY; LISTEN runs on its own dedicated connection (a pooled one would be handed to other queries, and
 * LISTEN does not survive PgBouncer's transaction pooling). When that connection drops (a server restart) it is
 * re-opened with backoff, and the process's listeners get a `batch-ready` so workers claim whatever they missed;
 * meanwhile the workers' idle polling keeps everything moving.
 */
export class PgNotifier implements Notifier {
  private readonly local = new LocalNotifier();
  /** Tags this process's own NOTIFYs, which PostgreSQL also delivers back to it. */
  private readonly tag = randomBytes(6).toString('hex');
  private readonly channel: string;
  private client: pg.Client | null = null;
  private closed = false;
  private retryMs = 100;
  private retryTimer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly config: pg.ClientConfig,
    private readonly pool: pg.Pool,
    private readonly log: Logger | undefined,
    schema: string | undefined,
  ) {
    this.channel = schema ? `barge_events_${schema}` : 'barge_events';
  }

  /** Connects and listens; throws if the first connection fails (the start-up then fails with the reason). */
  static async start(
    config: pg.ClientConfig,
    pool: pg.Pool,
    opts: { log?: Logger; schema?: string } = {},
  ): Promise<PgNotifier> {
    const n = new PgNotifier(config, pool, opts.log, opts.schema);
    await n.connect();
    return n;
  }

  notify(event: NotifyEvent, payload: string): void {
    this.local.notify(event, payload);
    const message = `${this.tag} ${event} ${payload}`;
    if (Buffer.byteLength(message) > MAX_PAYLOAD) return;
    this.pool.query('SELECT pg_notify($1, $2)', [this.channel, message]).catch((err: Error) => {
      // Best effort: other processes poll. Logged at debug so a database restart does not flood the log.
      this.log?.debug({ err: err.message, event }, 'could not broadcast an event');
    });
  }

  on(event: NotifyEvent, handler: (payload: string) => void): () => void {
    return this.local.on(event, handler);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    const c = new pg.Client(this.config);
    c.on('notification', (msg) => this.receive(msg.payload ?? ''));
    const lost = (err?: Error) => {
      if (this.client !== c) return;
      this.client = null;
      c.end().catch(() => {});
      if (this.closed) return;
      this.log?.warn({ err: err?.message }, 'event connection to PostgreSQL lost; reconnecting');
      this.scheduleReconnect();
    };
    c.on('error', lost);
    c.on('end', () => lost());
    try {
      await c.connect();
      await c.query(`LISTEN ${this.channel}`);
    } catch (err) {
      c.end().catch(() => {});
      throw err;
    }
    if (this.closed) {
      // Closed while this connection was being opened: it must not outlive the notifier (nor keep the process up).
      await c.end().catch(() => {});
      return;
    }
    this.client = c;
    this.retryMs = 100;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect().then(
        () => {
          if (this.closed) return;
          this.log?.info('event connection to PostgreSQL restored');
          // Events sent while disconnected are gone: make every listener look again.
          this.local.notify('batch-ready', '');
        },
        () => {
          this.retryMs = Math.min(this.retryMs * 2, 2000);
          this.scheduleReconnect();
        },
      );
    }, this.retryMs);
    this.retryTimer.unref();
  }

  private receive(message: string): void {
    const a = message.indexOf(' ');
    const b = message.indexOf(' ', a + 1);
    if (a < 0 || b < 0 || message.slice(0, a) === this.tag) return;
    const event = message.slice(a + 1, b);
    if (EVENTS.has(event)) this.local.notify(event as NotifyEvent, message.slice(b + 1));
  }
}
