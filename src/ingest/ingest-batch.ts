import type { BatchRecord } from '../domain/batch.ts';
import { newBatchId } from '../domain/ids.ts';
import { ApiError } from '../errors/api-error.ts';
import { TimeSlice } from '../internal/yield-now.ts';
import type { IngestItem, IngestSession, Store } from '../store/store.ts';
import { CreateBodyScanner, IngestError } from './create-body-scanner.ts';

/** 256 MiB: the hosted Batches API's documented body limit. */
export const MAX_BODY_BYTES = 256 * 1024 * 1024;
/**
 * An insert transaction holds at most this many items or bytes: large enough to amortise commits, small enough
 * that the synchronous SQLite write (about 10-20 ms per MiB here) never stalls other API requests for long.
 */
const CHUNK_ITEMS = 2000;
const CHUNK_BYTES = 512 * 1024;

export interface IngestContext {
  store: Store;
  workspace: string;
  now: number;
  ttlMs: number;
  apiVersion: string;
  betas: string | null;
  maxBodyBytes?: number;
  maxItems?: number;
}

/**
 * Streams a create body into storage with bounded memory: the scanner yields one item at a time, items are written
 * in chunks into a staged (invisible) batch, and the batch flips visible in one short final transaction. Any failure
 * removes what was staged, so a rejected or interrupted upload leaves nothing behind.
 */
export async function ingestBatch(
  body: AsyncIterable<Buffer>,
  ctx: IngestContext,
): Promise<{ batch: BatchRecord; bytes: number }> {
  const limit = ctx.maxBodyBytes ?? MAX_BODY_BYTES;
  const scanner = new CreateBodyScanner({ maxItems: ctx.maxItems ?? 100_000 });
  const staged: { session: IngestSession | null } = { session: null };
  let buffered: IngestItem[] = [];
  let bytes = 0;
  let bufferedBytes = 0;
  const flush = async () => {
    if (buffered.length === 0) return;
    // The batch row is created lazily, so bodies rejected early never touch the database.
    staged.session ??= await ctx.store.beginIngest({
      id: newBatchId(ctx.now),
      workspace: ctx.workspace,
      createdAt: ctx.now,
      expiresAt: ctx.now + ctx.ttlMs,
      apiVersion: ctx.apiVersion,
      betas: ctx.betas,
    });
    const items = buffered;
    buffered = [];
    bufferedBytes = 0;
    await staged.session.append(items);
  };
  const slice = new TimeSlice();
  try {
    for await (const chunk of body) {
      bytes += chunk.length;
      if (bytes > limit) throw tooLarge(limit);
      for (const item of scanner.push(chunk)) {
        buffered.push({ customId: item.customId, params: item.params, model: item.model });
        bufferedBytes += item.params.length;
      }
      if (buffered.length >= CHUNK_ITEMS || bufferedBytes >= CHUNK_BYTES) await flush();
      await slice.maybeYield();
    }
    scanner.end();
    await flush();
    if (!staged.session) {
      throw new ApiError(
        'invalid_request',
        'requests: List should have at least 1 item after validation, not 0',
      );
    }
    return { batch: await staged.session.commit(), bytes };
  } catch (err) {
    if (staged.session) await staged.session.abort().catch(() => {});
    if (err instanceof IngestError) throw new ApiError('invalid_request', err.message, { cause: err });
    throw err;
  }
}

/** The 413 for a body over the limit. */
export function tooLarge(limit: number): ApiError {
  return new ApiError('too_large', `Request exceeds the maximum allowed number of bytes (${limit}).`, {
    headers: { connection: 'close' },
  });
}
