import picomatch from 'picomatch';
import type { RoutingConfig } from './routing-config.ts';

/** Where a request goes: the name of a configured backend. */
export interface RouteTarget {
  readonly backend: string;
}

// Model names are plain strings, not paths: `bash` makes a single `*` a globstar so it crosses `/`
// (`meta-llama/*`, `*` matching `a/b.c`), `dot` lets it match a leading `.`, and `windows: false` keeps `\`
// an escape on every platform.
const GLOB_OPTIONS: picomatch.PicomatchOptions = { bash: true, dot: true, windows: false };

/**
 * Each `*` that is followed by more pattern multiplies the worst-case backtracking of the compiled regex by the
 * length of the model name (up to 256): measured on 256 characters, 3 wildcards take ~30 ms, 4 take ~1.5 s.
 */
export const MAX_GLOB_WILDCARDS = 3;

/** How many wildcards (runs of `*`, and `+(` extglobs) a glob has, for the bound above. */
export function globWildcards(glob: string): number {
  return glob.match(/\*+|\+\(/g)?.length ?? 0;
}

/** Compiles one route's `model` glob into a predicate on model names. */
export function compileModelGlob(glob: string): (model: string) => boolean {
  return picomatch(glob, GLOB_OPTIONS);
}

/** The rate-limit unit: one lane per backend and model. Backend names cannot hold `:`, so the key is unambiguous. */
export function laneKey(backend: string, model: string): string {
  return `${backend}:${model}`;
}

// Clients choose model names, so the cache must not grow with them.
const CACHE_LIMIT = 1000;

/** Picks the backend for a request's `model`: the first route whose glob matches wins. */
export class Router {
  private readonly rules: { test: (model: string) => boolean; target: RouteTarget }[];
  // model -> answer (null: no route). Oldest entry evicted first; Map keeps insertion order.
  private readonly cache = new Map<string, RouteTarget | null>();

  constructor(config: RoutingConfig) {
    this.rules = config.routes.map((r) => ({
      test: compileModelGlob(r.model),
      target: Object.freeze({ backend: r.backend }),
    }));
  }

  route(model: string): RouteTarget | null {
    const hit = this.cache.get(model);
    if (hit !== undefined) return hit;
    const found = this.rules.find((r) => r.test(model))?.target ?? null;
    if (this.cache.size >= CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(model, found);
    return found;
  }
}
