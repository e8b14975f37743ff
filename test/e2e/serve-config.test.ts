// `barge serve --config`: a YAML file routes models to real HTTP upstreams (the mock upstream speaking each
// protocol), an unrouted model ends errored, and a bad file stops the start with one clear line.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { bodyHash } from '../../src/mock-upstream/mock-upstream-server.ts';
import { e2eDataDir, meaningfulStderrLines, runBarge, startBarge } from '../helpers/barge-process.ts';
import { clientFor, waitEnded } from '../helpers/e2e-batches.ts';
import { startTestUpstream } from '../helpers/mock-upstream.ts';

test('serve --config routes models by glob to anthropic and openai upstreams, keys from the environment', async (t) => {
  const budget = { requestsPerMinute: 10_000 };
  const claude = await startTestUpstream(t, { budget, requireApiKey: 'sk-upstream-a' });
  const local = await startTestUpstream(t, { protocol: 'openai', budget, requireApiKey: 'sk-upstream-o' });
  const dir = e2eDataDir(t, 'barge-e2e-config-');
  const config = join(dir, 'barge.yaml');
  writeFileSync(
    config,
    [
      'backends:',
      `  claude: { type: anthropic, base_url: "${claude.url}", api_key_env: UPSTREAM_A_KEY, max_concurrency: 4 }`,
      `  local:  { type: openai, base_url: "${local.url}/v1", api_key_env: UPSTREAM_O_KEY, max_concurrency: 4 }`,
      'routes:',
      '  - { model: "claude-*", backend: claude }',
      '  - { model: "llama*", backend: local }',
      '',
    ].join('\n'),
  );
  const server = await startBarge(t, {
    args: ['--config', config, '--data-dir', join(dir, 'data')],
    env: { UPSTREAM_A_KEY: 'sk-upstream-a', UPSTREAM_O_KEY: 'sk-upstream-o' },
  });
  const client = clientFor(server.url);
  const ask = (model: string) => ({
    model,
    max_tokens: 20,
    messages: [{ role: 'user' as const, content: 'hi' }],
  });
  // The SDK's types do not know the parameter, which is the point.
  const withFuture = (p: ReturnType<typeof ask>) => ({ ...p, future_param: { level: 3 } }) as typeof p;
  const batch = await client.messages.batches.create({
    requests: [
      { custom_id: 'to-claude', params: ask('claude-sonnet-4-5') },
      { custom_id: 'to-llama', params: ask('llama3.1') },
      { custom_id: 'nowhere', params: ask('gpt-5') },
      // Above stream_above_max_tokens: streamed from the upstream and accumulated into the Message.
      { custom_id: 'long-claude', params: { ...ask('claude-haiku-4-5'), max_tokens: 30_000 } },
      // A parameter Barge does not know: forwarded as it came to a /v1/messages upstream, refused for translation.
      { custom_id: 'future-claude', params: withFuture(ask('claude-opus-5')) },
      { custom_id: 'future-llama', params: withFuture(ask('llama3.1')) },
    ],
  });
  await waitEnded(client, batch.id, 30_000);
  // biome-ignore lint/suspicious/noExplicitAny: result shapes are checked field by field below
  const out = new Map<string, any>();
  for await (const r of await client.messages.batches.results(batch.id)) out.set(r.custom_id, r.result);
  assert.equal(out.get('to-claude')?.type, 'succeeded');
  assert.equal(out.get('to-claude')?.message.model, 'claude-sonnet-4-5');
  assert.equal(out.get('to-llama')?.type, 'succeeded');
  assert.equal(out.get('to-llama')?.message.model, 'llama3.1');
  assert.equal(out.get('nowhere')?.type, 'errored');
  assert.equal(out.get('nowhere')?.error.error.type, 'invalid_request_error');
  assert.match(out.get('nowhere')?.error.error.message, /"gpt-5"/);
  assert.equal(out.get('long-claude')?.type, 'succeeded');
  assert.equal(out.get('long-claude')?.message.type, 'message');
  assert.ok(out.get('long-claude')?.message.content[0].text.length > 0);
  assert.ok(out.get('long-claude')?.message.usage.output_tokens > 0);
  assert.equal(out.get('future-claude')?.type, 'succeeded');
  const forwarded = JSON.stringify({ ...ask('claude-opus-5'), future_param: { level: 3 } });
  assert.equal(claude.seenCounts().get(bodyHash(forwarded)), 1, 'the params bytes were forwarded unchanged');
  assert.equal(out.get('future-llama')?.type, 'errored');
  assert.equal(out.get('future-llama')?.error.error.message, 'future_param: Extra inputs are not permitted');
  assert.equal(claude.stats().byStatus['200'], 3, 'the claude-* requests reached the anthropic upstream');
  assert.equal(local.stats().byStatus['200'], 1, 'the llama* request reached the openai upstream');
  assert.doesNotMatch(server.stderr() + JSON.stringify(server.logs), /sk-upstream/, 'keys are never logged');
});

test('serve --config with a mistake in the file exits with one line naming the place; nothing is created', async (t) => {
  const dir = e2eDataDir(t, 'barge-e2e-config-');
  const config = join(dir, 'bad.yaml');
  writeFileSync(
    config,
    'backends:\n  local: { type: openai, base_url: "http://127.0.0.1:1/v1", max_concurency: 4 }\n',
  );
  const r = await runBarge(['serve', '--config', config, '--port', '0', '--data-dir', join(dir, 'data')]);
  assert.notEqual(r.code, 0);
  const lines = meaningfulStderrLines(r.stderr);
  // One line per problem in the file (here the typo, and no routes at all).
  assert.ok(lines.length >= 1 && lines.length <= 3, r.stderr);
  assert.match(lines[0]!, /^barge: config .*bad\.yaml: backends\.local\.max_concurency: unknown key/);
  assert.match(r.stderr, /did you mean max_concurrency/);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');

  const noKey = join(dir, 'nokey.yaml');
  writeFileSync(
    noKey,
    'backends:\n  c: { type: anthropic, base_url: "https://api.anthropic.com", api_key_env: BARGE_TEST_MISSING_KEY }\ndefault: c\n',
  );
  const r2 = await runBarge(['serve', '--config', noKey, '--port', '0', '--data-dir', join(dir, 'data')]);
  assert.notEqual(r2.code, 0);
  assert.match(r2.stderr, /BARGE_TEST_MISSING_KEY/);
});
