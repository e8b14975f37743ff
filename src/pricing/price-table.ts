import picomatch from 'picomatch';
import type { TokenUsage } from '../domain/token-usage.ts';

/** Standard (non-batch) list prices in US dollars per million tokens. */
export interface ModelPrice {
  /** A glob over model names, as in routes. */
  model: string;
  input: number;
  output: number;
  /** Prompt-cache writes with the 5-minute TTL; default 1.25 × input. */
  cacheWrite?: number;
  /** Prompt-cache writes with the 1-hour TTL; default 2 × input. */
  cacheWrite1h?: number;
  /** Prompt-cache reads; default 0.1 × input. */
  cacheRead?: number;
}

/**
 * The Claude models' standard list prices ($/MTok, input / output) as published by Anthropic in 2026; batches are
 * billed at half of these. Most specific patterns first: the first match wins. Any other model (a local one) costs 0.
 */
export const CLAUDE_LIST_PRICES: readonly ModelPrice[] = [
  { model: 'claude-opus-4-5*', input: 5, output: 25 },
  { model: 'claude-opus-4-6*', input: 5, output: 25 },
  { model: 'claude-opus-5*', input: 5, output: 25 },
  { model: 'claude-opus-4*', input: 15, output: 75 },
  { model: 'claude-3-opus*', input: 15, output: 75 },
  { model: 'claude-sonnet-*', input: 3, output: 15 },
  { model: 'claude-3-7-sonnet*', input: 3, output: 15 },
  { model: 'claude-3-5-sonnet*', input: 3, output: 15 },
  { model: 'claude-haiku-4*', input: 1, output: 5 },
  { model: 'claude-3-5-haiku*', input: 0.8, output: 4 },
  { model: 'claude-3-haiku*', input: 0.25, output: 1.25 },
];

/** Batches cost half the standard price. */
export const BATCH_DISCOUNT = 0.5;

/** Cost of some usage in US dollars, at batch prices and at standard prices. */
export interface Cost {
  batchUsd: number;
  standardUsd: number;
}

/** Looks up prices by model: the operator's entries (from the config file) first, then the built-in list. */
export class PriceTable {
  private readonly entries: Array<{ price: ModelPrice; match: (model: string) => boolean }>;

  constructor(overrides: readonly ModelPrice[] = [], builtIn: readonly ModelPrice[] = CLAUDE_LIST_PRICES) {
    this.entries = [...overrides, ...builtIn].map((price) => ({
      price,
      match: picomatch(price.model, { bash: true }),
    }));
  }

  priceOf(model: string): ModelPrice | null {
    return this.entries.find((e) => e.match(model))?.price ?? null;
  }

  /** What `usage` of `model` costs; a model without a price costs nothing. */
  cost(model: string, usage: TokenUsage): Cost {
    const p = this.priceOf(model);
    if (!p) return { batchUsd: 0, standardUsd: 0 };
    const write5m = usage.cacheWriteTokens - usage.cacheWrite1hTokens;
    const standardUsd =
      (usage.inputTokens * p.input +
        usage.outputTokens * p.output +
        write5m * (p.cacheWrite ?? p.input * 1.25) +
        usage.cacheWrite1hTokens * (p.cacheWrite1h ?? p.input * 2) +
        usage.cacheReadTokens * (p.cacheRead ?? p.input * 0.1)) /
      1e6;
    return { batchUsd: standardUsd * BATCH_DISCOUNT, standardUsd };
  }
}
