/** A batch with queued work, as a claim sees it. */
export interface ClaimableBatch {
  seq: number;
  workspace: string;
}

/**
 * How many of `limit` claims each batch gets: an even split across workspaces first, then across each workspace's
 * batches, so one workspace's 100,000-request batch (or its many batches) never starves another's 10 requests.
 * `rotation` turns both orders, so the rounding remainder (and, when there are more batches than claims, the
 * turn itself) moves on from one claim to the next. Batches come in creation order; shares of 0 are left out.
 * Claims that a batch cannot use (it ran short) are handed to the others by the caller in a second pass.
 */
export function fairShares<B extends ClaimableBatch>(
  batches: readonly B[],
  limit: number,
  rotation: number,
): Array<{ batch: B; n: number }> {
  const byWorkspace = new Map<string, B[]>();
  for (const b of batches) {
    const list = byWorkspace.get(b.workspace);
    if (list) list.push(b);
    else byWorkspace.set(b.workspace, [b]);
  }
  const out: Array<{ batch: B; n: number }> = [];
  const workspaces = rotate([...byWorkspace.values()], rotation);
  let left = limit;
  for (let w = 0; w < workspaces.length && left > 0; w++) {
    const wsBatches = rotate(workspaces[w]!, rotation);
    // What is left, split over the workspaces not served yet: a workspace's unused rounding goes to the next one.
    let wsLeft = Math.min(left, Math.ceil(left / (workspaces.length - w)));
    for (let i = 0; i < wsBatches.length && wsLeft > 0; i++) {
      const n = Math.ceil(wsLeft / (wsBatches.length - i));
      out.push({ batch: wsBatches[i]!, n });
      wsLeft -= n;
      left -= n;
    }
  }
  return out;
}

function rotate<T>(list: T[], by: number): T[] {
  if (list.length < 2) return list;
  const k = by % list.length;
  return k === 0 ? list : [...list.slice(k), ...list.slice(0, k)];
}
