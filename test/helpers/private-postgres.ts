import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { probePort } from './barge-process.ts';

/** Debian's PostgreSQL binaries (the version installed on the machine). */
function pgBin(name: string): string {
  const versions = execFileSync('ls', ['/usr/lib/postgresql']).toString().trim().split('\n').sort();
  return join('/usr/lib/postgresql', versions.at(-1)!, 'bin', name);
}

/** Runs a PostgreSQL tool as the `postgres` user when we are root (initdb and the server refuse to run as root). */
function asPostgres(cmd: string, args: string[]): void {
  const [file, argv] =
    process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  execFileSync(file, argv, { stdio: 'pipe', timeout: 60_000 });
}

export interface PrivatePostgres {
  url: string;
  /** Stops the server at once, as a crash would (`-m immediate`: no shutdown checkpoint, recovery on start). */
  crash(): void;
  start(): void;
  /** The last lines of the server's log (startups, crash recovery, errors), for a failing test's report. */
  logTail(lines: number): string[];
}

/**
 * A free port below the kernel's range for outgoing connections. While the server is down, the processes retrying
 * their connections to its port would otherwise now and then be given that very port as their own source port, and
 * connect to themselves (TCP's simultaneous open): the port is then taken and the server cannot start again (seen:
 * `could not bind IPv4 address "127.0.0.1": Address already in use` after a few dozen restarts).
 */
async function portOutsideEphemeralRange(): Promise<number> {
  let low = 32768;
  try {
    low =
      Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    // not Linux: keep the usual bound
  }
  const from = Math.max(1024, Math.min(20000, low - 2000));
  for (let tries = 0; tries < 50; tries++) {
    const port = from + Math.floor(Math.random() * (low - from));
    if ((await probePort(port)) !== null) return port;
  }
  throw new Error(`no free port found in ${from}-${low - 1}`);
}

/**
 * A PostgreSQL server of the test's own, in a temporary directory on a free port, so a test can stop and restart it
 * without disturbing the shared server other tests use at the same time. Removed when the test ends.
 */
export async function startPrivatePostgres(t: TestContext): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'barge-pg-'));
  if (process.getuid?.() === 0) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), 0);
  const data = join(dir, 'data');
  const port = await portOutsideEphemeralRange();
  asPostgres(pgBin('initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
  const start = () =>
    asPostgres(pgBin('pg_ctl'), ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start']);
  const crash = () => asPostgres(pgBin('pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
  start();
  t.after(() => {
    try {
      crash();
    } catch {
      // already stopped
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const logTail = (lines: number) => {
    try {
      return readFileSync(join(dir, 'log'), 'utf8').trimEnd().split('\n').slice(-lines);
    } catch (e) {
      return [`(no log: ${(e as Error).message})`];
    }
  };
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, crash, start, logTail };
}
