// `npm run bench [-- --requests N --concurrency N --cpu-prof DIR --only core|dispatch|pg …]`: measures the core performance targets
// (docs/benchmarks.md) against a real `barge serve` process, each figure beside a baseline measured in this run.
//
//   1. Ingest: time to the 200 of a 100,000-request / ~256 MB create, and the server's peak RSS (VmHWM).
//   2. Processing: create response -> processing_status "ended" against the zero-latency mock.
//   3. Results download: MB/s of GET …/results.
//   4. API latency (retrieve + list) while a second big batch is ingested, then processed; idle as baseline.
//
// Then the backends issue's dispatch figures (bench/dispatch.ts) and the PostgreSQL issue's (bench/postgres.ts:
// ingest into PostgreSQL, dispatch by an api and two worker processes, cost of growth of claim and complete).
// `--only core|dispatch|pg` runs one of the three parts.

import { type ChildProcess, fork } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { request } from 'undici';
import {
  type JsonParseBaseline,
  jsonParseBaseline,
  type LoopbackBaseline,
  loopbackBaseline,
  type MockLoopBaseline,
  mockLoopBaseline,
  sqliteBaselines,
} from './baselines.ts';
import { BodyShape, MAX_REQUESTS } from './body.ts';
import {
  API_HEADERS,
  createBatch,
  type Download,
  download,
  type MessageBatch,
  retrieveBatch,
} from './client.ts';
import { formatBusy, formatSummary, monoUs, summarizeProfile, type Window } from './cpu-profile.ts';
import { dispatchRows, runDispatchBench } from './dispatch.ts';
import type { PhaseSamples, ProberCommand, ProberReply } from './latency-prober.ts';
import { killPgBenchProcesses, pgDetails, pgRows, runPgBench } from './postgres.ts';
import { machineCpuMs, procCpuMs, ServerProcess } from './server-process.ts';
import {
  fmtInt,
  fmtMBps,
  fmtMiB,
  fmtMs,
  fmtRate,
  fmtS,
  MB,
  MiB,
  markdownTable,
  percentile,
} from './stats.ts';

// The core issue's performance targets (docs/benchmarks.md), for a 100,000-request batch.
const TARGET_INGEST_MS = 5000;
const TARGET_RSS_BYTES = 512 * MiB;
const TARGET_RATE = 5000; // requests/s, i.e. 100k in <= 20 s
const TARGET_DOWNLOAD_MBPS = 250;
const TARGET_P99_MS = 50;

const { values: opts } = parseArgs({
  options: {
    requests: { type: 'string', default: String(MAX_REQUESTS) },
    concurrency: { type: 'string', default: '64' },
    'probe-gap': { type: 'string', default: '5' },
    'idle-seconds': { type: 'string', default: '3' },
    'processing-timeout': { type: 'string', default: '120' },
    'cpu-prof': { type: 'string' },
    'keep-temp': { type: 'boolean', default: false },
    only: { type: 'string' },
    'dispatch-requests': { type: 'string', default: '100000' },
    'pg-requests': { type: 'string', default: '100000' },
    'database-url': {
      type: 'string',
      default: process.env.BARGE_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    },
    help: { type: 'boolean', default: false },
  },
});

if (opts.help) {
  console.log(`usage: npm run bench -- [options]
  --requests N            requests per batch (default ${MAX_REQUESTS}; each ~2.7 KB, 100k = just under 256 MiB)
  --concurrency N         the server's --concurrency (default 64)
  --probe-gap MS          pause between latency probes (default 5)
  --idle-seconds S        how long to probe the idle server for the latency baseline (default 3)
  --processing-timeout S  give up waiting for a batch to end after S seconds (default 120)
  --cpu-prof DIR          write the server's V8 CPU profile(s) into DIR (node --cpu-prof)
  --keep-temp             keep the temp dir (body file, databases) for inspection
  --only core|dispatch|pg run only the core figures (1-4), the backends' dispatch figures (5-6) or the
                          PostgreSQL figures (P1-P3)
  --dispatch-requests N   requests in each dispatch batch (default 100000; two batches)
  --pg-requests N         requests in the PostgreSQL part's dispatch batch (default 100000; its ingest uses --requests)
  --database-url URL      PostgreSQL for the pg part (default $BARGE_BENCH_DATABASE_URL or
                          postgres://postgres@127.0.0.1:5432/postgres); its schemas barge_bench_<pid>_… are dropped`);
  process.exit(0);
}

