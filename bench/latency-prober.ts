// The API-latency prober, run as its own process (forked by run.ts) so the upload the bench streams in its main
// process never delays the prober's timers or responses. It sends one request at a time over one keep-alive
// connection, alternating retrieve and list, with `gapMs` between a response and the next request. Every sample
// is tagged with the phase the parent last announced.

import { Client } from 'undici';

export type ProbeKind = 'retrieve' | 'list';

/** Messages from the parent. */
export type ProberCommand =
  | { type: 'start'; url: string; gapMs: number }
  | { type: 'phase'; phase: string | null; retrieveId: string }
  | { type: 'report' }
  | { type: 'exit' };

/** Samples of one phase: latency in ms per request, with the kind at the same index. */
export interface PhaseSamples {
  latencies: number[];
  kinds: ProbeKind[];
  /** When each request was sent, in ms since the phase began. */
  sentAt: number[];
  errors: number;
  firstError: string | null;
}

export type ProberReply = { type: 'ready' } | { type: 'report'; phases: Record<string, PhaseSamples> };

const HEADERS = { 'anthropic-version': '2023-06-01', 'x-api-key': 'bench' };

function send(msg: ProberReply): void {
  process.send!(msg);
}

async function main(): Promise<void> {
  let client: Client | null = null;
  let gapMs = 5;
  let phase: string | null = null;
  let phaseStart = 0;
  let retrieveId = '';
  let running = true;
  const phases: Record<string, PhaseSamples> = {};
  let wake: (() => void) | null = null;

  process.on('message', (cmd: ProberCommand) => {
    if (cmd.type === 'start') {
      client = new Client(cmd.url, { pipelining: 1, keepAliveTimeout: 60_000 });
      gapMs = cmd.gapMs;
      send({ type: 'ready' });
    } else if (cmd.type === 'phase') {
      if (cmd.phase !== phase) phaseStart = performance.now();
      phase = cmd.phase;
      retrieveId = cmd.retrieveId;
      wake?.();
    } else if (cmd.type === 'report') {
      send({ type: 'report', phases });
    } else if (cmd.type === 'exit') {
      running = false;
      wake?.();
    }
  });

  let n = 0;
  while (running) {
    if (phase === null || client === null) {
      await new Promise<void>((r) => {
        wake = r;
      });
      wake = null;
      continue;
    }
    const tag = phase;
    const tagStart = phaseStart;
    const kind: ProbeKind = n++ % 2 === 0 ? 'retrieve' : 'list';
    const path = kind === 'retrieve' ? `/v1/messages/batches/${retrieveId}` : '/v1/messages/batches?limit=20';
    phases[tag] ??= { latencies: [], kinds: [], sentAt: [], errors: 0, firstError: null };
    const samples = phases[tag];
    const t0 = performance.now();
    try {
      const res = await (client as Client).request({ method: 'GET', path, headers: HEADERS });
      await res.body.text();
      const ms = performance.now() - t0;
      if (res.statusCode === 200) {
        samples.latencies.push(ms);
        samples.kinds.push(kind);
        samples.sentAt.push(t0 - tagStart);
      } else {
        samples.errors++;
        samples.firstError ??= `${kind}: HTTP ${res.statusCode}`;
      }
    } catch (err) {
      samples.errors++;
      samples.firstError ??= `${kind}: ${err instanceof Error ? err.message : String(err)}`;
    }
    await new Promise((r) => setTimeout(r, gapMs));
  }
  await (client as Client | null)?.close();
  process.disconnect?.();
}

void main();
