import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

/** The repository root: `bin/barge.js` is resolved from here. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The environment for a child `barge`: no inherited BARGE_* settings, no node:test context, plus `extra`. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('BARGE_') || k === 'NODE_TEST_CONTEXT' || k === 'NODE_OPTIONS') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/** Listens on a loopback `port` (0: any) and closes again: the port it got, or null if it was taken. */
export async function probePort(port: number): Promise<number | null> {
  const srv = createServer();
  const ok = await new Promise<boolean>((resolve) => {
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (!ok) return null;
  const addr = srv.address();
  const got = typeof addr === 'object' && addr ? addr.port : 0;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return got;
}

/** A free loopback port (a throwaway listener's), for tests that must pass a concrete port. */
export async function freePort(): Promise<number> {
  const port = await probePort(0);
  if (port === null) throw new Error('no loopback port to listen on');
  return port;
}

/** One parsed pino line from the server's stdout. */
export type LogLine = Record<string, unknown> & { msg?: string };

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A `barge serve` child process. */
export interface BargeProcess {
  child: ChildProcess;
  pid: number;
  /** `http://127.0.0.1:PORT`: always a loopback address, whatever `--host` was. */
  url: string;
  port: number;
  /** Every JSON log line so far (stdout). */
  logs: LogLine[];
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Settles when the process has exited. */
  exited: Promise<Exit>;
  /** Resolves with the first log line (already seen or future) matching `pred`; fails after `timeoutMs`. */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine>;
  /** Sends `signal` and waits (bounded) for the exit. */
  stop(signal: NodeJS.Signals, timeoutMs: number): Promise<Exit>;
  /** SIGKILL and wait for the exit. */
  kill9(): Promise<Exit>;
}

/** Rejects with a clear message when `p` does not settle within `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `fn` every `intervalMs` until it returns a value other than undefined/false; fails after `timeoutMs`. */
export async function pollUntil<T>(
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  what: string,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      const why = lastErr instanceof Error ? ` (last error: ${lastErr.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The `barge serve` children of each test, so its data directories are removed only after they are dead. */
const childrenOf = new WeakMap<TestContext, Set<ChildProcess>>();

async function killAll(t: TestContext): Promise<void> {
  const children = [...(childrenOf.get(t) ?? [])];
  await Promise.all(
    children.map(async (child) => {
      if (alive(child)) {
        const exit = exitOf(child);
        child.kill('SIGKILL');
        await exit;
      }
    }),
  );
}

/**
 * A fresh data directory for a test. When the test ends, every server it started is SIGKILLed first (if still
 * alive) and then the directory is removed, so no live process writes into a deleted directory.
 */
export function e2eDataDir(t: TestContext, prefix = 'barge-e2e-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(async () => {
    await killAll(t);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** A test's data directory (see `e2eDataDir`), its database file, and `serve` arguments that use it. */
export interface E2eServeDir {
  dataDir: string;
  /** The server's SQLite file, for read-only checks beside it (`countRows`, `readDb`). */
  dbFile: string;
  /** `--data-dir <dataDir> --log-level info` followed by `flags`. */
  serveArgs(...flags: string[]): string[];
}

/** `e2eDataDir` plus the database path and the `serve` arguments every restart on that directory shares. */
export function e2eServeDir(t: TestContext, prefix: string): E2eServeDir {
  const dataDir = e2eDataDir(t, prefix);
  return {
    dataDir,
    dbFile: join(dataDir, 'barge.db'),
    serveArgs: (...flags) => ['--data-dir', dataDir, '--log-level', 'info', ...flags],
  };
}

/** The log line a restart writes when it found the previous process had not stopped cleanly. */
export const RECOVERED = 'recovered after an unclean stop';

/** That recovery log line of a server, if it wrote one. */
export function recoveryOf(server: BargeProcess): LogLine | undefined {
  return server.logs.find((l) => l.msg === RECOVERED);
}

/** pino's level of `warn`: lines at or above it are what a failing e2e test prints to say what went on. */
const WARN_LEVEL = 40;

/**
 * Prints every warning and error the processes logged as test diagnostics, each with its time relative to `since`
 * (a kill, a restart) and its details: an error's code and message, a sweeper's count of rescued requests.
 */
export function reportWarnings(t: TestContext, processes: readonly BargeProcess[], since: number): void {
  for (const p of processes) {
    for (const l of p.logs) {
      if (Number(l.level) < WARN_LEVEL) continue;
      const e = l.err as { message?: string; code?: string } | undefined;
      const detail =
        typeof l.rescued === 'number' ? `rescued ${l.rescued}` : `${e?.code ?? ''} ${e?.message ?? ''}`;
      t.diagnostic(`pid ${p.pid} +${Number(l.time) - since} ms: ${l.msg} ${detail}`);
    }
  }
}

function spawnBarge(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['bin/barge.js', ...args], {
    cwd: REPO_ROOT,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function exitOf(child: ChildProcess): Promise<Exit> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

export interface StartOptions {
  /** Arguments after `serve`. `--port 0` is added unless a port is given (by flag or BARGE_PORT). */
  args?: string[];
  env?: Record<string, string>;
  /** How long start-up may take until the `barge listening on` line. */
  startTimeoutMs?: number;
}

/**
 * Spawns `node bin/barge.js serve …` and waits for its `barge listening on` log line. The process is SIGKILLed when
 * the test ends if it is still alive.
 */
export async function startBarge(t: TestContext, opts: StartOptions = {}): Promise<BargeProcess> {
  const args = [...(opts.args ?? [])];
  const env = opts.env ?? {};
  if (!args.includes('--port') && env.BARGE_PORT === undefined) args.push('--port', '0');
  const child = spawnBarge(['serve', ...args], env);
  const exited = exitOf(child);
  let children = childrenOf.get(t);
  if (!children) {
    children = new Set();
    childrenOf.set(t, children);
  }
  children.add(child);
  t.after(() => killAll(t));
  const logs: LogLine[] = [];
  let stderr = '';
  const waiters = new Set<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();
  let partial = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (s: string) => {
    partial += s;
    let nl = partial.indexOf('\n');
    while (nl >= 0) {
      const text = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      nl = partial.indexOf('\n');
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { msg: text, unparsed: true };
      }
      logs.push(line);
      for (const w of [...waiters]) {
        if (w.pred(line)) {
          waiters.delete(w);
          w.resolve(line);
        }
      }
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    stderr += s;
  });

  const waitForLog = (pred: (l: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> => {
    const seen = logs.find(pred);
    if (seen) return Promise.resolve(seen);
    let waiter!: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void };
    const found = new Promise<LogLine>((resolve, reject) => {
      waiter = { pred, resolve };
      waiters.add(waiter);
      exited.then((e) =>
        reject(
          new Error(
            `barge exited (code ${e.code}, signal ${e.signal}) before logging ${what}; stderr: ${stderr.slice(-2000)}`,
          ),
        ),
      );
    });
    return within(found, timeoutMs, `log line: ${what}`).finally(() => waiters.delete(waiter));
  };

  const ready = await waitForLog(
    (l) => typeof l.msg === 'string' && l.msg.startsWith('barge listening on'),
    opts.startTimeoutMs ?? 20_000,
    '"barge listening on"',
  );
  const port = Number(new URL(String(ready.url)).port);
  const stop = async (signal: NodeJS.Signals, timeoutMs: number): Promise<Exit> => {
    if (alive(child)) child.kill(signal);
    return within(exited, timeoutMs, `barge (pid ${child.pid}) to exit after ${signal}`);
  };
  return {
    child,
    pid: child.pid!,
    url: `http://127.0.0.1:${port}`,
    port,
    logs,
    stderr: () => stderr,
    exited,
    waitForLog,
    stop,
    kill9: () => stop('SIGKILL', 10_000),
  };
}

export interface RunResult extends Exit {
  stdout: string;
  stderr: string;
}

/** Runs a short-lived `barge …` command to completion (bounded), capturing its output. */
export async function runBarge(
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RunResult> {
  const child = spawnBarge(args, opts.env ?? {});
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  const closed = new Promise<Exit>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  try {
    const exit = await within(closed, opts.timeoutMs ?? 20_000, `barge ${args.join(' ')} to exit`);
    return { ...exit, stdout, stderr };
  } finally {
    if (alive(child)) child.kill('SIGKILL');
  }
}

/**
 * Runs `fn` on a fresh read-only connection to a data directory's database. Safe beside a running server (WAL
 * readers never block the writer); a new connection each time, so nothing is held across a SIGKILL and restart.
 */
export function readDb<T>(file: string, fn: (db: Database.Database) => T): T {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 2000');
    return fn(db);
  } finally {
    db.close();
  }
}

/** `SELECT count(*)` of a query on a database file. */
export function countRows(file: string, sql: string, ...params: unknown[]): number {
  return readDb(
    file,
    (db) =>
      db
        .prepare(sql)
        .pluck()
        .get(...params) as number,
  );
}

/** Lines a child process wrote to stderr, minus Node's own warnings (deprecations and their trace hint). */
export function meaningfulStderrLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '' && !/^\(node:\d+\) /.test(l) && !l.startsWith('(Use `node --trace-warnings'));
}
