// Summarises a V8 `.cpuprofile` (from `node --cpu-prof`) per time window: where the server's main thread spent
// each phase of the bench. Native calls (better-sqlite3, JSON.parse, Buffer) count under the JS function that
// made them, so "inclusive" time per source file shows e.g. how much of ingest was spent inside the SQLite insert.
//
// Standalone: node --import tsx bench/cpu-profile.ts <file.cpuprofile> [fromUs toUs]

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A time window on the monotonic clock, in µs (the clock of `process.hrtime` and of V8 profiles on Linux). */
export interface Window {
  name: string;
  fromUs: number;
  toUs: number;
}

/** The monotonic clock in µs, comparable with profile timestamps. */
export const monoUs = () => Number(process.hrtime.bigint() / 1000n);

const SPECIAL = new Set(['(idle)', '(garbage collector)', '(program)', '(root)']);

function fileOf(url: string): string {
  if (!url) return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return `${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]} (dep)`;
  }
  if (url.startsWith('node:')) return url;
  const src = url.indexOf('/src/');
  return src >= 0 ? url.slice(src + 1) : basename(url);
}

function keyOf(f: CallFrame): string {
  if (SPECIAL.has(f.functionName)) return f.functionName;
  const name = f.functionName || '(anonymous)';
  return f.url ? `${name} ${fileOf(f.url)}:${f.lineNumber + 1}` : `${name} (native)`;
}

export interface WindowSummary {
  name: string;
  wallMs: number;
  sampledMs: number;
  idleMs: number;
  gcMs: number;
  programMs: number;
  selfTop: Array<[string, number]>;
  fileInclusive: Array<[string, number]>;
  srcFunctionInclusive: Array<[string, number]>;
  /** The longest stretches without an idle sample (the event loop blocked), with what ran in them. */
  longestBusy: Array<{ ms: number; atMs: number; top: Array<[string, number]> }>;
}

export function summarizeProfile(file: string, windows: Window[], top = 10): WindowSummary[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  // Ancestor keys per node, computed once.
  const chainCache = new Map<number, { files: string[]; srcFns: string[] }>();
  const chainOf = (id: number) => {
    let c = chainCache.get(id);
    if (c) return c;
    const files = new Set<string>();
    const srcFns = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      if (SPECIAL.has(f.functionName)) continue;
      const file = fileOf(f.url);
      files.add(file);
      if (file.startsWith('src/')) srcFns.add(keyOf(f));
    }
    c = { files: [...files], srcFns: [...srcFns] };
    chainCache.set(id, c);
    return c;
  };

  const out: WindowSummary[] = [];
  for (const w of windows) {
    const self = new Map<string, number>();
    const files = new Map<string, number>();
    const srcFns = new Map<string, number>();
    let t = p.startTime;
    let sampled = 0;
    const spans: Array<{ ms: number; atMs: number; fns: Map<string, number> }> = [];
    let span: { ms: number; atMs: number; fns: Map<string, number> } | null = null;
    for (let i = 0; i < p.samples.length; i++) {
      t += p.timeDeltas[i]!;
      // A sample's delta is the time since the previous sample; attribute it to this sample's stack.
      const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
      if (t < w.fromUs || t > w.toUs || dt <= 0) continue;
      const id = p.samples[i]!;
      const node = byId.get(id)!;
      sampled += dt;
      const k = keyOf(node.callFrame);
      if (k === '(idle)') {
        if (span) spans.push(span);
        span = null;
      } else {
        span ??= { ms: 0, atMs: (t - w.fromUs) / 1000, fns: new Map() };
        span.ms += dt;
        const fns = chainOf(id).srcFns;
        for (const f of fns.length ? fns : [k]) span.fns.set(f, (span.fns.get(f) ?? 0) + dt);
      }
      self.set(k, (self.get(k) ?? 0) + dt);
      const chain = chainOf(id);
      for (const f of chain.files) files.set(f, (files.get(f) ?? 0) + dt);
      for (const f of chain.srcFns) srcFns.set(f, (srcFns.get(f) ?? 0) + dt);
    }
    const sorted = (m: Map<string, number>, skip?: (k: string) => boolean) =>
      [...m]
        .filter(([k]) => !skip?.(k))
        .sort((a, b) => b[1] - a[1])
        .slice(0, top);
    out.push({
      name: w.name,
      wallMs: (w.toUs - w.fromUs) / 1000,
      sampledMs: sampled,
      idleMs: self.get('(idle)') ?? 0,
      gcMs: self.get('(garbage collector)') ?? 0,
      programMs: self.get('(program)') ?? 0,
      selfTop: sorted(self, (k) => SPECIAL.has(k)),
      fileInclusive: sorted(files, (k) => k.startsWith('node:') || k === '(native)'),
      srcFunctionInclusive: sorted(srcFns),
      longestBusy: [...spans, ...(span ? [span] : [])]
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 3)
        .map((x) => ({ ms: x.ms, atMs: x.atMs, top: sorted(x.fns).slice(0, 4) })),
    });
  }
  return out;
}

/** One line: how busy a (worker-thread) profile was in the window. */
export function formatBusy(s: WindowSummary): string {
  const busy = s.sampledMs - s.idleMs;
  const top = s.selfTop
    .slice(0, 3)
    .map(([k, ms]) => `${k} ${ms.toFixed(0)} ms`)
    .join(', ');
  return `  ${s.name}: busy ${busy.toFixed(0)} of ${s.wallMs.toFixed(0)} ms${top ? ` (${top})` : ''}`;
}

export function formatSummary(s: WindowSummary): string {
  const pct = (ms: number) => `${((100 * ms) / Math.max(1, s.sampledMs)).toFixed(0)}%`;
  const list = (rows: Array<[string, number]>) =>
    rows.map(([k, ms]) => `      ${ms.toFixed(0).padStart(6)} ms ${pct(ms).padStart(4)}  ${k}`).join('\n');
  return [
    `  ${s.name}: ${s.wallMs.toFixed(0)} ms wall, ${s.sampledMs.toFixed(0)} ms sampled; idle ${s.idleMs.toFixed(0)} ms ` +
      `(${pct(s.idleMs)}), GC ${s.gcMs.toFixed(0)} ms (${pct(s.gcMs)}), (program) ${s.programMs.toFixed(0)} ms`,
    '    self time, top functions:',
    list(s.selfTop),
    '    inclusive time by source file / package (native calls count under their JS caller):',
    list(s.fileInclusive),
    '    inclusive time by src/ function:',
    list(s.srcFunctionInclusive),
    '    longest stretches with no idle sample (event loop blocked), with the src/ functions on their stacks:',
    ...s.longestBusy.map(
      (b) =>
        `      ${b.ms.toFixed(0).padStart(6)} ms at +${(b.atMs / 1000).toFixed(2)} s: ` +
        b.top.map(([k, ms]) => `${k} ${ms.toFixed(0)} ms`).join('; '),
    ),
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, from, to] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node --import tsx bench/cpu-profile.ts <file.cpuprofile> [fromUs toUs]');
    process.exit(2);
  }
  const whole = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const w: Window = {
    name: from ? `${from}..${to}` : 'whole profile',
    fromUs: from ? Number(from) : whole.startTime,
    toUs: to ? Number(to) : whole.endTime,
  };
  for (const s of summarizeProfile(file, [w], 20)) console.log(formatSummary(s));
}
