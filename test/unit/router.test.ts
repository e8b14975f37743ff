import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRoutingConfig } from '../../src/routing/load-routing-config.ts';
import { globWildcards, laneKey, Router } from '../../src/routing/router.ts';
import type { RoutingConfig } from '../../src/routing/routing-config.ts';

const BACKENDS = { a: { type: 'mock' }, b: { type: 'mock' }, c: { type: 'mock' } };

function router(routes: { model: string; backend: string }[], extra: object = {}): Router {
  const config: RoutingConfig = parseRoutingConfig({ backends: BACKENDS, routes, ...extra }, 'test', {});
  return new Router(config);
}

/** Whether `glob` (routed to `a`) matches `model`. */
const matches = (glob: string, model: string): boolean =>
  router([{ model: glob, backend: 'a' }]).route(model) !== null;

describe('Router', () => {
  it('the first matching route wins', () => {
    const r = router([
      { model: 'claude-opus-*', backend: 'b' },
      { model: 'claude-*', backend: 'a' },
      { model: 'claude-opus-4', backend: 'c' },
      { model: '*', backend: 'c' },
    ]);
    assert.deepEqual(r.route('claude-opus-4'), { backend: 'b' });
    assert.deepEqual(r.route('claude-sonnet-4-5'), { backend: 'a' });
    assert.deepEqual(r.route('gpt-4o'), { backend: 'c' });
  });

  it('routes claude-* to one backend and everything else through the catch-all default', () => {
    const r = router([{ model: 'claude-*', backend: 'a' }], { default: 'b' });
    assert.deepEqual(r.route('claude-haiku-4-5'), { backend: 'a' });
    assert.deepEqual(r.route('claude-'), { backend: 'a' });
    assert.deepEqual(r.route('llama3:8b'), { backend: 'b' });
    // Case matters, as model names are case-sensitive upstream.
    assert.deepEqual(r.route('Claude-3'), { backend: 'b' });
  });

  it('treats model names as plain strings: * crosses / and . and matches a leading dot', () => {
    assert.ok(matches('*', 'a/b.c'));
    assert.ok(matches('*', '.hidden'));
    assert.ok(matches('*', 'org/.x/y'));
    assert.ok(matches('meta-llama/*', 'meta-llama/Llama-3.1-8B-Instruct'));
    assert.ok(matches('meta-llama/*', 'meta-llama/sub/model'));
    assert.ok(!matches('meta-llama/*', 'meta-llamas/x'));
    assert.ok(!matches('meta-llama/*', 'other/meta-llama/x'));
    assert.ok(matches('*/Qwen*', 'hf.co/Qwen/Qwen2.5-7B'));
    assert.ok(matches('*.gguf', 'models/llama.Q4.gguf'));
  });

  it('matches ?, braces, classes and extglobs as picomatch does', () => {
    assert.ok(matches('gpt-?', 'gpt-4'));
    assert.ok(!matches('gpt-?', 'gpt-4o'));
    assert.ok(!matches('gpt-?', 'gpt-'));
    assert.ok(matches('{claude,anthropic}-*', 'anthropic-x'));
    assert.ok(matches('{claude,anthropic}-*', 'claude-x'));
    assert.ok(!matches('{claude,anthropic}-*', 'openai-x'));
    assert.ok(matches('gpt-[34]*', 'gpt-4o'));
    assert.ok(!matches('gpt-[34]*', 'gpt-5'));
    assert.ok(matches('@(gpt|o1)-*', 'o1-mini'));
    assert.ok(!matches('@(gpt|o1)-*', 'o3-mini'));
    assert.ok(matches('!(claude-*)', 'gpt-4o'));
    assert.ok(!matches('!(claude-*)', 'claude-x'));
    assert.ok(matches('literal\\*', 'literal*'));
    assert.ok(!matches('literal\\*', 'literally'));
  });

  it('answers null when no route matches', () => {
    const r = router([{ model: 'claude-*', backend: 'a' }]);
    assert.equal(r.route('gpt-4o'), null);
    assert.equal(r.route('gpt-4o'), null);
    assert.equal(r.route(''), null);
  });

  it('the cache never changes an answer, also past its size', () => {
    const routes = [
      { model: 'claude-*', backend: 'a' },
      { model: 'meta-llama/*', backend: 'b' },
    ];
    const expected = (m: string): { backend: string } | null =>
      m.startsWith('claude-') ? { backend: 'a' } : m.startsWith('meta-llama/') ? { backend: 'b' } : null;
    const models = Array.from({ length: 2500 }, (_, i) =>
      i % 3 === 0 ? `claude-${i}` : i % 3 === 1 ? `meta-llama/m${i}` : `other-${i}`,
    );
    const warm = router(routes);
    // Three passes: misses, then hits for the newest, then models long evicted.
    for (let pass = 0; pass < 3; pass++) {
      for (const m of models) assert.deepEqual(warm.route(m), expected(m), `pass ${pass}, ${m}`);
    }
    const fresh = router(routes);
    for (const m of models.slice(0, 50)) assert.deepEqual(warm.route(m), fresh.route(m));
    // Repeated answers are the same frozen object: no allocation per request.
    assert.equal(warm.route('claude-x'), warm.route('claude-x'));
    assert.ok(Object.isFrozen(warm.route('claude-x')));
  });
});

describe('routing helpers', () => {
  it('laneKey gives one lane per backend and model', () => {
    assert.equal(laneKey('local', 'llama3:8b'), 'local:llama3:8b');
    assert.notEqual(laneKey('a', 'm'), laneKey('b', 'm'));
    assert.notEqual(laneKey('a', 'm'), laneKey('a', 'n'));
  });

  it('counts wildcards the way the glob bound does', () => {
    assert.equal(globWildcards('claude-*'), 1);
    assert.equal(globWildcards('**/x*'), 2);
    assert.equal(globWildcards('+(a|b)*'), 2);
    assert.equal(globWildcards('exact'), 0);
  });
});
