// The dashboard in a real browser (Debian's Chromium, driven by playwright-core): sign in, list, a batch's live
// counts, search by custom_id with a hostile prompt shown as text, cancel by the button; a screenshot is kept.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { chromium } from 'playwright-core';
import { createApiKey } from '../../src/auth/api-keys.ts';
import { pollUntil, REPO_ROOT } from '../helpers/barge-process.ts';
import { testServer } from '../helpers/test-server.ts';

// Functions given to waitForFunction run in the page; declared because this project's TypeScript has no DOM library.
declare const document: { getElementById(id: string): { textContent: string | null } | null };

const HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">';
export const SCREENSHOT = join(REPO_ROOT, 'test-artifacts', 'dashboard-batch.png');

const CHROMIUM = '/usr/bin/chromium';

test('dashboard: sign in, watch a batch run, find a request, cancel with the button', async (t) => {
  // Debian's Chromium (`apt-get install chromium`): .ci/run installs it and sets BARGE_REQUIRE_BROWSER, so there
  // its absence fails; on a developer's machine without it the test says how to get it and skips.
  if (!existsSync(CHROMIUM)) {
    assert.ok(!process.env.BARGE_REQUIRE_BROWSER, `${CHROMIUM} is missing`);
    t.skip(`${CHROMIUM} is not installed (apt-get install chromium)`);
    return;
  }
  // 150 requests two at a time at 100 ms each: ~7.5 s, long enough that the page (slow to open on a loaded
  // machine) sees the counts move. At 30 ms the batch could end before the page opened.
  const server = await testServer(t, {
    auth: 'keys',
    concurrency: 2,
    mockLatency: { minMs: 100, maxMs: 100 },
  });
  const key = await createApiKey(server.store, 'team', Date.now());
  const client = new Anthropic({ baseURL: server.url, apiKey: key.secret, maxRetries: 0 });
  const requests = Array.from({ length: 150 }, (_, i) => ({
    custom_id: `row-${i}`,
    params: {
      model: i % 2 ? 'claude-sonnet-4-5' : 'local-llama',
      max_tokens: 16,
      messages: [{ role: 'user' as const, content: i === 7 ? HOSTILE : `question ${i}` }],
    },
  }));
  const batch = await client.messages.batches.create({ requests });

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.after(() => browser.close());
  // The pages' CSP forbids eval, which Playwright's waits need; bypassing it here also makes the injection check
  // below stricter: the prompt must stay text by escaping alone, with no CSP to fall back on.
  const page = await browser.newPage({ viewport: { width: 1280, height: 1100 }, bypassCSP: true });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));

  // Without a key the dashboard asks for one.
  const signIn = await page.goto(`${server.url}/dashboard`);
  assert.match(signIn?.headers()['content-security-policy'] ?? '', /script-src 'self'/);
  assert.match(page.url(), /\/dashboard\/login$/);
  await page.fill('#key', key.secret);
  await page.click('#login button');
  await page.waitForURL(`${server.url}/dashboard`);
  const row = page.locator(`tr[data-batch-id="${batch.id}"]`);
  assert.equal(await row.count(), 1, 'the batch is listed');

  await row.locator('a').click();
  await page.waitForURL(`${server.url}/dashboard/batches/${batch.id}`);
  const first = Number(await page.textContent('#c-succeeded'));
  assert.ok(first < 140, `the batch was still running when its page opened (${first} of 150 done)`);
  // (Browser-side expressions are strings: this project's TypeScript has no DOM types.)
  await page.waitForFunction(
    `Number(document.getElementById('c-succeeded').textContent) > ${first + 5}`,
    undefined,
    {
      timeout: 20_000,
    },
  );
  assert.ok(Number(await page.textContent('#c-processing')) < 150, 'the counts moved while the batch ran');

  // The hostile prompt comes back as text: no script ran, no element was made from it.
  await page.fill('#custom-id', 'row-7');
  await page.click('#search button');
  await page.waitForSelector('#request:not([hidden])');
  assert.ok((await page.textContent('#request-params'))?.includes(HOSTILE.replace(/"/g, '\\"')));
  assert.equal(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined);
  assert.equal(await page.locator('img[src=x]').count(), 0);
  await page.fill('#custom-id', 'no-such-row');
  await page.click('#search button');
  await page.waitForSelector('#request-missing:not([hidden])');

  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ended', undefined, {
    timeout: 30_000,
  });
  assert.equal(await page.textContent('#c-succeeded'), '150');
  assert.match((await page.textContent('#cost-batch')) ?? '', /^\$0\.\d{4}$/);
  assert.ok(await page.isVisible('#download'), 'the download button shows once the batch has ended');
  mkdirSync(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });

  // Cancel a running batch with the button.
  const second = await client.messages.batches.create({ requests: requests.slice(0, 100) });
  await page.goto(`${server.url}/dashboard/batches/${second.id}`);
  await page.click('#cancel');
  await page.waitForFunction(
    () => ['canceling', 'ended'].includes(document.getElementById('status')?.textContent ?? ''),
    undefined,
    {
      timeout: 10_000,
    },
  );
  const canceled = await client.messages.batches.retrieve(second.id);
  assert.ok(canceled.cancel_initiated_at !== null, 'the batch was canceled');
  // The workers overview: this server's worker, with its lanes (workers report themselves every few seconds).
  await pollUntil(
    async () => {
      await page.goto(`${server.url}/dashboard/workers`);
      return ((await page.textContent('section.worker')) ?? '').includes('claude-sonnet-4-5');
    },
    20_000,
    'the worker to report its lanes',
    500,
  );
  assert.equal(await page.locator('section.worker').count(), 1);
  assert.deepEqual(pageErrors, [], 'no script errors on the pages');
});
