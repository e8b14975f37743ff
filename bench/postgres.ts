// The PostgreSQL issue's targets (`npm run bench -- --only pg`), each beside the SQLite store measured in the same
// run on the same machine:
//
//   P1. Ingest of the 100,000-request, ~256 MB body (bench/body.ts) into a `--database-url` server (`--role api`):
//       time to the 200 and the server's peak RSS (VmHWM). Baseline: the same body into a SQLite server.
//   P2. Dispatch to an instant upstream (`barge mock-upstream --latency 0ms`) by one `--role api` and two
//       `--role worker` processes sharing one schema: requests/s from the create response to `ended`. Baseline:
//       one SQLite `barge serve` on the same upstream and the same batch.
//   P3. The cost of growth: in this process, a PgStore (and, as the baseline, a SqliteStore) with 1, 10 and 100
//       in-progress batches; mean time per claimed item of `claim({ limit: 64 })` and per completed item of
//       `complete()`, alternating as a worker does.
//
// Every schema this part creates is named `barge_bench_<pid>_…` and dropped at the end; leftovers of a bench that
// was killed (its pid gone) are dropped at the start.

import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { request } from 'undici';
import { newBatchId } from '../src/domain/ids.ts';
import { PgStore } from '../src/store/postgres/pg-store.ts';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import type { Completion, Store } from '../src/store/store.ts';
import { succeededLine } from '../src/wire/result-line.ts';
import { BodyShape, MAX_REQUESTS } from './body.ts';
import { API_HEADERS, createBatch } from './client.ts';
import { formatSummary, monoUs, summarizeProfile, type Window } from './cpu-profile.ts';
import { dispatchBatch, params, startUpstream, writeUpstreamConfig } from './dispatch.ts';
import { machineCpuMs, procCpuMs, ServerProcess } from './server-process.ts';
import { fmtInt, fmtMBps, fmtMiB, fmtMs, fmtRate, fmtS, MiB, percentile } from './stats.ts';

export const TARGET_PG_INGEST_MS = 10_000;
export const TARGET_PG_RSS_BYTES = 512 * MiB;
export const TARGET_PG_RATE = 3000;

/** In-progress batches for the cost-of-growth figure, the claim size, and the measured claim+complete rounds. */
const GROWTH_BATCHES = [1, 10, 100] as const;
const CLAIM_LIMIT = 64;
const GROWTH_ROUNDS = 150;
const GROWTH_WARMUP = 10;

export interface PgBenchOptions {
  tmp: string;
  databaseUrl: string;
  /** Requests in the ingest body (100,000 for the figure; fewer for a quick run, the time target scales). */
  ingestRequests: number;
  /** Requests in the dispatch batch. */
  dispatchRequests: number;
  /** Each server's --concurrency and the backend's max_concurrency (per process). */
  concurrency: number;
  log: (m: string) => void;
  profDir?: string | null;
}

interface IngestFigure {
  ms: number;
  vmHWM: number;
  /** CPU of the Barge server while ingesting, in ms; PostgreSQL's is in `pg`. */
  serverCpuMs: number;
  machineBusyMs: number;
  /** CPU of this (the bench) process: the upload, the polls, the samplers. */
  benchCpuMs: number;
  pg: PgActivity;
}

interface DispatchFigure {
  ms: number;
  /** CPU per request, µs: each Barge process (api first), the upstream, PostgreSQL. */
  processUs: Array<[string, number]>;
  upstreamUs: number;
  machineBusyMs: number;
  benchCpuMs: number;
  /** Upstream calls per worker (from `/barge/v1/lanes`). */
  callsPerWorker: number[];
  pg: PgActivity;
}

interface GrowthRow {
  batches: number;
  itemsPerBatch: number;
  /** Mean µs per claimed (completed) item, and p50/p99 ms of one claim (complete) call. */
  claimUs: number;
  completeUs: number;
  claimP50: number;
  claimP99: number;
  completeP50: number;
  completeP99: number;
}

