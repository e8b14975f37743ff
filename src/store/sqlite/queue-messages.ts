import type { BatchId } from '../../domain/ids.ts';
import type { TokenUsage } from '../../domain/token-usage.ts';
import type { ClaimedItem, ClaimOptions, Completion, Retry } from '../store.ts';

// The messages between the store and its queue thread. Claims and completions travel as columns (numbers in one
// transferred Float64Array, strings joined into one string) rather than as arrays of objects: structured cloning
// ~100 completion objects per flush measured ~7% of the main thread's time on the dispatch benchmark, and cloning
// one string or moving one buffer is close to free. Result lines and custom_ids never contain a line break (compact
// JSON; custom_id matches ^[a-zA-Z0-9_-]{1,64}$), so "\n" separates them.

/** A message to the queue thread. */
export type QueueRequest = { id: number } & (
  | { op: 'claim'; opts: ClaimOptions }
  | { op: 'complete'; completions: PackedCompletions; now: number }
  | { op: 'retry'; retries: Retry[] }
  | { op: 'heartbeat'; owner: string; now: number; leaseMs: number; itemIds: readonly number[] }
  | { op: 'close' }
);

/** Its answer: the operation's value, or the error it threw (message and SQLite code). */
export type QueueReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; message: string; code: string | undefined };

/** The index of `value` in `list`, appended the first time: each distinct model or batch is sent once. */
function intern<K, V>(list: V[], index: Map<K, number>, key: K, value: () => V): number {
  let i = index.get(key);
  if (i === undefined) {
    i = list.push(value()) - 1;
    index.set(key, i);
  }
  return i;
}

/** Numbers per completion: item id, batch seq, attempt, outcome (1 succeeded), model index (-1 none), usage × 6. */
const C_COLS = 11;

export interface PackedCompletions {
  nums: Float64Array;
  lines: string;
  models: string[];
}

export function packCompletions(completions: readonly Completion[]): PackedCompletions {
  const nums = new Float64Array(completions.length * C_COLS);
  const models: string[] = [];
  const modelIndex = new Map<string, number>();
  const lines: string[] = new Array(completions.length);
  for (let i = 0; i < completions.length; i++) {
    const c = completions[i]!;
    const o = i * C_COLS;
    nums[o] = c.itemId;
    nums[o + 1] = c.batchSeq;
    nums[o + 2] = c.attempt;
    nums[o + 3] = c.outcome === 'succeeded' ? 1 : 0;
    nums[o + 4] = -1;
    if (c.usage) {
      const model = c.model ?? '';
      nums[o + 4] = intern(models, modelIndex, model, () => model);
      const u = c.usage;
      nums[o + 5] = u.requests;
      nums[o + 6] = u.inputTokens;
      nums[o + 7] = u.outputTokens;
      nums[o + 8] = u.cacheWriteTokens;
      nums[o + 9] = u.cacheWrite1hTokens;
      nums[o + 10] = u.cacheReadTokens;
    }
    lines[i] = c.line;
  }
  return { nums, lines: lines.join('\n'), models };
}

export function unpackCompletions(p: PackedCompletions): Completion[] {
  if (p.nums.length === 0) return [];
  const lines = p.lines.split('\n');
  const out: Completion[] = new Array(lines.length);
  for (let i = 0; i < lines.length; i++) {
    const o = i * C_COLS;
    const c: Completion = {
      itemId: p.nums[o]!,
      batchSeq: p.nums[o + 1]!,
      attempt: p.nums[o + 2]!,
      outcome: p.nums[o + 3] === 1 ? 'succeeded' : 'errored',
      line: lines[i]!,
    };
    const m = p.nums[o + 4]!;
    if (m >= 0) {
      c.model = p.models[m]!;
      const usage: TokenUsage = {
        requests: p.nums[o + 5]!,
        inputTokens: p.nums[o + 6]!,
        outputTokens: p.nums[o + 7]!,
        cacheWriteTokens: p.nums[o + 8]!,
        cacheWrite1hTokens: p.nums[o + 9]!,
        cacheReadTokens: p.nums[o + 10]!,
      };
      c.usage = usage;
    }
    out[i] = c;
  }
  return out;
}

/** Numbers per claimed item: item id, batch seq, attempt, model index (-1 none), batch index, params end offset. */
const I_COLS = 6;

/** A claim's answer: the items as columns, their batches once each, every params in one buffer. */
export interface PackedClaim {
  nums: Float64Array;
  customIds: string;
  models: string[];
  batches: Array<{ id: BatchId; apiVersion: string; betas: string | null }>;
  bytes: ArrayBuffer;
}

export function packClaim(items: readonly ClaimedItem[]): PackedClaim {
  const nums = new Float64Array(items.length * I_COLS);
  const models: string[] = [];
  const modelIndex = new Map<string, number>();
  const batches: PackedClaim['batches'] = [];
  const batchIndex = new Map<number, number>();
  const ids: string[] = new Array(items.length);
  let total = 0;
  for (const it of items) total += it.params.byteLength;
  const bytes = new Uint8Array(new ArrayBuffer(total));
  let at = 0;
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!;
    const o = i * I_COLS;
    nums[o] = it.itemId;
    nums[o + 1] = it.batchSeq;
    nums[o + 2] = it.attempt;
    const model = it.model;
    nums[o + 3] = model === null ? -1 : intern(models, modelIndex, model, () => model);
    nums[o + 4] = intern(batches, batchIndex, it.batchSeq, () => ({
      id: it.batchId,
      apiVersion: it.apiVersion,
      betas: it.betas,
    }));
    bytes.set(it.params, at);
    at += it.params.byteLength;
    nums[o + 5] = at;
    ids[i] = it.customId;
  }
  return { nums, customIds: ids.join('\n'), models, batches, bytes: bytes.buffer };
}

/** The items of a packed claim; each params is a view into the one transferred buffer. */
export function unpackClaim(p: PackedClaim): ClaimedItem[] {
  const n = p.nums.length / I_COLS;
  if (n === 0) return [];
  const ids = p.customIds.split('\n');
  const all = new Uint8Array(p.bytes);
  const out: ClaimedItem[] = new Array(n);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const o = i * I_COLS;
    const m = p.nums[o + 3]!;
    const b = p.batches[p.nums[o + 4]!]!;
    const end = p.nums[o + 5]!;
    out[i] = {
      itemId: p.nums[o]!,
      batchSeq: p.nums[o + 1]!,
      batchId: b.id,
      customId: ids[i]!,
      attempt: p.nums[o + 2]!,
      params: all.subarray(at, end),
      model: m >= 0 ? p.models[m]! : null,
      apiVersion: b.apiVersion,
      betas: b.betas,
    };
    at = end;
  }
  return out;
}
