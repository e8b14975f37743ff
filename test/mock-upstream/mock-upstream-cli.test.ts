// `barge mock-upstream` as a user runs it: the printed URL, a request, a clean stop on SIGTERM, BARGE_MOCK_UPSTREAM_*
// variables, and one-line refusals of bad flags.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { describe, it, type TestContext } from 'node:test';
import { request } from 'undici';
import {
  childEnv,
  meaningfulStderrLines,
  REPO_ROOT,
  type RunResult,
  runBarge,
  within,
} from '../helpers/barge-process.ts';

interface Running {
  child: ChildProcess;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `barge mock-upstream …` and waits for the line with its URL; SIGKILLed at the end if still alive. */
async function startCli(t: TestContext, args: string[], env: Record<string, string> = {}): Promise<Running> {
  const child = spawn(process.execPath, ['bin/barge.js', 'mock-upstream', ...args], {
    cwd: REPO_ROOT,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    err += s;
  });
  const url = new Promise<string>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    exited.then((e) => reject(new Error(`exited (code ${e.code}) before printing its URL; stderr: ${err}`)));
  });
  return { child, url: await within(url, 20_000, 'the mock upstream URL'), exited };
}

function assertOneLineFailure(r: RunResult, pattern: RegExp): void {
  assert.notEqual(r.code, 0, 'non-zero exit code');
  const lines = meaningfulStderrLines(r.stderr);
  assert.equal(lines.length, 1, `exactly one error line, got:\n${r.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
}

describe('barge mock-upstream', () => {
  it('prints its URL, answers /v1/messages with budget headers, and exits 0 on SIGTERM', async (t) => {
    const run = await startCli(t, ['--port', '0', '--latency', '0ms', '--rpm', '100', '--seed', '5']);
    assert.match(run.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await request(`${run.url}/v1/messages`, {
      method: 'POST',
      headers: { 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.statusCode, 200);
    assert.equal(((await res.body.json()) as { type: string }).type, 'message');
    assert.equal(res.headers['anthropic-ratelimit-requests-limit'], '100');
    run.child.kill('SIGTERM');
    assert.deepEqual(await within(run.exited, 10_000, 'exit after SIGTERM'), { code: 0, signal: null });
  });

  it('sends a fractional --retry-after as retry-after-ms beside whole-second retry-after', async (t) => {
    const run = await startCli(t, ['--port', '0', '--rate-429', '1', '--retry-after', '0.25']);
    const res = await request(`${run.url}/v1/messages`, {
      method: 'POST',
      headers: { 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
    });
    await res.body.dump();
    assert.equal(res.statusCode, 429);
    assert.equal(res.headers['retry-after'], '1');
    assert.equal(res.headers['retry-after-ms'], '250');
    run.child.kill('SIGTERM');
    assert.equal((await within(run.exited, 10_000, 'exit after SIGTERM')).code, 0);
  });

  it('takes its settings from BARGE_MOCK_UPSTREAM_* variables', async (t) => {
    const run = await startCli(t, ['--port', '0'], {
      BARGE_MOCK_UPSTREAM_PROTOCOL: 'openai',
      BARGE_MOCK_UPSTREAM_API_KEY: 'sk-env',
      BARGE_MOCK_UPSTREAM_RATE_500: '1',
    });
    const chat = (key: string) =>
      request(`${run.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
      });
    const denied = await chat('sk-other');
    await denied.body.dump();
    assert.equal(denied.statusCode, 401, 'BARGE_MOCK_UPSTREAM_API_KEY');
    const faulted = await chat('sk-env');
    const body = (await faulted.body.json()) as { error: { type: string } };
    assert.equal(faulted.statusCode, 500, 'BARGE_MOCK_UPSTREAM_RATE_500 on the openai protocol');
    assert.equal(body.error.type, 'server_error');
    run.child.kill('SIGINT');
    assert.equal((await within(run.exited, 10_000, 'exit after SIGINT')).code, 0);
  });

  it('refuses bad flags with one line on stderr', async () => {
    const [rate, unknown, sum, latency, port] = await Promise.all([
      runBarge(['mock-upstream', '--rate-429', '2']),
      runBarge(['mock-upstream', '--bogus']),
      runBarge(['mock-upstream', '--port', '0', '--rate-429', '0.6', '--rate-500', '0.6']),
      runBarge(['mock-upstream', '--port', '0', '--latency', 'fast']),
      runBarge(['mock-upstream', '--port', '70000']),
    ]);
    assertOneLineFailure(rate!, /^barge: --rate-429 must be a number between 0 and 1, got "2"$/);
    assertOneLineFailure(unknown!, /unknown option '--bogus'/);
    assertOneLineFailure(sum!, /^barge: the --rate-\* flags add up to 1\.2, more than 1$/);
    assertOneLineFailure(latency!, /^barge: --latency: invalid duration "fast"/);
    assertOneLineFailure(port!, /^barge: --port must be a whole number up to 65535/);
  });
});