export interface PgBenchResults {
  /** The commit the servers ran, and whether src/ had uncommitted changes then. */
  code: string;
  bodyBytes: number;
  ingestRequests: number;
  dispatchRequests: number;
  concurrency: number;
  ingest: { pg: IngestFigure; sqlite: IngestFigure };
  dispatch: { pg: DispatchFigure; sqlite: DispatchFigure };
  growth: { pg: GrowthRow[]; sqlite: GrowthRow[] };
}

// ---- processes and schemas this part owns, for clean-up on failure and Ctrl-C -----------------------------

const live = new Set<ServerProcess | ChildProcess>();

/** SIGKILLs every process this part started that is still running (synchronous, for signal handlers). */
export function killPgBenchProcesses(): void {
  for (const p of live) {
    if (p instanceof ServerProcess) p.kill();
    else if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }
  live.clear();
}

const SCHEMA_PREFIX = 'barge_bench_';
const schemaName = (what: string) => `${SCHEMA_PREFIX}${process.pid}_${what}`;

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, application_name: 'barge-bench' });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function dropSchema(url: string, schema: string): Promise<void> {
  await withClient(url, (c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
}

/** Drops `barge_bench_<pid>_…` schemas whose bench process is gone (a run that was killed). */
async function dropStaleSchemas(url: string, log: (m: string) => void): Promise<void> {
  await withClient(url, async (c) => {
    const { rows } = await c.query<{ nspname: string }>(
      `SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)`,
      [SCHEMA_PREFIX],
    );
    for (const { nspname } of rows) {
      const pid = Number(/^barge_bench_(\d+)_/.exec(nspname)?.[1]);
      if (!Number.isInteger(pid) || isAlive(pid)) continue;
      log(`dropping schema ${nspname} left by an earlier bench (pid ${pid} is gone)`);
      await c.query(`DROP SCHEMA IF EXISTS ${nspname} CASCADE`);
    }
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// ---- PostgreSQL's side: its CPU and what its Barge connections wait on ------------------------------------

/** CPU time so far of every running `postgres` process (postmaster, backends, WAL writer, checkpointer…), by pid. */
function postgresCpu(): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/comm`, 'utf8').trim() !== 'postgres') continue;
    } catch {
      continue;
    }
    const ms = procCpuMs(Number(name));
    if (Number.isFinite(ms)) out.set(Number(name), ms);
  }
  return out;
}

/** Local TCP ports of the sockets the given processes hold (their PostgreSQL connections among them). */
function tcpPortsOf(pids: readonly number[]): Set<number> {
  const ports = new Set<number>();
  if (pids.length === 0) return ports;
  const portOfInode = new Map<string, number>();
  try {
    // sl local_address rem_address st … uid timeout inode
    for (const line of readFileSync(`/proc/${pids[0]}/net/tcp`, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9) portOfInode.set(f[9]!, Number.parseInt(f[1]!.split(':')[1]!, 16));
    }
  } catch {
    return ports;
  }
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        const port = inode && portOfInode.get(inode);
        if (port) ports.add(port);
      } catch {
        // closed meanwhile
      }
    }
  }
  return ports;
}

/** What PostgreSQL did for the bench's Barge processes during one phase, and for everyone else. */
interface PgActivity {
  samples: number;
  /** Mean number of our processes' connections that were not idle, per sample. */
  meanActive: number;
  /** (role, state, wait event, statement) → share of the busy samples of our connections. */
  top: Array<[string, number]>;
  /** CPU (ms) of the backends serving our processes, of other clients' backends, and of the rest of PostgreSQL
   * (WAL writer, checkpointer, autovacuum, backends that exited meanwhile). */
  oursCpuMs: number;
  othersCpuMs: number;
  backgroundCpuMs: number;
  /** Mean number of other clients' connections that were not idle (another user of the same server). */
  othersActive: number;
}

/**
 * Watches PostgreSQL during a phase: CPU of every postgres process, and every ~50 ms a `pg_stat_activity` sample
 * (over its own connection) of what the connections of `pids` (found by their local TCP ports) are doing, waiting
 * on and running. Connections of other clients are counted apart, so a neighbour's load shows instead of blurring
 * the figures.
 */
async function watchPostgres(url: string, pids: readonly number[]): Promise<{ stop(): Promise<PgActivity> }> {
  const c = new pg.Client({ connectionString: url, application_name: 'barge-bench-sampler' });
  await c.connect();
  const cpu0 = postgresCpu();
  const ours = new Set<number>();
  const others = new Set<number>();
  const counts = new Map<string, number>();
  let samples = 0;
  let active = 0;
  let othersActive = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const ports = tcpPortsOf(pids);
      const { rows } = await c.query<{
        pid: number;
        port: number | null;
        app: string;
        state: string | null;
        wait: string | null;
        query: string;
      }>(
        `SELECT pid, client_port AS port, application_name AS app, state,
                CASE WHEN wait_event IS NULL THEN NULL ELSE wait_event_type || ':' || wait_event END AS wait,
                regexp_replace(left(query, 60), '\\s+', ' ', 'g') AS query
         FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`,
      );
      samples++;
      for (const r of rows) {
        if (r.port === null || !ports.has(r.port)) {
          others.add(r.pid);
          if (r.state !== 'idle') othersActive++;
          continue;
        }
        ours.add(r.pid);
        if (r.state === 'idle') continue;
        active++;
        const key = `${r.app} ${r.state} ${r.wait ?? '(on CPU)'}: ${r.query.trim()}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await c.end();
      let oursCpuMs = 0;
      let othersCpuMs = 0;
      let backgroundCpuMs = 0;
      for (const [pid, ms] of postgresCpu()) {
        const d = ms - (cpu0.get(pid) ?? 0);
        if (ours.has(pid)) oursCpuMs += d;
        else if (others.has(pid)) othersCpuMs += d;
        else backgroundCpuMs += d;
      }
      const top = [...counts]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([k, n]): [string, number] => [k, n / Math.max(1, active)]);
      return {
        samples,
        meanActive: active / Math.max(1, samples),
        top,
        oursCpuMs,
        othersCpuMs,
        backgroundCpuMs,
        othersActive: othersActive / Math.max(1, samples),
      };
    },
  };
}

const cpuMsSince = (u: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(u);
  return (d.user + d.system) / 1000;
};

const perRequest = (n: number) => (ms: number) => `${((ms * 1000) / n).toFixed(0)} µs`;

const fmtCpu = (a: PgActivity, per: (ms: number) => string) =>
  `postgres ${per(a.oursCpuMs)} (our backends) + ${per(a.backgroundCpuMs)} (background) + ${per(a.othersCpuMs)} ` +
  `(other clients' backends)`;

/** Multi-line description of what our connections were doing. */
const fmtActivity = (a: PgActivity) =>
  [
    `${a.samples} pg_stat_activity samples: ${a.meanActive.toFixed(2)} of our connections busy on average ` +
      `(other clients: ${a.othersActive.toFixed(2)}); of our busy samples:`,
    ...a.top.map(([k, share]) => `    ${(share * 100).toFixed(0).padStart(3)}%  ${k}`),
  ].join('\n');

// ---- P1: ingest ---------------------------------------------------------------------------------------------

async function startServer(
  o: PgBenchOptions,
  dataDir: string,
  args: string[],
  profile: boolean,
): Promise<ServerProcess> {
  const srv = await ServerProcess.start({
    dataDir,
    concurrency: o.concurrency,
    args,
    ...(profile && o.profDir && { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${o.profDir}`] }),
  });
  live.add(srv);
  return srv;
}

async function stopServer(srv: ServerProcess): Promise<void> {
  await srv.stop();
  live.delete(srv);
}

/** Prints where the main thread of `srv` spent `window` (when it was profiled). */
function printProfile(o: PgBenchOptions, pid: number, window: Window | null, what: string): void {
  if (!o.profDir || !window) return;
  const main = readdirSync(o.profDir)
    .filter((f) => f.endsWith('.cpuprofile') && f.includes(`.${pid}.0.`))
    .map((f) => join(o.profDir!, f))[0];
  if (main)
    for (const s of summarizeProfile(main, [window], 20)) o.log(`${what} CPU profile:\n${formatSummary(s)}`);
}

async function ingestOnce(
  o: PgBenchOptions,
  bodyFile: string,
  kind: 'pg' | 'sqlite',
  schema: string,
): Promise<IngestFigure> {
  const args = kind === 'pg' ? ['--database-url', o.databaseUrl, '--pg-schema', schema, '--role', 'api'] : [];
  const srv = await startServer(o, join(o.tmp, `pg-part-ingest-${kind}`), args, kind === 'pg');
  let window: Window | null = null;
  try {
    const watch = await watchPostgres(o.databaseUrl, [srv.pid]);
    const cpu0 = srv.cpuMs();
    const m0 = machineCpuMs();
    const bench0 = process.cpuUsage();
    const fromUs = monoUs();
    const created = await createBatch(srv.url, bodyFile);
    window = { name: `ingest into ${kind} (create → 200)`, fromUs, toUs: monoUs() };
    const fig: IngestFigure = {
      ms: created.ms,
      vmHWM: srv.status()?.vmHWM ?? Number.NaN,
      serverCpuMs: srv.cpuMs() - cpu0,
      machineBusyMs: machineCpuMs().busyMs - m0.busyMs,
      benchCpuMs: cpuMsSince(bench0),
      pg: await watch.stop(),
    };
    if (created.batch.request_counts.processing !== o.ingestRequests) {
      throw new Error(`ingest (${kind}): ${JSON.stringify(created.batch.request_counts)}`);
    }
    o.log(
      `ingest into ${kind === 'pg' ? 'PostgreSQL (--role api)' : 'SQLite'}: 200 after ${fmtS(fig.ms)}; ` +
        `VmHWM ${fmtMiB(fig.vmHWM)}; CPU: server ${fmtS(fig.serverCpuMs)}, ${fmtCpu(fig.pg, fmtS)}, ` +
        `machine ${fmtS(fig.machineBusyMs)}` +
        (kind === 'pg' ? `\n  ${fmtActivity(fig.pg)}` : ''),
    );
    return fig;
  } finally {
    await stopServer(srv);
    printProfile(o, srv.pid, window, `ingest server (${kind})`);
  }
}

// ---- P2: dispatch --------------------------------------------------------------------------------------------

async function callsOf(srv: ServerProcess): Promise<number> {
  const res = await request(`${srv.url}/barge/v1/lanes`, { headers: API_HEADERS });
  const lanes = (await res.body.json()) as { data: Array<{ calls: { count: number } | null }> };
  return lanes.data.reduce((sum, l) => sum + (l.calls?.count ?? 0), 0);
}

async function dispatchOnce(
  o: PgBenchOptions,
  upstream: { url: string; child: ChildProcess },
  config: string,
  kind: 'pg' | 'sqlite',
  schema: string,
): Promise<DispatchFigure> {
  const procs: Array<[string, ServerProcess]> = [];
  let window: Window | null = null;
  try {
    const common = ['--config', config];
    if (kind === 'sqlite') {
      procs.push(['server', await startServer(o, join(o.tmp, 'pg-part-dispatch-sqlite'), common, false)]);
    } else {
      const pgArgs = ['--database-url', o.databaseUrl, '--pg-schema', schema, ...common];
      // The api process first: it creates the schema; then the workers, which find it migrated.
      procs.push([
        'api',
        await startServer(o, join(o.tmp, 'pg-part-api'), [...pgArgs, '--role', 'api'], false),
      ]);
      const workers = await Promise.all(
        [1, 2].map((w) =>
          startServer(o, join(o.tmp, `pg-part-worker${w}`), [...pgArgs, '--role', 'worker'], true),
        ),
      );
      for (const [i, w] of workers.entries()) procs.push([`worker ${i + 1}`, w]);
    }
    const api = procs[0]![1];
    // The meters start at the create response, like the rate.
    let watch: Awaited<ReturnType<typeof watchPostgres>> | null = null;
    let cpu0: number[] = [];
    let up0 = 0;
    let m0 = machineCpuMs();
    let bench0 = process.cpuUsage();
    const { ms, fromUs } = await dispatchBatch(api.url, o.dispatchRequests, async () => {
      watch = await watchPostgres(
        o.databaseUrl,
        procs.map(([, p]) => p.pid),
      );
      cpu0 = procs.map(([, p]) => p.cpuMs());
      up0 = procCpuMs(upstream.child.pid!);
      m0 = machineCpuMs();
      bench0 = process.cpuUsage();
    });
    window = { name: `dispatch (${kind}): create response → ended`, fromUs, toUs: monoUs() };
    const n = o.dispatchRequests;
    const fig: DispatchFigure = {
      ms,
      processUs: procs.map(([name, p], i) => [name, ((p.cpuMs() - cpu0[i]!) * 1000) / n]),
      upstreamUs: ((procCpuMs(upstream.child.pid!) - up0) * 1000) / n,
      machineBusyMs: machineCpuMs().busyMs - m0.busyMs,
      benchCpuMs: cpuMsSince(bench0),
      callsPerWorker: await Promise.all(procs.filter(([name]) => name !== 'api').map(([, p]) => callsOf(p))),
      pg: await watch!.stop(),
    };
    o.log(
      `dispatch (${kind === 'pg' ? 'PostgreSQL: api + 2 workers' : 'SQLite: one process'}): ${fmtInt(n)} requests ` +
        `create → ended in ${fmtS(ms)} (${fmtRate(n, ms)}); upstream calls per worker ` +
        `${fig.callsPerWorker.map(fmtInt).join(' + ')}; CPU per request: ` +
        `${fig.processUs.map(([name, us]) => `${name} ${us.toFixed(0)} µs`).join(', ')}, upstream ` +
        `${fig.upstreamUs.toFixed(0)} µs, ${fmtCpu(fig.pg, perRequest(n))}; machine busy ` +
        `${(fig.machineBusyMs / ms).toFixed(2)} cores` +
        (kind === 'pg' ? `\n  ${fmtActivity(fig.pg)}` : ''),
    );
    return fig;
  } finally {
    await Promise.all(procs.map(([, p]) => stopServer(p)));
    for (const [name, p] of procs) if (name !== 'api') printProfile(o, p.pid, window, `dispatch ${name}`);
  }
}

// ---- P3: the cost of growth ---------------------------------------------------------------------------------

const DAY = 86_400_000;

/** One in-progress batch of `n` small requests, staged in chunks of 1,000 like the server does. */
async function fillBatch(store: Store, n: number, now: number): Promise<void> {
  const s = await store.beginIngest({
    id: newBatchId(now),
    workspace: 'bench',
    createdAt: now,
    expiresAt: now + DAY,
    apiVersion: '2023-06-01',
    betas: null,
  });
  for (let start = 0; start < n; start += 1000) {
    const items = [];
    for (let i = start; i < Math.min(n, start + 1000); i++) {
      items.push({
        customId: `g-${i}`,
        params: Buffer.from(JSON.stringify(params(i))),
        model: 'bench-local',
      });
    }
    await s.append(items);
  }
  await s.commit();
}

/**
 * Fills `store` with `batches` in-progress batches (the same number of items in all, so that only the number of
 * batches changes; twice what the rounds claim, so none runs dry), then alternates `claim({ limit: 64 })` and
 * `complete()` of what it claimed, as a worker does, timing each call.
 */
async function growthAt(store: Store, batches: number): Promise<GrowthRow> {
  const now = Date.now();
  const itemsPerBatch = Math.ceil((2 * (GROWTH_ROUNDS + GROWTH_WARMUP) * CLAIM_LIMIT) / batches);
  for (let b = 0; b < batches; b++) await fillBatch(store, itemsPerBatch, now);
  const claimMs: number[] = [];
  const completeMs: number[] = [];
  let items = 0;
  for (let round = 0; round < GROWTH_WARMUP + GROWTH_ROUNDS; round++) {
    let t = performance.now();
    const claimed = await store.claim({ owner: 'bench', limit: CLAIM_LIMIT, now, leaseMs: 600_000 });
    const c = performance.now() - t;
    if (claimed.length !== CLAIM_LIMIT) throw new Error(`claim returned ${claimed.length} items`);
    const completions: Completion[] = claimed.map((it) => ({
      itemId: it.itemId,
      batchSeq: it.batchSeq,
      attempt: it.attempt,
      outcome: 'succeeded',
      line: succeededLine(it.customId, { ok: true }),
    }));
    t = performance.now();
    await store.complete(completions, now);
    const d = performance.now() - t;
    if (round < GROWTH_WARMUP) continue;
    claimMs.push(c);
    completeMs.push(d);
    items += claimed.length;
  }
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return {
    batches,
    itemsPerBatch,
    claimUs: (sum(claimMs) * 1000) / items,
    completeUs: (sum(completeMs) * 1000) / items,
    claimP50: percentile(claimMs, 50),
    claimP99: percentile(claimMs, 99),
    completeP50: percentile(completeMs, 50),
    completeP99: percentile(completeMs, 99),
  };
}

async function growth(o: PgBenchOptions, kind: 'pg' | 'sqlite'): Promise<GrowthRow[]> {
  const rows: GrowthRow[] = [];
  for (const n of GROWTH_BATCHES) {
    let store: Store;
    let drop = async () => {};
    if (kind === 'pg') {
      const schema = schemaName(`growth${n}`);
      drop = () => dropSchema(o.databaseUrl, schema);
      store = await PgStore.open({
        url: o.databaseUrl,
        schema,
        poolSize: 4,
        applicationName: 'barge-growth',
      });
    } else {
      const dir = join(o.tmp, `pg-part-growth-sqlite-${n}`);
      mkdirSync(dir, { recursive: true });
      drop = async () => rmSync(dir, { recursive: true, force: true });
      // As `barge serve` opens it (with the results spool).
      store = new SqliteStore(SqliteStore.fileIn(dir), { spool: true });
    }
    try {
      const row = await growthAt(store, n);
      rows.push(row);
      o.log(
        `growth (${kind}), ${n} in-progress batches of ${fmtInt(row.itemsPerBatch)} items: claim ` +
          `${row.claimUs.toFixed(0)} µs/item (p50 ${fmtMs(row.claimP50)}, p99 ${fmtMs(row.claimP99)} per call of ` +
          `${CLAIM_LIMIT}), complete ${row.completeUs.toFixed(0)} µs/item (p50 ${fmtMs(row.completeP50)}, p99 ` +
          `${fmtMs(row.completeP99)} per call)`,
      );
    } finally {
      await store.close();
      await drop();
    }
  }
  return rows;
}

/** `<commit>`, plus a note when src/ differs from it (the servers run the working tree). */
function codeVersion(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();
    const dirty = git('status', '--porcelain', '--', 'src');
    return `${git('rev-parse', '--short', 'HEAD')}${dirty ? ` + uncommitted src/ changes (${dirty.split('\n').length} files)` : ''}`;
  } catch {
    return 'unknown (no git)';
  }
}

// ---- the part ------------------------------------------------------------------------------------------------

export async function runPgBench(o: PgBenchOptions): Promise<PgBenchResults> {
  const { log } = o;
  await dropStaleSchemas(o.databaseUrl, log);
  const schemas = [schemaName('ingest'), schemaName('dispatch')];
  try {
    const shape = new BodyShape(o.ingestRequests);
    const bodyFile = join(o.tmp, 'pg-part-body.json');
    const bodyBytes = shape.writeTo(bodyFile);
    log(
      `PostgreSQL part: body ${fmtInt(o.ingestRequests)} requests, ${fmtInt(bodyBytes)} bytes; ${o.databaseUrl}`,
    );

    const ingestPg = await ingestOnce(o, bodyFile, 'pg', schemas[0]!);
    await dropSchema(o.databaseUrl, schemas[0]!); // its 256 MB would otherwise sit in PostgreSQL's cache
    const ingestSqlite = await ingestOnce(o, bodyFile, 'sqlite', '');
    rmSync(bodyFile, { force: true });

    const upstream = await startUpstream(log);
    live.add(upstream.child);
    let dispatch: PgBenchResults['dispatch'];
    try {
      const config = writeUpstreamConfig(join(o.tmp, 'pg-part-config.json'), upstream.url, o.concurrency);
      const sqlite = await dispatchOnce(o, upstream, config, 'sqlite', '');
      const pgFig = await dispatchOnce(o, upstream, config, 'pg', schemas[1]!);
      dispatch = { pg: pgFig, sqlite };
    } finally {
      upstream.child.kill('SIGTERM');
      live.delete(upstream.child);
    }

    const growthSqlite = await growth(o, 'sqlite');
    const growthPg = await growth(o, 'pg');
    return {
      code: codeVersion(),
      bodyBytes,
      ingestRequests: o.ingestRequests,
      dispatchRequests: o.dispatchRequests,
      concurrency: o.concurrency,
      ingest: { pg: ingestPg, sqlite: ingestSqlite },
      dispatch,
      growth: { pg: growthPg, sqlite: growthSqlite },
    };
  } finally {
    killPgBenchProcesses();
    for (const s of schemas) await dropSchema(o.databaseUrl, s);
  }
}

/** Table rows for the report: [figure, Barge, baseline, target, result]. */
export function pgRows(r: PgBenchResults): string[][] {
  const pass = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  const scale = r.ingestRequests / MAX_REQUESTS;
  const ingestTarget = TARGET_PG_INGEST_MS * scale;
  const { pg: ip, sqlite: is } = r.ingest;
  const { pg: dp, sqlite: ds } = r.dispatch;
  const pgRate = (r.dispatchRequests / dp.ms) * 1000;
  const series = (rows: GrowthRow[], f: (g: GrowthRow) => number) =>
    `${rows.map((g) => f(g).toFixed(0)).join(' / ')} µs`;
  const growthOf = (rows: GrowthRow[], f: (g: GrowthRow) => number) =>
    `×${(f(rows[rows.length - 1]!) / f(rows[0]!)).toFixed(2)}`;
  const ns = GROWTH_BATCHES.join(' / ');
  return [
    [
      'P1. Ingest into PostgreSQL: create → 200',
      `${fmtS(ip.ms)} (${fmtMBps(r.bodyBytes, ip.ms)})`,
      `SQLite server ${fmtS(is.ms)} (${fmtMBps(r.bodyBytes, is.ms)})`,
      `≤ ${fmtS(ingestTarget)}${scale !== 1 ? ' (scaled)' : ''}`,
      pass(ip.ms <= ingestTarget),
    ],
    [
      'P1. Ingest into PostgreSQL: peak RSS',
      fmtMiB(ip.vmHWM),
      `SQLite server ${fmtMiB(is.vmHWM)}`,
      '≤ 512 MiB',
      pass(ip.vmHWM <= TARGET_PG_RSS_BYTES),
    ],
    [
      'P2. Dispatch, api + 2 workers, instant upstream',
      `${fmtRate(r.dispatchRequests, dp.ms)} (${fmtInt(r.dispatchRequests)} in ${fmtS(dp.ms)})`,
      `SQLite, one process ${fmtRate(r.dispatchRequests, ds.ms)} (${fmtS(ds.ms)})`,
      `≥ ${fmtInt(TARGET_PG_RATE)} req/s`,
      pass(pgRate >= TARGET_PG_RATE),
    ],
    [
      `P3. Claim per item, ${ns} batches`,
      `${series(r.growth.pg, (g) => g.claimUs)} (${growthOf(r.growth.pg, (g) => g.claimUs)})`,
      `SQLite ${series(r.growth.sqlite, (g) => g.claimUs)} (${growthOf(r.growth.sqlite, (g) => g.claimUs)})`,
      'none set: reported',
      'n/a',
    ],
    [
      `P3. Complete per item, ${ns} batches`,
      `${series(r.growth.pg, (g) => g.completeUs)} (${growthOf(r.growth.pg, (g) => g.completeUs)})`,
      `SQLite ${series(r.growth.sqlite, (g) => g.completeUs)} (${growthOf(r.growth.sqlite, (g) => g.completeUs)})`,
      'none set: reported',
      'n/a',
    ],
  ];
}

/** The lines printed below the table. */
export function pgDetails(r: PgBenchResults): string[] {
  const cores = (ms: number, wall: number) => (ms / wall).toFixed(2);
  const ing = (name: string, f: IngestFigure) =>
    `- ingest ${name}: ${fmtS(f.ms)} wall; CPU in cores: Barge server ${cores(f.serverCpuMs, f.ms)}, ` +
    `${fmtCpu(f.pg, (ms) => cores(ms, f.ms))}, bench ${cores(f.benchCpuMs, f.ms)}; everything else on the ` +
    `machine ${cores(f.machineBusyMs - f.serverCpuMs - f.pg.oursCpuMs - f.pg.backgroundCpuMs - f.benchCpuMs, f.ms)}`;
  const disp = (name: string, f: DispatchFigure) =>
    `- dispatch ${name}: CPU per request ${f.processUs.map(([p, us]) => `${p} ${us.toFixed(0)} µs`).join(', ')}, ` +
    `upstream ${f.upstreamUs.toFixed(0)} µs, ${fmtCpu(f.pg, perRequest(r.dispatchRequests))}, bench ` +
    `${perRequest(r.dispatchRequests)(f.benchCpuMs)}; in cores: whole machine ${cores(f.machineBusyMs, f.ms)}, of ` +
    `which everything else ${cores(otherMs(f), f.ms)}; upstream calls per worker ${f.callsPerWorker.map(fmtInt).join(' + ')}`;
  const otherMs = (f: DispatchFigure) =>
    f.machineBusyMs -
    (f.processUs.reduce((a, [, us]) => a + us, 0) * r.dispatchRequests) / 1000 -
    (f.upstreamUs * r.dispatchRequests) / 1000 -
    f.pg.oursCpuMs -
    f.pg.backgroundCpuMs -
    f.benchCpuMs;
  const lines = [
    ing('PostgreSQL', r.ingest.pg),
    ing('SQLite', r.ingest.sqlite),
    `- PostgreSQL ingest, ${fmtActivity(r.ingest.pg.pg)}`,
    disp('PostgreSQL', r.dispatch.pg),
    disp('SQLite', r.dispatch.sqlite),
    `- PostgreSQL dispatch, ${fmtActivity(r.dispatch.pg.pg)}`,
  ];
  for (const [name, rows] of [
    ['PostgreSQL', r.growth.pg],
    ['SQLite', r.growth.sqlite],
  ] as const) {
    for (const g of rows) {
      lines.push(
        `- growth ${name}, ${g.batches} batches × ${fmtInt(g.itemsPerBatch)} items: claim of ${CLAIM_LIMIT} p50 ` +
          `${fmtMs(g.claimP50)} / p99 ${fmtMs(g.claimP99)}, complete p50 ${fmtMs(g.completeP50)} / p99 ` +
          `${fmtMs(g.completeP99)} (${GROWTH_ROUNDS} rounds after ${GROWTH_WARMUP} of warm-up)`,
      );
    }
  }
  return lines;
}
