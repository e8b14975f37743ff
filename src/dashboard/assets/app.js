// The dashboard's only script (the pages' CSP allows no other). It writes user data with textContent only.

const HEADERS = { 'anthropic-version': '2023-06-01', 'x-barge-dashboard': '1' };

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body ? { ...HEADERS, 'content-type': 'application/json' } : HEADERS,
    body: body ? JSON.stringify(body) : undefined,
    credentials: 'same-origin',
  });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new Error(data?.error?.message ?? `HTTP ${res.status}`);
  return data;
}

const $ = (id) => document.getElementById(id);
const setText = (id, v) => {
  const el = $(id);
  if (el) el.textContent = String(v);
};
const money = (v) => `$${v.toFixed(v < 1 ? 4 : 2)}`;

function login() {
  const form = $('login');
  if (!form) return;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('POST', '/dashboard/login', { key: $('key').value });
      location.href = '/dashboard';
    } catch (err) {
      const p = $('login-error');
      p.hidden = false;
      p.textContent = err.message;
    }
  });
}

function batchList() {
  const table = document.querySelector('[data-live-list]');
  if (!table) return;
  const refresh = async () => {
    try {
      const { data } = await api('GET', '/dashboard/api/batches');
      for (const b of data) {
        const row = table.querySelector(`tr[data-batch-id="${CSS.escape(b.id)}"]`);
        if (!row) continue;
        const c = b.request_counts;
        const done = b.total - c.processing;
        row.querySelector('[data-field=status]').textContent = b.processing_status;
        row.querySelector('[data-field=bar]').value = done;
        row.querySelector('[data-field=done]').textContent = String(done);
        row.querySelector('[data-field=counts]').textContent =
          `${c.succeeded} succeeded, ${c.errored} errored, ${c.canceled} canceled, ${c.expired} expired`;
      }
    } catch {
      // the next refresh will try again
    }
  };
  setInterval(refresh, 2000);
}

function batchPage() {
  const root = $('batch');
  if (!root) return;
  const id = root.dataset.batchId;
  const samples = [];
  const draw = () => {
    const rates = [];
    for (let i = 1; i < samples.length; i++) {
      const dt = (samples[i].t - samples[i - 1].t) / 1000;
      rates.push(dt > 0 ? (samples[i].done - samples[i - 1].done) / dt : 0);
    }
    const max = Math.max(1, ...rates);
    const step = rates.length > 1 ? 600 / (rates.length - 1) : 0;
    $('line').setAttribute(
      'points',
      rates.map((r, i) => `${(i * step).toFixed(1)},${(145 - (r / max) * 140).toFixed(1)}`).join(' '),
    );
  };
  const show = (p) => {
    const c = p.request_counts;
    setText('status', p.processing_status);
    for (const k of ['processing', 'succeeded', 'errored', 'canceled', 'expired']) setText(`c-${k}`, c[k]);
    setText('rate', p.requests_per_second);
    setText(
      'eta',
      p.processing_status === 'ended'
        ? 'done'
        : p.eta_seconds === null
          ? '–'
          : `${Math.ceil(p.eta_seconds)} s`,
    );
    setText('cost-batch', money(p.cost.batch));
    setText('cost-standard', money(p.cost.standard));
    $('bar').max = p.total;
    $('bar').value = p.total - c.processing;
    const body = $('usage');
    body.replaceChildren(
      ...p.by_model.map((m) => {
        const tr = document.createElement('tr');
        for (const v of [
          m.model,
          m.usage.requests,
          m.usage.input_tokens,
          m.usage.output_tokens,
          m.usage.cache_creation_input_tokens,
          m.usage.cache_read_input_tokens,
          money(m.cost.batch),
          money(m.cost.standard),
        ]) {
          const td = document.createElement('td');
          td.textContent = String(v);
          tr.append(td);
        }
        return tr;
      }),
    );
    const ended = p.processing_status === 'ended';
    $('cancel').disabled = ended;
    $('delete').disabled = !ended;
    $('download').hidden = !ended;
    // The server's clock (elapsed time), not arrival time: events can arrive in bursts.
    samples.push({ t: p.elapsed_seconds * 1000, done: p.total - c.processing });
    if (samples.length > 300) samples.shift();
    draw();
  };
  const events = new EventSource(`/barge/v1/batches/${encodeURIComponent(id)}/progress/stream`);
  events.addEventListener('progress', (e) => show(JSON.parse(e.data)));
  events.addEventListener('end', () => events.close());

  const lanes = async () => {
    try {
      const { data } = await api('GET', '/barge/v1/lanes');
      $('lanes').replaceChildren(
        ...data.map((l) => {
          const tr = document.createElement('tr');
          for (const v of [
            l.backend,
            l.model,
            l.inFlight,
            l.limit,
            l.waiting,
            l.pausedUntil ? new Date(l.pausedUntil).toISOString() : '',
          ]) {
            const td = document.createElement('td');
            td.textContent = String(v);
            tr.append(td);
          }
          return tr;
        }),
      );
    } catch {
      // shown again on the next refresh
    }
  };
  lanes();
  setInterval(lanes, 2000);

  const message = (text) => setText('action-message', text);
  $('cancel').addEventListener('click', async () => {
    try {
      const b = await api('POST', `/v1/messages/batches/${encodeURIComponent(id)}/cancel`);
      setText('status', b.processing_status);
      message('cancel requested');
    } catch (err) {
      message(err.message);
    }
  });
  $('delete').addEventListener('click', async () => {
    if (!confirm(`Delete ${id} and its results?`)) return;
    try {
      await api('DELETE', `/v1/messages/batches/${encodeURIComponent(id)}`);
      location.href = '/dashboard';
    } catch (err) {
      message(err.message);
    }
  });
  $('search').addEventListener('submit', async (e) => {
    e.preventDefault();
    const customId = $('custom-id').value;
    try {
      const r = await api(
        'GET',
        `/barge/v1/batches/${encodeURIComponent(id)}/requests/${encodeURIComponent(customId)}`,
      );
      $('request-missing').hidden = true;
      $('request').hidden = false;
      setText('request-state', r.state);
      setText('request-attempts', r.attempts);
      setText('request-error', r.last_error ?? '');
      setText('request-params', r.params === null ? '(archived)' : JSON.stringify(r.params, null, 2));
      setText('request-result', r.result === null ? '(no result yet)' : JSON.stringify(r.result, null, 2));
    } catch (err) {
      $('request').hidden = true;
      $('request-missing').hidden = false;
      setText('request-missing', err.message);
    }
  });
}

document.addEventListener('DOMContentLoaded', () => {
  login();
  batchList();
  batchPage();
});
