import type { BatchRecord } from '../domain/batch.ts';
import { requestCounts } from '../domain/batch.ts';
import type { WorkerReport } from '../store/store.ts';
import { rfc3339 } from '../wire/timestamp.ts';
import { html, type SafeHtml } from './html.ts';
import { layout } from './layout.ts';

function done(b: BatchRecord): number {
  return b.total - requestCounts(b, true).processing;
}

function countsText(b: BatchRecord): string {
  const c = requestCounts(b, true);
  return `${c.succeeded} succeeded, ${c.errored} errored, ${c.canceled} canceled, ${c.expired} expired`;
}

/** The batch list; the client script refreshes each row's status, bar and counts. */
export function batchesPage(batches: readonly BatchRecord[]): string {
  const rows = batches.map(
    (b) => html`<tr data-batch-id="${b.id}">
      <td><a href="/dashboard/batches/${b.id}"><code>${b.id}</code></a></td>
      <td class="status" data-field="status">${b.status}</td>
      <td><progress data-field="bar" value="${done(b)}" max="${b.total}"></progress>
        <span data-field="done">${done(b)}</span> / ${b.total}</td>
      <td data-field="counts">${countsText(b)}</td>
      <td class="muted">${rfc3339(b.createdAt)}</td>
    </tr>`,
  );
  return layout(
    'Batches',
    html`<h1>Batches</h1>
<table id="batches" data-live-list="1">
<thead><tr><th>Batch</th><th>Status</th><th>Progress</th><th>Outcomes</th><th>Created</th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td colspan="5" class="muted">No batches yet.</td></tr>`}</tbody>
</table>`,
  );
}

const card = (id: string, label: string, value: number | string): SafeHtml =>
  html`<div class="card"><div class="n" id="${id}">${value}</div><div class="l">${label}</div></div>`;

/** One batch: live counts and chart (SSE), usage and cost, lanes, errored requests, search, and the actions. */
export function batchPage(
  b: BatchRecord,
  errored: ReadonlyArray<{ customId: string; line: string }>,
): string {
  const c = requestCounts(b, true);
  const errors = errored.map(({ customId, line }) => {
    const e = (JSON.parse(line) as { result?: { error?: { error?: { type?: string; message?: string } } } })
      .result?.error?.error;
    return html`<tr><td><code>${customId}</code></td><td>${e?.type ?? ''}</td><td>${e?.message ?? ''}</td></tr>`;
  });
  return layout(
    b.id,
    html`<div id="batch" data-batch-id="${b.id}">
<h1><code>${b.id}</code> <span class="status" id="status">${b.status}</span></h1>
<p>
  <button id="cancel" class="danger" ${b.status === 'ended' ? html`disabled` : ''}>Cancel</button>
  <button id="delete" class="danger" ${b.status === 'ended' ? '' : html`disabled`}>Delete</button>
  <a id="download" class="button" href="/dashboard/batches/${b.id}/results" ${b.status === 'ended' ? '' : html`hidden`}>Download results</a>
  <span id="action-message" class="muted"></span>
</p>
<div class="cards">
  ${card('c-processing', 'processing', c.processing)}${card('c-succeeded', 'succeeded', c.succeeded)}
  ${card('c-errored', 'errored', c.errored)}${card('c-canceled', 'canceled', c.canceled)}
  ${card('c-expired', 'expired', c.expired)}${card('rate', 'requests/s', '–')}${card('eta', 'ETA', '–')}
  ${card('cost-batch', 'cost (batch prices)', '–')}${card('cost-standard', 'at standard prices', '–')}
</div>
<progress id="bar" value="${b.total - c.processing}" max="${b.total}" style="width:100%"></progress>
<section><h2>Throughput (requests/s)</h2><svg id="chart" viewBox="0 0 600 150" preserveAspectRatio="none"><polyline id="line" fill="none" stroke="#3751ff" stroke-width="2" points=""></polyline></svg></section>
<section><h2>Usage and cost by model</h2>
<table><thead><tr><th>Model</th><th>Requests</th><th>Input</th><th>Output</th><th>Cache write</th><th>Cache read</th><th>Cost (batch)</th><th>Standard</th></tr></thead><tbody id="usage"></tbody></table></section>
<section><h2>Lanes of this process</h2>
<table><thead><tr><th>Backend</th><th>Model</th><th>In flight</th><th>Limit</th><th>Waiting</th><th>Paused until</th></tr></thead><tbody id="lanes"></tbody></table></section>
<section><h2>Find a request</h2>
<form id="search"><input name="custom_id" id="custom-id" placeholder="custom_id" maxlength="64" required> <button type="submit">Find</button></form>
<div id="request" hidden>
  <p>State <strong id="request-state"></strong>, attempts <span id="request-attempts"></span> <span id="request-error" class="error"></span></p>
  <h2>Params</h2><pre id="request-params"></pre>
  <h2>Result</h2><pre id="request-result"></pre>
</div>
<p id="request-missing" class="error" hidden></p></section>
<section><h2>Errored requests</h2>
<table id="errored"><thead><tr><th>custom_id</th><th>Error type</th><th>Message</th></tr></thead>
<tbody>${errors.length ? errors : html`<tr><td colspan="3" class="muted">None so far (reload to refresh).</td></tr>`}</tbody></table></section>
</div>`,
  );
}

const laneRows = (lanes: WorkerReport['lanes']) =>
  lanes.map(
    (
      l,
    ) => html`<tr><td>${l.backend}</td><td><code>${l.model}</code></td><td>${l.inFlight}</td><td>${l.limit}</td>
      <td>${l.waiting}</td><td>${l.pausedUntil === null ? '' : rfc3339(l.pausedUntil)}</td></tr>`,
  );

/** The workers seen lately (every worker reports itself on its heartbeat) and each one's lanes. */
export function workersPage(workers: readonly WorkerReport[], now: number): string {
  const sections = workers.map(
    (w) => html`<section class="worker" data-owner="${w.owner}">
<h2><code>${w.owner}</code></h2>
<p class="muted">running ${w.running} of ${w.concurrency}, holding ${w.held}; started ${rfc3339(w.startedAt)},
last seen ${Math.max(0, Math.round((now - w.seenAt) / 1000))} s ago</p>
<table><thead><tr><th>Backend</th><th>Model</th><th>In flight</th><th>Limit</th><th>Waiting</th><th>Paused until</th></tr></thead>
<tbody>${w.lanes.length ? laneRows(w.lanes) : html`<tr><td colspan="6" class="muted">No lanes yet.</td></tr>`}</tbody></table>
</section>`,
  );
  return layout(
    'Workers',
    html`<h1>Workers and lanes</h1>
<p class="muted">Worker processes heard from in the last ${WORKERS_SEEN_WITHIN_S} s, each with its (backend, model) lanes: the limiter's window, waiting requests and pauses.</p>
${sections.length ? sections : html`<p class="muted">No worker has reported lately.</p>`}`,
  );
}

/** How far back the workers page looks. */
export const WORKERS_SEEN_WITHIN_S = 120;

export function loginPage(): string {
  return layout(
    'Sign in',
    html`<h1>Sign in</h1>
<form id="login"><p>Paste an API key (made with <code>barge keys create</code>). It is kept in a cookie for this site only.</p>
<input id="key" type="password" size="60" autocomplete="off" required> <button type="submit">Sign in</button>
<p id="login-error" class="error" hidden></p></form>`,
  );
}
