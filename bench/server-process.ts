// The server under test, as its own process: `node bin/barge.js serve …` on a free port with a fresh data dir.

import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';

const BIN = fileURLToPath(new URL('../bin/barge.js', import.meta.url));

export interface ServerOptions {
  dataDir: string;
  concurrency: number;
  /** Extra node flags for the server process (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
  /** Extra environment variables for the server process. */
  env?: Record<string, string>;
  /** Extra `barge serve` arguments (e.g. `--config FILE`). */
  args?: string[];
}

/** A free TCP port on 127.0.0.1 (bound to port 0, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Fields of `/proc/<pid>/status` in bytes (`VmHWM`, `VmRSS`), or null once the process is gone. */
export function procStatus(pid: number): { vmHWM: number; vmRSS: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) =>
      Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN) * 1024;
    return { vmHWM: kb('VmHWM'), vmRSS: kb('VmRSS') };
  } catch {
    return null;
  }
}

/** Bytes the process caused to be written to storage so far (`write_bytes` of `/proc/<pid>/io`). */
export function procWriteBytes(pid: number): number {
  try {
    return Number(/^write_bytes:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
}

/** Machine-wide CPU time so far from `/proc/stat`, in ms: busy (all non-idle states) and iowait. */
export function machineCpuMs(): { busyMs: number; iowaitMs: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    // cpu user nice system idle iowait irq softirq steal guest guest_nice (USER_HZ ticks)
    const [user, nice, system, , iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    const tick = 1000 / 100;
    return { busyMs: (user! + nice! + system! + irq! + softirq! + steal!) * tick, iowaitMs: iowait! * tick };
  } catch {
    return { busyMs: Number.NaN, iowaitMs: Number.NaN };
  }
}

/** CPU time (user, system; ms) and minor page faults of a process so far, from `/proc/<pid>/stat`. */
export function procStat(pid: number): { userMs: number; sysMs: number; minflt: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm) ": state is [0], minflt [7], utime [11], stime [12] (ticks of USER_HZ = 100).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { userMs: Number(f[11]) * 10, sysMs: Number(f[12]) * 10, minflt: Number(f[7]) };
  } catch {
    return { userMs: Number.NaN, sysMs: Number.NaN, minflt: Number.NaN };
  }
}

/**
 * CPU time (user + system, ms) of a process so far per thread name (`/proc/<pid>/task/<tid>/`): the main thread is
 * named after the executable, libuv's pool `libuv-worker`, V8's GC helpers `V8 DefaultWorke`…
 */
export function threadCpuMs(pid: number): Map<string, { userMs: number; sysMs: number }> {
  const out = new Map<string, { userMs: number; sysMs: number }>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = tid === String(pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const t = out.get(name) ?? { userMs: 0, sysMs: 0 };
      t.userMs += Number(f[11]) * 10;
      t.sysMs += Number(f[12]) * 10;
      out.set(name, t);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** Per-thread CPU (µs per `n` units of work) between two `threadCpuMs` readings, busiest first, as one line. */
export function formatThreadCpu(
  before: Map<string, { userMs: number; sysMs: number }>,
  after: Map<string, { userMs: number; sysMs: number }>,
  n: number,
): string {
  const rows: Array<[string, number, number]> = [];
  for (const [name, a] of after) {
    const b = before.get(name) ?? { userMs: 0, sysMs: 0 };
    const user = ((a.userMs - b.userMs) * 1000) / n;
    const sys = ((a.sysMs - b.sysMs) * 1000) / n;
    if (user + sys > 0) rows.push([name, user, sys]);
  }
  rows.sort((x, y) => y[1] + y[2] - (x[1] + x[2]));
  return rows.map(([name, u, s]) => `${name} ${u.toFixed(0)}+${s.toFixed(0)}`).join(', ');
}

/** Total CPU time (user + system) of a process so far, in ms. */
export function procCpuMs(pid: number): number {
  const s = procStat(pid);
  return s.userMs + s.sysMs;
}

export class ServerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  private exited: Promise<number | null>;
  private stderr = '';

  private constructor(url: string, child: ChildProcess) {
    this.url = url;
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-8192);
    });
    child.stdout?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-8192);
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Recent stdout/stderr of the server (warn-level logs), for error reports. */
  get output(): string {
    return this.stderr;
  }

  static async start(opts: ServerOptions): Promise<ServerProcess> {
    const port = await freePort();
    const args = [
      ...(opts.nodeArgs ?? []),
      BIN,
      'serve',
      '--port',
      String(port),
      '--data-dir',
      opts.dataDir,
      '--mock-latency',
      '0ms',
      '--log-level',
      'warn',
      '--concurrency',
      String(opts.concurrency),
      ...(opts.args ?? []),
    ];
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
    });
    const server = new ServerProcess(`http://127.0.0.1:${port}`, child);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}: ${server.output}`);
      try {
        const res = await request(`${server.url}/healthz`);
        await res.body.dump();
        if (res.statusCode === 200) return server;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await server.stop();
        throw new Error(`server did not become healthy within 30 s: ${server.output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  status() {
    return procStatus(this.pid);
  }

  cpuMs(): number {
    return procCpuMs(this.pid);
  }

  stat() {
    return procStat(this.pid);
  }

  writeBytes(): number {
    return procWriteBytes(this.pid);
  }

  /** SIGTERM (graceful: writes CPU profiles), then SIGKILL after `graceMs`. */
  async stop(graceMs = 20_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Immediate SIGKILL (cleanup on failure). */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
