import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseCount,
  parseGoDuration,
  parseRateLimitHeaders,
  parseResetAt,
  parseRfc3339,
} from '../../src/dispatch/rate-limit-headers.ts';

const NOW = Date.parse('2026-11-25T12:00:00.000Z');

describe('parseGoDuration', () => {
  it('reads the durations OpenAI sends', () => {
    assert.equal(parseGoDuration('12ms'), 12);
    assert.equal(parseGoDuration('1s'), 1000);
    assert.equal(parseGoDuration('6m0s'), 360_000);
    assert.equal(parseGoDuration('1m30.5s'), 90_500);
    assert.equal(parseGoDuration('1h2m3s'), 3_723_000);
    assert.equal(parseGoDuration('7.66s'), 7660);
    assert.equal(parseGoDuration('0'), 0);
    assert.equal(parseGoDuration('0s'), 0);
    assert.equal(parseGoDuration('1500us'), 1.5);
    assert.equal(parseGoDuration('1500µs'), 1.5);
    assert.equal(parseGoDuration('2000000ns'), 2);
    assert.equal(parseGoDuration('+1s'), 1000);
  });

  it('rejects negative, unit-less, unknown-unit and oversized values', () => {
    for (const bad of ['-1s', '-1', '10', '1d', 's', '1s2', '', 'abc', '1 s', `${'1'.repeat(70)}s`]) {
      assert.equal(parseGoDuration(bad), undefined, bad);
    }
  });
});

describe('parseRfc3339 and parseResetAt', () => {
  it('reads RFC 3339 timestamps with fractions and offsets', () => {
    assert.equal(parseRfc3339('2026-11-25T12:00:30Z'), NOW + 30_000);
    assert.equal(parseRfc3339('2026-11-25T12:00:30.250Z'), NOW + 30_250);
    assert.equal(parseRfc3339('2026-11-25T14:00:30+02:00'), NOW + 30_000);
    assert.equal(parseRfc3339('2026-11-25t12:00:30z'), NOW + 30_000);
    assert.equal(parseRfc3339('Wed, 25 Nov 2026 12:00:30 GMT'), undefined);
    assert.equal(parseRfc3339('2026-11-25'), undefined);
  });

  it('takes RFC 3339 as absolute, a Go duration or bare seconds as relative to now', () => {
    assert.equal(parseResetAt('2026-11-25T12:01:00Z', NOW), NOW + 60_000);
    assert.equal(parseResetAt('6m0s', NOW), NOW + 360_000);
    assert.equal(parseResetAt('20', NOW), NOW + 20_000);
    assert.equal(parseResetAt('1795608000', NOW), 1_795_608_000_000);
    assert.equal(parseResetAt('-1', NOW), undefined);
    assert.equal(parseResetAt('soon', NOW), undefined);
    assert.equal(parseResetAt(undefined, NOW), undefined);
  });

  it('parseCount ignores negatives, blanks and garbage', () => {
    assert.equal(parseCount('42'), 42);
    assert.equal(parseCount('0'), 0);
    assert.equal(parseCount('-1'), undefined);
    assert.equal(parseCount(''), undefined);
    assert.equal(parseCount('NaN'), undefined);
    assert.equal(parseCount('Infinity'), undefined);
    assert.equal(parseCount('12abc'), undefined);
  });
});

describe('parseRateLimitHeaders', () => {
  it('reads the Anthropic family (all four dimensions)', () => {
    const r = parseRateLimitHeaders(
      {
        'anthropic-ratelimit-requests-limit': '1000',
        'anthropic-ratelimit-requests-remaining': '999',
        'anthropic-ratelimit-requests-reset': '2026-11-25T12:00:01Z',
        'anthropic-ratelimit-tokens-limit': '96000',
        'anthropic-ratelimit-tokens-remaining': '95000',
        'anthropic-ratelimit-tokens-reset': '2026-11-25T12:00:02Z',
        'anthropic-ratelimit-input-tokens-limit': '80000',
        'anthropic-ratelimit-input-tokens-remaining': '79000',
        'anthropic-ratelimit-input-tokens-reset': '2026-11-25T12:00:03Z',
        'anthropic-ratelimit-output-tokens-limit': '16000',
        'anthropic-ratelimit-output-tokens-remaining': '0',
        'anthropic-ratelimit-output-tokens-reset': '2026-11-25T12:00:04Z',
        'request-id': 'req_1',
      },
      NOW,
    );
    assert.deepEqual(r, {
      requests: { limit: 1000, remaining: 999, resetAt: NOW + 1000 },
      tokens: { limit: 96000, remaining: 95000, resetAt: NOW + 2000 },
      inputTokens: { limit: 80000, remaining: 79000, resetAt: NOW + 3000 },
      outputTokens: { limit: 16000, remaining: 0, resetAt: NOW + 4000 },
    });
  });

  it('reads the OpenAI family with Go-duration resets', () => {
    const r = parseRateLimitHeaders(
      {
        'x-ratelimit-limit-requests': '500',
        'x-ratelimit-remaining-requests': '499',
        'x-ratelimit-reset-requests': '120ms',
        'x-ratelimit-limit-tokens': '30000',
        'x-ratelimit-remaining-tokens': '29000',
        'x-ratelimit-reset-tokens': '1m30.5s',
      },
      NOW,
    );
    assert.deepEqual(r, {
      requests: { limit: 500, remaining: 499, resetAt: NOW + 120 },
      tokens: { limit: 30000, remaining: 29000, resetAt: NOW + 90_500 },
    });
  });

  it("ignores Azure's -1 and 0 placeholders and unparsable values, keeping the sound fields", () => {
    const r = parseRateLimitHeaders(
      {
        'x-ratelimit-limit-requests': '-1',
        'x-ratelimit-remaining-requests': '-1',
        'x-ratelimit-limit-tokens': '0',
        'x-ratelimit-remaining-tokens': '1200',
        'x-ratelimit-reset-tokens': 'later',
      },
      NOW,
    );
    assert.deepEqual(r, { tokens: { remaining: 1200 } });
  });

  it('takes the first of repeated headers, trims, and prefers Anthropic over OpenAI field by field', () => {
    const r = parseRateLimitHeaders(
      {
        'anthropic-ratelimit-requests-remaining': [' 7 ', '9'],
        'x-ratelimit-remaining-requests': '100',
        'x-ratelimit-limit-requests': '200',
      },
      NOW,
    );
    assert.deepEqual(r, { requests: { limit: 200, remaining: 7 } });
  });

  it('returns nothing for a response without rate-limit headers', () => {
    assert.deepEqual(parseRateLimitHeaders({ 'content-type': 'application/json' }, NOW), {});
  });
});
