import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { MessageBatch } from '@anthropic-ai/sdk/resources/messages/batches';
import { Command } from 'commander';
import { request } from 'undici';
import { parseDuration } from '../domain/duration.ts';
import { addClientOptions, type ClientFlags, call, envelopeMessage, rawHeaders } from './api-client.ts';
import { partBodies, planParts, requestSource } from './batch-file.ts';
import { CliError } from './cli-error.ts';
import { formatBytes, progressBar } from './progress-bar.ts';

const print = (o: ClientFlags, value: unknown, text: () => string) =>
  console.log(o.json ? JSON.stringify(value) : text());

function countsText(b: MessageBatch): string {
  const c = b.request_counts;
  return `processing ${c.processing}, succeeded ${c.succeeded}, errored ${c.errored}, canceled ${c.canceled}, expired ${c.expired}`;
}

function batchText(b: MessageBatch): string {
  return [
    `${b.id}  ${b.processing_status}`,
    `  requests:   ${countsText(b)}`,
    `  created:    ${b.created_at}`,
    `  expires:    ${b.expires_at}`,
    ...(b.ended_at ? [`  ended:      ${b.ended_at}`] : []),
    ...(b.cancel_initiated_at ? [`  canceling since ${b.cancel_initiated_at}`] : []),
    ...(b.results_url ? [`  results:    ${b.results_url}`] : []),
  ].join('\n');
}

const base = (o: ClientFlags) => o.baseUrl.replace(/\/+$/, '');