const positiveInt = (name: string, v: string | undefined) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
  return n;
};
const PARTS = ['core', 'dispatch', 'pg'] as const;
if (opts.only !== undefined && !(PARTS as readonly string[]).includes(opts.only)) {
  throw new Error(`--only must be one of ${PARTS.join(', ')}, got ${opts.only}`);
}
const runs = (part: (typeof PARTS)[number]) => opts.only === undefined || opts.only === part;
const REQUESTS = positiveInt('requests', opts.requests);
const CONCURRENCY = positiveInt('concurrency', opts.concurrency);
const PROBE_GAP_MS = Number(opts['probe-gap']);
const IDLE_MS = Number(opts['idle-seconds']) * 1000;
const PROCESSING_TIMEOUT_MS = Number(opts['processing-timeout']) * 1000;
const SCALE = REQUESTS / MAX_REQUESTS;

const log = (msg: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the server process did during one phase of the bench. */
interface Usage {
  name: string;
  fromUs: number;
  toUs: number;
  cpuMs: number;
  sysMs: number;
  minflt: number;
  writeBytes: number;
  /** The whole machine: CPU busy (any process) and iowait, in ms of CPU time. */
  machineBusyMs: number;
  machineIowaitMs: number;
  /** CPU of the bench itself (this process and the prober). */
  benchCpuMs: number;
}
/** CPU time of the bench's own processes so far (this one and the prober, if running), in ms. */
function benchCpuMs(): number {
  const own = process.cpuUsage();
  const prober = probers.reduce((sum, pid) => sum + (procCpuMs(pid) || 0), 0);
  return (own.user + own.system) / 1000 + prober;
}
const probers: number[] = [];
const usages: Usage[] = [];
/** Starts metering a phase; call the returned function at its end. */
function meter(srv: ServerProcess, name: string): () => Usage {
  const st0 = srv.stat();
  const wb0 = srv.writeBytes();
  const m0 = machineCpuMs();
  const b0 = benchCpuMs();
  const fromUs = monoUs();
  return () => {
    const m1 = machineCpuMs();
    const st1 = srv.stat();
    const u = {
      name,
      fromUs,
      toUs: monoUs(),
      cpuMs: st1.userMs + st1.sysMs - st0.userMs - st0.sysMs,
      sysMs: st1.sysMs - st0.sysMs,
      minflt: st1.minflt - st0.minflt,
      writeBytes: srv.writeBytes() - wb0,
      machineBusyMs: m1.busyMs - m0.busyMs,
      machineIowaitMs: m1.iowaitMs - m0.iowaitMs,
      benchCpuMs: benchCpuMs() - b0,
    };
    usages.push(u);
    return u;
  };
}

// ---- cleanup, also on failure and Ctrl-C -------------------------------------------------------------------

const tmp = mkdtempSync(join(tmpdir(), 'barge-bench-'));
let server: ServerProcess | null = null;
let prober: ChildProcess | null = null;
function cleanup(): void {
  server?.kill();
  killPgBenchProcesses();
  if (prober && prober.exitCode === null) prober.kill('SIGKILL');
  if (opts['keep-temp']) console.error(`[bench] temp dir kept: ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`[bench] ${sig}: cleaning up`);
    cleanup();
    process.exit(130);
  });
}

// ---- helpers -----------------------------------------------------------------------------------------------

interface Progress {
  /** [ms since the batch was created, results written] every ~1 s (read from the server's SQLite file). */
  timeline: Array<[number, number]>;
  stop(): void;
}

/** Samples the number of result rows of a batch once a second through a read-only connection to the db file. */
function watchProgress(dataDir: string, batchId: string, t0: number): Progress {
  const timeline: Array<[number, number]> = [];
  let db: Database.Database | null = null;
  let seq: number | undefined;
  let count: Database.Statement | null = null;
  const sample = () => {
    try {
      db ??= new Database(join(dataDir, 'barge.db'), { readonly: true, fileMustExist: true });
      seq ??= db.prepare('SELECT seq FROM batches WHERE id = ?').pluck().get(batchId) as number | undefined;
      count ??= db.prepare('SELECT count(*) FROM results WHERE batch_seq = ?').pluck();
      if (seq !== undefined) timeline.push([performance.now() - t0, count.get(seq) as number]);
    } catch {
      // the file may be mid-checkpoint; the next sample will do
    }
  };
  const timer = setInterval(sample, 1000);
  return {
    timeline,
    stop() {
      clearInterval(timer);
      db?.close();
    },
  };
}

interface Processing {
  ended: boolean;
  /** Create response -> first retrieve that saw `ended`. */
  ms: number;
  batch: MessageBatch;
  /** Highest VmRSS seen while polling. */
  peakRss: number;
  /** Most live WAL bytes seen while polling, and the live WAL when the batch had ended. */
  peakWal: number;
  endWal: number;
  timeline: Array<[number, number]>;
}

/**
 * Bytes of the server's SQLite WAL that are live (frames since the last WAL reset: every page read must consult
 * them), from the wal-index header in `barge.db-shm` (mxFrame at offset 16; little-endian on x86/arm64).
 */
function walBytes(dataDir: string): number {
  return walState(dataDir).live;
}

/** Live WAL bytes, and how many of them are not checkpointed yet (nBackfill, offset 96 of the wal-index). */
function walState(dataDir: string): { live: number; pending: number } {
  try {
    const fd = openSync(join(dataDir, 'barge.db-shm'), 'r');
    try {
      const hdr = Buffer.alloc(100);
      readSync(fd, hdr, 0, 100, 0);
      const pageSize = hdr.readUInt16LE(14);
      const frame = (pageSize === 1 ? 65536 : pageSize) + 24;
      const mxFrame = hdr.readUInt32LE(16);
      const backfilled = hdr.readUInt32LE(96);
      return { live: mxFrame * frame, pending: Math.max(0, mxFrame - backfilled) * frame };
    } finally {
      closeSync(fd);
    }
  } catch {
    return { live: 0, pending: 0 };
  }
}

/** Polls retrieve every 50 ms until the batch has ended (or the timeout passes, then cancels it). */
async function waitEnded(srv: ServerProcess, dataDir: string, id: string, t0: number): Promise<Processing> {
  const progress = watchProgress(dataDir, id, t0);
  let peakRss = 0;
  let peakWal = 0;
  let batch: MessageBatch;
  let ended = true;
  try {
    for (;;) {
      batch = await retrieveBatch(srv.url, id);
      peakRss = Math.max(peakRss, srv.status()?.vmRSS ?? 0);
      peakWal = Math.max(peakWal, walBytes(dataDir));
      if (batch.processing_status === 'ended') break;
      if (performance.now() - t0 > PROCESSING_TIMEOUT_MS) {
        ended = false;
        log(`batch ${id} has not ended after ${PROCESSING_TIMEOUT_MS / 1000} s: canceling it`);
        const res = await request(`${srv.url}/v1/messages/batches/${id}/cancel`, {
          method: 'POST',
          headers: API_HEADERS,
        });
        await res.body.dump();
        while (batch.processing_status !== 'ended') {
          await sleep(200);
          batch = await retrieveBatch(srv.url, id);
        }
        break;
      }
      await sleep(50);
    }
  } finally {
    progress.stop();
  }
  const ms = performance.now() - t0;
  return { ended, ms, batch, peakRss, peakWal, endWal: walBytes(dataDir), timeline: progress.timeline };
}

class Prober {
  private readonly child: ChildProcess;
  private readonly replies: ProberReply[] = [];
  private waiter: (() => void) | null = null;

  constructor() {
    this.child = fork(new URL('./latency-prober.ts', import.meta.url), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    prober = this.child;
    if (this.child.pid) probers.push(this.child.pid);
    this.child.on('message', (m: ProberReply) => {
      this.replies.push(m);
      this.waiter?.();
    });
  }

  private send(cmd: ProberCommand): void {
    this.child.send(cmd);
  }

  private async reply<T extends ProberReply['type']>(type: T): Promise<Extract<ProberReply, { type: T }>> {
    for (;;) {
      const i = this.replies.findIndex((r) => r.type === type);
      if (i >= 0) return this.replies.splice(i, 1)[0] as Extract<ProberReply, { type: T }>;
      await new Promise<void>((r) => {
        this.waiter = r;
      });
      this.waiter = null;
    }
  }

  async start(url: string): Promise<void> {
    this.send({ type: 'start', url, gapMs: PROBE_GAP_MS });
    await this.reply('ready');
  }

  phase(phase: string | null, retrieveId: string): void {
    this.send({ type: 'phase', phase, retrieveId });
  }

  async report(): Promise<Record<string, PhaseSamples>> {
    this.send({ type: 'report' });
    return (await this.reply('report')).phases;
  }

  async exit(): Promise<void> {
    const exited = new Promise((r) => this.child.once('exit', r));
    this.send({ type: 'exit' });
    await Promise.race([exited, sleep(5000)]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** The server's event-loop lag samples (bench/loop-monitor.mjs). */
interface LoopSamples {
  endUs: number[];
  lagMs: number[];
}

interface Latency {
  n: number;
  p50: number;
  p99: number;
  max: number;
  /** When the slowest request was sent, in ms since the phase began. */
  maxAtMs: number;
  /** p99 of retrieve and list separately. */
  p99Retrieve: number;
  p99List: number;
  errors: number;
  firstError: string | null;
}

function latencyOf(s: PhaseSamples | undefined): Latency {
  const l = s?.latencies ?? [];
  const max = l.length ? Math.max(...l) : Number.NaN;
  const of = (kind: string) => l.filter((_, i) => s?.kinds[i] === kind);
  return {
    n: l.length,
    p50: percentile(l, 50),
    p99: percentile(l, 99),
    max,
    maxAtMs: s?.sentAt[l.indexOf(max)] ?? Number.NaN,
    p99Retrieve: percentile(of('retrieve'), 99),
    p99List: percentile(of('list'), 99),
    errors: s?.errors ?? 0,
    firstError: s?.firstError ?? null,
  };
}

const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
const mbps = (bytes: number, ms: number) => bytes / MB / (ms / 1000);

// ---- the run -----------------------------------------------------------------------------------------------

interface Results {
  startedAt: Date;
  bodyBytes: number;
  parse: JsonParseBaseline;
  ingest: {
    ms: number;
    vmHWM: number;
    vmRSS: number;
    wal: { live: number; pending: number };
    usage: Usage;
    batch: MessageBatch;
  };
  processing: Processing & { usage: Usage };
  download: (Download & { usage: Usage; walAfter: number }) | null;
  warmDownload: Download | null;
  loop: LoopSamples | null;
  idle: Latency;
  duringIngest: Latency;
  duringProcessing: Latency;
  batch2: { ingestMs: number; processing: Processing };
  mock: MockLoopBaseline;
  sqlite: ReturnType<typeof sqliteBaselines>;
  loopback: LoopbackBaseline | null;
  profiles: string[];
}

const machine = () => {
  const cpu = cpus();
  return (
    `${cpu.length} cores (${cpu[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, node ${process.version}, ` +
    `load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`
  );
};

async function run(): Promise<Results> {
  const startedAt = new Date();
  log(`machine: ${machine()}`);
  log(`date: ${startedAt.toISOString()}; temp dir ${tmp}`);

  const shape = new BodyShape(REQUESTS);
  const bodyFile = join(tmp, 'body.json');
  const t = performance.now();
  const bodyBytes = shape.writeTo(bodyFile);
  log(
    `body: ${fmtInt(REQUESTS)} requests, ${fmtInt(bodyBytes)} bytes (${shape.messageBytes}-byte messages), ` +
      `written in ${fmtS(performance.now() - t)}`,
  );

  // Baseline 1 first, while the bench process is still small, so its peak RSS is this parse's.
  const parse = jsonParseBaseline(bodyFile);
  log(
    `baseline JSON.parse: read ${fmtMs(parse.readMs)} + toString ${fmtMs(parse.decodeMs)} + parse ` +
      `${fmtMs(parse.parseMs)}; RSS +${fmtMiB(parse.rssGrowth)}`,
  );

  // 1. Ingest on a fresh server, so its VmHWM is the ingest's.
  const dataDir = join(tmp, 'server');
  const profDir = opts['cpu-prof'] ? resolve(opts['cpu-prof']) : null;
  const loopFile = join(tmp, 'event-loop.json');
  const nodeArgs = [
    '--import',
    new URL('./loop-monitor.mjs', import.meta.url).href,
    ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
  ];
  server = await ServerProcess.start({
    dataDir,
    concurrency: CONCURRENCY,
    nodeArgs,
    env: { BARGE_BENCH_LOOP_FILE: loopFile },
  });
  const srv = server;
  log(
    `server pid ${srv.pid} on ${srv.url} (concurrency ${CONCURRENCY}), RSS ${fmtMiB(srv.status()?.vmRSS ?? NaN)}`,
  );
  let done = meter(srv, 'ingest');
  const created = await createBatch(srv.url, bodyFile);
  const tCreated = performance.now();
  const st = srv.status();
  const ingest = {
    ms: created.ms,
    vmHWM: st?.vmHWM ?? Number.NaN,
    vmRSS: st?.vmRSS ?? Number.NaN,
    wal: walState(dataDir),
    usage: done(),
    batch: created.batch,
  };
  log(
    `ingest: 200 after ${fmtS(ingest.ms)}; VmHWM ${fmtMiB(ingest.vmHWM)}, VmRSS ${fmtMiB(ingest.vmRSS)}, ` +
      `server CPU ${fmtS(ingest.usage.cpuMs)}`,
  );

  // 2. Processing.
  done = meter(srv, 'processing');
  const processing = { ...(await waitEnded(srv, dataDir, created.batch.id, tCreated)), usage: done() };
  const counts = processing.batch.request_counts;
  const finished = counts.succeeded + counts.errored;
  log(
    `processing: ${processing.ended ? 'ended' : `canceled after the ${fmtS(PROCESSING_TIMEOUT_MS)} timeout`} ` +
      `${fmtS(processing.ms)} after the create response (${fmtRate(finished, processing.ms)}); counts ${JSON.stringify(counts)}; ` +
      `server CPU ${fmtS(processing.usage.cpuMs)}, peak VmRSS ${fmtMiB(processing.peakRss)}`,
  );
  if (processing.ended && counts.succeeded !== REQUESTS) {
    throw new Error(`expected ${REQUESTS} succeeded results, got ${JSON.stringify(counts)}`);
  }

  // 3. Results download.
  let dl: Results['download'] = null;
  let warmDownload: Download | null = null;
  if (processing.batch.results_url) {
    done = meter(srv, 'download');
    const d = await download(processing.batch.results_url, API_HEADERS);
    dl = { ...d, usage: done(), walAfter: walBytes(dataDir) };
    log(
      `download: ${fmtInt(dl.bytes)} bytes, ${fmtInt(dl.lines)} lines in ${fmtS(dl.ms)} ` +
        `(${fmtMBps(dl.bytes, dl.ms)}); first byte ${fmtMs(dl.firstByteMs)}; server CPU ${fmtS(dl.usage.cpuMs)}`,
    );
    done = meter(srv, 'download repeated');
    warmDownload = await download(processing.batch.results_url, API_HEADERS);
    done();
    log(
      `download repeated at once (storage pages now cached): ${fmtMBps(warmDownload.bytes, warmDownload.ms)}`,
    );
    if (processing.ended && dl.lines !== REQUESTS) {
      throw new Error(`expected ${REQUESTS} result lines, got ${dl.lines}`);
    }
    const first = JSON.parse(dl.firstLine) as { custom_id?: string; result?: { type?: string } };
    if (typeof first.custom_id !== 'string' || typeof first.result?.type !== 'string') {
      throw new Error(`unexpected first result line: ${dl.firstLine.slice(0, 300)}`);
    }
  }

  // 4. API latency: idle, then while a second batch of the same size is ingested and processed.
  const p = new Prober();
  await p.start(srv.url);
  done = meter(srv, 'idle (probes only)');
  p.phase('idle', created.batch.id);
  await sleep(IDLE_MS);
  done();
  done = meter(srv, 'batch 2 ingest (+probes)');
  p.phase('ingest', created.batch.id);
  const created2 = await createBatch(srv.url, bodyFile);
  const tCreated2 = performance.now();
  p.phase('processing', created2.batch.id);
  done();
  log(`batch 2: 200 after ${fmtS(created2.ms)} (with probes)`);
  done = meter(srv, 'batch 2 processing (+probes)');
  const processing2 = await waitEnded(srv, dataDir, created2.batch.id, tCreated2);
  p.phase(null, '');
  done();
  log(
    `batch 2: ended ${fmtS(processing2.ms)} after the create response (${fmtRate(REQUESTS, processing2.ms)})`,
  );
  const phases = await p.report();
  await p.exit();
  const idle = latencyOf(phases.idle);
  const duringIngest = latencyOf(phases.ingest);
  const duringProcessing = latencyOf(phases.processing);
  for (const [name, l] of [
    ['idle', idle],
    ['during ingest', duringIngest],
    ['during processing', duringProcessing],
  ] as const) {
    log(
      `latency ${name}: n=${l.n} p50 ${fmtMs(l.p50)} p99 ${fmtMs(l.p99)} max ${fmtMs(l.max)}` +
        (l.errors ? `; ${l.errors} errors (${l.firstError})` : ''),
    );
  }

  const pid = srv.pid;
  const code = await srv.stop();
  server = null;
  log(`server stopped (exit ${code})`);
  const profiles = profDir
    ? readdirSync(profDir)
        .filter((f) => f.endsWith('.cpuprofile') && f.includes(`.${pid}.`))
        .map((f) => join(profDir, f))
    : [];

  // Remaining baselines, with the server gone so they have the machine to themselves.
  const mock = mockLoopBaseline(shape);
  log(
    `baseline mock loop: ${fmtRate(mock.requests, mock.totalMs)} (parse ${fmtS(mock.parseMs)}, validate ` +
      `${fmtS(mock.validateMs)}, mockMessage ${fmtS(mock.mockMs)}, stringify ${fmtS(mock.stringifyMs)})`,
  );
  const sqlite = sqliteBaselines(join(tmp, 'baseline-db'), shape, mock.sampleLines);
  log(
    `baseline SQLite: ingest rows ${fmtRate(sqlite.ingest.rows, sqlite.ingest.ms, 'rows/s')} ` +
      `(${fmtS(sqlite.ingest.ms)}), result rows ${fmtRate(sqlite.results.rows, sqlite.results.ms, 'rows/s')} ` +
      `(${fmtS(sqlite.results.ms)}), small commit p50 ${fmtMs(sqlite.commit.txP50Ms)}`,
  );
  let loopback: LoopbackBaseline | null = null;
  if (dl) {
    loopback = await loopbackBaseline(dl.bytes, mock.sampleLines);
    log(
      `baseline loopback: ${fmtInt(loopback.bytes)} bytes in ${fmtS(loopback.ms)} (${fmtMBps(loopback.bytes, loopback.ms)})`,
    );
  }
  return {
    startedAt,
    bodyBytes,
    parse,
    ingest,
    processing,
    download: dl,
    warmDownload,
    loop: existsSync(loopFile) ? (JSON.parse(readFileSync(loopFile, 'utf8')) as LoopSamples) : null,
    idle,
    duringIngest,
    duringProcessing,
    batch2: { ingestMs: created2.ms, processing: processing2 },
    mock,
    sqlite,
    loopback,
    profiles,
  };
}

function report(r: Results): void {
  const scaled = SCALE !== 1;
  const ingestTarget = TARGET_INGEST_MS * SCALE;
  const processingTarget = (REQUESTS / TARGET_RATE) * 1000;
  const dlMBps = r.download ? mbps(r.download.bytes, r.download.ms) : Number.NaN;
  const lat = (l: Latency) =>
    `p50 ${fmtMs(l.p50)} / p99 ${fmtMs(l.p99)} (n=${l.n}${l.errors ? `, ${l.errors} err` : ''})`;
  const latOk = (l: Latency) => l.n > 0 && l.p99 < TARGET_P99_MS && l.errors === 0;
  const rows: string[][] = [
    [
      '1. Ingest: create → 200',
      `${fmtS(r.ingest.ms)} (${fmtMBps(r.bodyBytes, r.ingest.ms)})`,
      `bare JSON.parse ${fmtS(r.parse.totalMs)} (read ${fmtS(r.parse.readMs)} + toString ${fmtS(r.parse.decodeMs)} + parse ${fmtS(r.parse.parseMs)})`,
      `≤ ${fmtS(ingestTarget)}${scaled ? ' (scaled)' : ''}`,
      verdict(r.ingest.ms <= ingestTarget),
    ],
    [
      '1. Ingest: server peak RSS (VmHWM)',
      fmtMiB(r.ingest.vmHWM),
      `JSON.parse: RSS +${fmtMiB(r.parse.rssGrowth)}`,
      '≤ 512 MiB',
      verdict(r.ingest.vmHWM <= TARGET_RSS_BYTES),
    ],
    [
      '2. Processing: create → ended',
      r.processing.ended
        ? `${fmtS(r.processing.ms)} (${fmtRate(REQUESTS, r.processing.ms)})`
        : `not ended in ${fmtS(PROCESSING_TIMEOUT_MS)}: ${fmtInt(r.processing.batch.request_counts.succeeded)} done, then canceled`,
      `mock loop ${fmtRate(r.mock.requests, r.mock.totalMs)} (1 core); SQLite result rows ${fmtRate(r.sqlite.results.rows, r.sqlite.results.ms, 'rows/s')}`,
      `≤ ${fmtS(processingTarget)} (≥ ${fmtInt(TARGET_RATE)} req/s)`,
      verdict(r.processing.ended && r.processing.ms <= processingTarget),
    ],
    [
      '3. Results download',
      r.download
        ? `${fmtMBps(r.download.bytes, r.download.ms)} (${(r.download.bytes / MB).toFixed(0)} MB, ${fmtInt(r.download.lines)} lines, ${fmtS(r.download.ms)})`
        : 'n/a',
      `${r.loopback ? `node:http loopback ${fmtMBps(r.loopback.bytes, r.loopback.ms)}` : 'n/a'}; SQLite read ${fmtMBps(r.sqlite.read.bytes, r.sqlite.read.ms)}`,
      `≥ ${TARGET_DOWNLOAD_MBPS} MB/s`,
      verdict(dlMBps >= TARGET_DOWNLOAD_MBPS),
    ],
    [
      '4. API latency during ingest',
      lat(r.duringIngest),
      `idle ${lat(r.idle)}`,
      `p99 < ${TARGET_P99_MS} ms`,
      verdict(latOk(r.duringIngest)),
    ],
    [
      '4. API latency during processing',
      lat(r.duringProcessing),
      `idle ${lat(r.idle)}`,
      `p99 < ${TARGET_P99_MS} ms`,
      verdict(latOk(r.duringProcessing)),
    ],
  ];
  console.log('');
  console.log(
    `Barge bench · ${fmtInt(REQUESTS)} requests, ${fmtInt(r.bodyBytes)}-byte body · server --concurrency ${CONCURRENCY} ` +
      `--mock-latency 0ms`,
  );
  console.log(`Started ${r.startedAt.toISOString()} · ${machine()} (at the end)`);
  console.log('');
  console.log(markdownTable(['Figure', 'Barge', 'Baseline (same run)', 'Target', 'Result'], rows));
  console.log('');
  console.log('Details:');
  for (const u of usages) {
    const wall = (u.toUs - u.fromUs) / 1000;
    console.log(
      `- ${u.name}: ${fmtS(wall)} wall; CPU in cores: server ${(u.cpuMs / wall).toFixed(2)}, bench ` +
        `${(u.benchCpuMs / wall).toFixed(2)}, other processes ${(Math.max(0, u.machineBusyMs - u.cpuMs - u.benchCpuMs) / wall).toFixed(2)} ` +
        `(iowait ${(u.machineIowaitMs / wall).toFixed(2)}); server: ${((100 * u.sysMs) / Math.max(1, u.cpuMs)).toFixed(0)}% ` +
        `of its CPU in the kernel, ${fmtInt(u.minflt)} minor page faults, wrote ${(u.writeBytes / MB).toFixed(0)} MB to storage`,
    );
  }
  console.log(
    `- server after ingest: VmHWM ${fmtMiB(r.ingest.vmHWM)}, VmRSS ${fmtMiB(r.ingest.vmRSS)}; peak VmRSS while processing ${fmtMiB(r.processing.peakRss)}`,
  );
  const tl = (p: Processing) =>
    p.timeline
      .map(([ms, n], i) => {
        const prev = i > 0 ? p.timeline[i - 1]! : [0, 0];
        return `${(ms / 1000).toFixed(0)}s:${fmtInt(Math.round(((n - prev[1]!) * 1000) / (ms - prev[0]!)))}`;
      })
      .join(' ');
  console.log(
    `- server WAL (live frames): ${fmtMiB(r.ingest.wal.live)} at the create response (${fmtMiB(r.ingest.wal.pending)} ` +
      `not yet checkpointed); while processing up to ` +
      `${fmtMiB(r.processing.peakWal)}, ${fmtMiB(r.processing.endWal)} when it ended` +
      (r.download ? `; ${fmtMiB(r.download.walAfter)} after the download` : ''),
  );
  console.log(`- batch 1 results written per second (t since create response): ${tl(r.processing) || 'n/a'}`);
  console.log(`- batch 2 results written per second (with probes): ${tl(r.batch2.processing) || 'n/a'}`);
  console.log(
    `- batch 2 (with latency probes): create → 200 ${fmtS(r.batch2.ingestMs)}, create → ended ` +
      `${fmtS(r.batch2.processing.ms)} (${fmtRate(REQUESTS, r.batch2.processing.ms)})`,
  );
  if (r.download) {
    console.log(
      `- download: headers ${fmtMs(r.download.headersMs)}, first byte ${fmtMs(r.download.firstByteMs)}` +
        (r.warmDownload
          ? `; the same download repeated at once: ${fmtMBps(r.warmDownload.bytes, r.warmDownload.ms)} (${fmtS(r.warmDownload.ms)})`
          : ''),
    );
  }
  const stalls: Array<{ phase: string; endUs: number; ms: number }> = [];
  if (r.loop) {
    for (const u of usages) {
      const lags: number[] = [];
      r.loop.endUs.forEach((t, i) => {
        if (t < u.fromUs || t > u.toUs) return;
        lags.push(r.loop!.lagMs[i]!);
        if (r.loop!.lagMs[i]! >= 50) stalls.push({ phase: u.name, endUs: t, ms: r.loop!.lagMs[i]! });
      });
      console.log(
        `- server event-loop lag during ${u.name}: p50 ${fmtMs(percentile(lags, 50))}, p99 ${fmtMs(percentile(lags, 99))}, ` +
          `max ${fmtMs(lags.length ? Math.max(...lags) : Number.NaN)}; ${lags.filter((x) => x >= 50).length} blocks ≥ 50 ms`,
      );
    }
  } else {
    console.log('- server event-loop lag: no samples (the server did not exit cleanly)');
  }
  for (const [name, l] of [
    ['idle', r.idle],
    ['during ingest', r.duringIngest],
    ['during processing', r.duringProcessing],
  ] as const) {
    console.log(
      `- latency ${name}: n=${l.n}, p50 ${fmtMs(l.p50)}, p99 ${fmtMs(l.p99)} (retrieve ${fmtMs(l.p99Retrieve)}, ` +
        `list ${fmtMs(l.p99List)}), max ${fmtMs(l.max)} (sent ${fmtS(l.maxAtMs)} into the phase)` +
        (l.errors ? `, ${l.errors} errors (first: ${l.firstError})` : ''),
    );
  }
  console.log(
    `- baseline mock loop (bench process, 1 core): parse ${fmtS(r.mock.parseMs)}, validate ${fmtS(r.mock.validateMs)}, ` +
      `mockMessage ${fmtS(r.mock.mockMs)}, stringify ${fmtS(r.mock.stringifyMs)}; result lines ${(r.mock.lineBytes / MB).toFixed(0)} MB`,
  );
  const sq = r.sqlite;
  console.log(
    `- baseline SQLite (Barge schema, WAL, checkpoints not timed): ingest rows ${fmtRate(sq.ingest.rows, sq.ingest.ms, 'rows/s')} ` +
      `(${fmtS(sq.ingest.ms)}; 2000 rows/tx, synchronous=NORMAL, p50 ${fmtMs(sq.ingest.txP50Ms)}, max ${fmtMs(sq.ingest.txMaxMs)} per tx); ` +
      `result rows ${fmtRate(sq.results.rows, sq.results.ms, 'rows/s')} (${fmtS(sq.results.ms)}; 500 rows/tx, FULL, ` +
      `p50 ${fmtMs(sq.results.txP50Ms)}, max ${fmtMs(sq.results.txMaxMs)} per tx); one-row commit p50 ` +
      `${fmtMs(sq.commit.txP50Ms)}, max ${fmtMs(sq.commit.txMaxMs)}; reading the result rows back (1000-row pages ` +
      `joined in SQLite, as bytes) ${fmtMBps(sq.read.bytes, sq.read.ms)} (${fmtS(sq.read.ms)})`,
  );
  if (r.profiles.length) {
    // node --cpu-prof names files CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; thread 0 is the main thread.
    const windows: Window[] = usages.map((u) => ({ name: u.name, fromUs: u.fromUs, toUs: u.toUs }));
    const isMain = (f: string) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f);
    const main = r.profiles.find(isMain);
    const worst = [...stalls].sort((a, b) => b.ms - a.ms).slice(0, 5);
    if (main && worst.length) {
      console.log('');
      console.log('Longest server event-loop blocks, with what the main thread ran in them (CPU profile):');
      const blockWindows = worst.map((b) => ({
        name: `${b.ms.toFixed(0)} ms block during ${b.phase}`,
        fromUs: b.endUs - (b.ms + 10) * 1000,
        toUs: b.endUs,
      }));
      for (const s of summarizeProfile(main, blockWindows, 6)) {
        console.log(`  ${s.name}:`);
        console.log(
          `    src/ functions: ${s.srcFunctionInclusive.map(([k, ms]) => `${k} ${ms.toFixed(0)} ms`).join('; ')}`,
        );
        console.log(`    self: ${s.selfTop.map(([k, ms]) => `${k} ${ms.toFixed(0)} ms`).join('; ')}`);
        if (s.gcMs > 0) console.log(`    GC ${s.gcMs.toFixed(0)} ms`);
      }
    }
    for (const file of [...r.profiles].sort((a, b) => Number(isMain(b)) - Number(isMain(a)))) {
      console.log('');
      if (isMain(file)) {
        console.log(`Server main-thread CPU profile ${file}, per phase:`);
        for (const s of summarizeProfile(file, windows)) console.log(formatSummary(s));
      } else {
        console.log(`Server worker-thread CPU profile ${file}:`);
        for (const s of summarizeProfile(file, windows)) console.log(formatBusy(s));
      }
    }
  }
}

const t0 = performance.now();
try {
  if (runs('core')) report(await run());
  if (runs('dispatch')) {
    const d = await runDispatchBench({
      tmp,
      requests: Number(opts['dispatch-requests']),
      concurrency: CONCURRENCY,
      log,
      profDir: opts['cpu-prof'] ? resolve(opts['cpu-prof']) : null,
    });
    console.log('');
    console.log(
      `Backends: dispatch to an instant loopback upstream (anthropic protocol), concurrency ${CONCURRENCY}`,
    );
    console.log('');
    console.log(
      markdownTable(['Figure', 'Barge', 'Baseline (same run)', 'Target', 'Result'], dispatchRows(d)),
    );
  }
  if (runs('pg')) {
    const p = await runPgBench({
      tmp,
      databaseUrl: opts['database-url']!,
      ingestRequests: REQUESTS,
      dispatchRequests: positiveInt('pg-requests', opts['pg-requests']),
      concurrency: CONCURRENCY,
      log,
      profDir: opts['cpu-prof'] ? resolve(opts['cpu-prof']) : null,
    });
    console.log('');
    console.log(
      `PostgreSQL: ingest ${fmtInt(REQUESTS)} requests (${fmtInt(p.bodyBytes)} bytes); dispatch ` +
        `${fmtInt(p.dispatchRequests)} requests, each process --concurrency ${CONCURRENCY}; claims of 64`,
    );
    console.log(`${machine()} (at the end); code: ${p.code}`);
    console.log('');
    console.log(markdownTable(['Figure', 'Barge', 'Baseline (same run)', 'Target', 'Result'], pgRows(p)));
    console.log('');
    console.log('Details:');
    for (const line of pgDetails(p)) console.log(line);
  }
  log(`done in ${fmtS(performance.now() - t0)}`);
} catch (err) {
  console.error('[bench] failed:', err);
  const s = server as ServerProcess | null; // assigned inside run()
  if (s) console.error(`[bench] server output (tail):\n${s.output}`);
  process.exitCode = 1;
} finally {
  cleanup();
}
