/**
 * Terminology used across Barge.
 *
 * - **batch**: one Message Batch, as created by `POST /v1/messages/batches`. Identified by a `BatchId`
 *   (`msgbatch_01…`) on the wire and by an internal integer `seq` in storage.
 * - **item**: one request inside a batch (`{custom_id, params}`). Its `params` are stored as the exact bytes
 *   received, never re-serialised.
 * - **item state**: `queued` (waiting for a worker), `running` (claimed under a lease), then one final state:
 *   `succeeded`, `errored`, `canceled`, `expired`. A final state is written together with the item's result line,
 *   in one transaction, exactly once.
 * - **attempt**: a counter bumped on every claim. It doubles as the fencing token: a completion carries the attempt
 *   it was claimed with, and is dropped if the item has since been re-claimed or finalised.
 * - **lease**: how long a claim stays valid without a heartbeat. A lapsed lease returns the item to `queued`.
 * - **workspace**: the isolation unit of API keys. A batch is visible only in its own workspace.
 * - **sweeper**: the periodic pass that applies time rules (expiry, archival), turns queued items of canceling
 *   batches into `canceled` results, rescues lapsed leases and purges deleted batches.
 */
export type { BatchStatus, ItemState } from './batch-status.ts';