/** `barge batches …`: the Message Batches API from a terminal, through the official SDK where it can be. */
export function batchesCommand(): Command {
  const batches = new Command('batches').description('Create, watch and download batches on a Barge server');

  addClientOptions(
    batches
      .command('create')
      .description(
        'Create a batch from a JSONL file of {"custom_id", "params"} lines (or a .json file shaped like the create ' +
          'body); a file over 100,000 requests or 256 MB becomes several batches',
      )
      .argument('<file>', 'requests file'),
  ).action(async (file: string, o: ClientFlags) => {
    const source = requestSource(file);
    const parts = await planParts(source);
    const total = parts.reduce((n, p) => n + p.bodyBytes, 0);
    if (parts.length > 1) {
      console.error(
        `${file} holds ${parts.reduce((n, p) => n + p.requests, 0)} requests: splitting into ${parts.length} batches ` +
          '(at most 100,000 requests and 256 MB each)',
      );
    }
    let sent = 0;
    const bar = progressBar(`uploading |{bar}| {percentage}% {sentText} of ${formatBytes(total)}`, total);
    const bodies = partBodies(source, parts, (n) => {
      sent += n;
      bar.update(sent, { sentText: formatBytes(sent) });
    });
    const created: Array<MessageBatch & { lines: [number, number] }> = [];
    try {
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i]!;
        const res = await request(`${base(o)}/v1/messages/batches`, {
          method: 'POST',
          headers: {
            ...rawHeaders(o),
            'content-type': 'application/json',
            'content-length': String(part.bodyBytes),
          },
          body: Readable.from(bodies[i]!()),
        }).catch((err: Error) => {
          throw new CliError(`cannot reach ${base(o)}: ${err.message}`);
        });
        const text = await res.body.text();
        if (res.statusCode !== 200) {
          const done = created.length
            ? ` (created before the failure: ${created.map((b) => b.id).join(', ')})`
            : '';
          throw new CliError(
            `batch ${i + 1} of ${parts.length}: ${envelopeMessage(res.statusCode, text)}${done}`,
          );
        }
        created.push({ ...(JSON.parse(text) as MessageBatch), lines: [part.firstLine, part.lastLine] });
      }
    } finally {
      bar.stop();
    }
    print(o, { batches: created }, () =>
      created
        .map((b, i) =>
          parts.length > 1
            ? `created ${b.id} (${parts[i]!.requests} requests, lines ${b.lines[0]}-${b.lines[1]})`
            : `created ${b.id} (${parts[i]!.requests} requests)`,
        )
        .join('\n'),
    );
  });

  addClientOptions(
    batches
      .command('list')
      .description('List batches, newest first')
      .option('--limit <n>', 'how many', (v) => Number(v), 20),
  ).action(async (o: ClientFlags & { limit: number }) => {
    if (!Number.isInteger(o.limit) || o.limit < 1)
      throw new CliError('--limit must be a positive whole number', 2);
    const out: MessageBatch[] = [];
    await call(o, async (client) => {
      for await (const b of client.messages.batches.list({ limit: Math.min(o.limit, 100) })) {
        out.push(b);
        if (out.length >= o.limit) break;
      }
    });
    print(o, out, () =>
      out.length === 0
        ? 'no batches'
        : out
            .map((b) => `${b.id}  ${b.processing_status.padEnd(11)}  ${b.created_at}  ${countsText(b)}`)
            .join('\n'),
    );
  });

  addClientOptions(batches.command('get').description('Show one batch').argument('<id>')).action(
    async (id: string, o: ClientFlags) => {
      const b = await call(o, (client) => client.messages.batches.retrieve(id));
      print(o, b, () => batchText(b));
    },
  );

  addClientOptions(batches.command('cancel').description('Cancel a batch').argument('<id>')).action(
    async (id: string, o: ClientFlags) => {
      const b = await call(o, (client) => client.messages.batches.cancel(id));
      print(o, b, () => batchText(b));
    },
  );

  addClientOptions(batches.command('delete').description('Delete an ended batch').argument('<id>')).action(
    async (id: string, o: ClientFlags) => {
      const r = await call(o, (client) => client.messages.batches.delete(id));
      print(o, r, () => `deleted ${r.id}`);
    },
  );

  addClientOptions(
    batches
      .command('results')
      .description('Download the results of an ended batch (JSONL, exactly as the server sends it)')
      .argument('<id>')
      .option('-o, --output <file>', 'write to a file instead of stdout'),
  ).action(async (id: string, o: ClientFlags & { output?: string }) => {
    const b = await call(o, (client) => client.messages.batches.retrieve(id));
    if (!b.results_url)
      throw new CliError(`${id} has not ended yet (${b.processing_status}); try: barge batches watch ${id}`);
    const res = await request(b.results_url, { headers: rawHeaders(o) }).catch((err: Error) => {
      throw new CliError(`cannot reach ${b.results_url}: ${err.message}`);
    });
    if (res.statusCode !== 200) throw new CliError(envelopeMessage(res.statusCode, await res.body.text()));
    const size = Number(res.headers['content-length'] ?? 0);
    const bar = o.output
      ? progressBar(`downloading |{bar}| {percentage}% {gotText} of ${formatBytes(size)}`, size)
      : progressBar('', 0);
    let got = 0;
    res.body.on('data', (chunk: Buffer) => {
      got += chunk.length;
      bar.update(got, { gotText: formatBytes(got) });
    });
    try {
      await pipeline(res.body, o.output ? createWriteStream(o.output) : process.stdout);
    } finally {
      bar.stop();
    }
    if (o.output && !o.json) console.error(`wrote ${formatBytes(got)} to ${o.output}`);
    if (o.output && o.json) console.log(JSON.stringify({ id, file: o.output, bytes: got }));
  });

  addClientOptions(
    batches
      .command('watch')
      .description('Follow a batch until it ends: live counts, rate and ETA (exit code 0 once it has ended)')
      .argument('<id>')
      .option('--interval <duration>', 'time between updates', '1s'),
  ).action(async (id: string, o: ClientFlags & { interval: string }) => {
    const every = parseDuration(o.interval);
    let bar: ReturnType<typeof progressBar> | null = null;
    let last = '';
    for (;;) {
      const res = await request(`${base(o)}/barge/v1/batches/${encodeURIComponent(id)}/progress`, {
        headers: rawHeaders(o),
      }).catch((err: Error) => {
        throw new CliError(`cannot reach ${base(o)}: ${err.message}`);
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new CliError(envelopeMessage(res.statusCode, text));
      const p = JSON.parse(text) as {
        processing_status: string;
        total: number;
        request_counts: MessageBatch['request_counts'];
        requests_per_second: number;
        eta_seconds: number | null;
        cost: { batch: number };
      };
      const done = p.total - p.request_counts.processing;
      const c = p.request_counts;
      const line =
        `${p.processing_status}: ${done}/${p.total} done (succeeded ${c.succeeded}, errored ${c.errored}, ` +
        `canceled ${c.canceled}, expired ${c.expired}), ${p.requests_per_second}/s` +
        (p.eta_seconds !== null && p.processing_status !== 'ended'
          ? `, ETA ${Math.ceil(p.eta_seconds)} s`
          : '') +
        `, $${p.cost.batch.toFixed(4)} so far`;
      if (o.json) {
        if (text !== last) console.log(text);
        last = text;
      } else if (process.stderr.isTTY) {
        bar ??= progressBar('{bar} {percentage}% | {status}', p.total);
        bar.update(done, { status: line });
      } else if (line !== last) {
        console.log(line);
        last = line;
      }
      if (p.processing_status === 'ended') break;
      await new Promise((r) => setTimeout(r, every));
    }
    bar?.stop();
  });

  return batches;
}
