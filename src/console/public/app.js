// The operator console: live calls over Server-Sent Events, actions by POST with the session's
// CSRF token. Everything from the server is shown with textContent, never parsed as HTML.
const $ = (id) => document.getElementById(id);
const STATE_LABEL = {
  connecting: 'connecting',
  greeting: 'greeting',
  listening: 'listening',
  agent_speaking: 'agent speaking',
  tool_running: 'tool running',
  collecting: 'collecting digits',
  holding: 'on hold',
  restarting: 'stream restarting',
  transferring: 'transferring',
  ending: 'ending',
  remote: 'on another replica',
};

let csrf = '';
/** callSid → { callSid, agent, caller, state, t0 (local ms at duration 0), in, out, targets } */
const calls = new Map();
let selected = null;
let source = null;
let latencies = [];

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

const fmtMs = (ms) => {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

async function api(path, method = 'GET', body) {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: method === 'GET' ? {} : { 'content-type': 'application/json', 'x-csrf-token': csrf },
    ...(body !== undefined ? { body: JSON.stringify(body) } : method === 'GET' ? {} : { body: '{}' }),
  });
  if (res.status === 401) location.assign('/console/login');
  const json = await res.json().catch(() => ({}));
  return { status: res.status, json };
}

function meter(value) {
  const m = document.createElement('meter');
  m.min = 0;
  m.max = 1;
  m.value = value || 0;
  m.className = 'level';
  return m;
}

/** callSid → its row's live parts. Rows are built once and updated in place: a click, the
 * keyboard focus and a text selection on a row survive its updates. */
const rows = new Map();

function buildRow(c) {
  const tr = el('tr');
  tr.dataset.callSid = c.callSid;
  const link = el('button', `…${c.callSid.slice(-6)}`, 'link');
  link.type = 'button';
  link.setAttribute('aria-label', `Open call ending ${c.callSid.slice(-6)}`);
  link.addEventListener('click', () => select(c.callSid));
  const first = el('td');
  first.append(link);
  const cells = {
    agent: el('td'),
    caller: el('td'),
    duration: el('td', undefined, 'duration'),
    state: el('td', undefined, 'state'),
    in: el('td'),
    out: el('td'),
  };
  const inMeter = meter(0);
  const outMeter = meter(0);
  cells.in.append(inMeter);
  cells.out.append(outMeter);
  tr.append(first, cells.agent, cells.caller, cells.duration, cells.state, cells.in, cells.out);
  return { tr, cells, inMeter, outMeter };
}

/** Writes only what changed: an unchanged text node is never touched. */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function renderCalls() {
  const body = $('calls').tBodies[0];
  for (const [sid, row] of rows) {
    if (calls.has(sid)) continue;
    row.tr.remove();
    rows.delete(sid);
  }
  for (const c of calls.values()) {
    let row = rows.get(c.callSid);
    if (!row) {
      row = buildRow(c);
      rows.set(c.callSid, row);
      body.append(row.tr);
    }
    const cls = c.callSid === selected ? 'selected' : '';
    if (row.tr.className !== cls) row.tr.className = cls;
    setText(row.cells.agent, c.agent);
    setText(row.cells.caller, c.caller);
    setText(row.cells.duration, fmtMs(Date.now() - c.t0));
    setText(row.cells.state, STATE_LABEL[c.state] ?? c.state);
    const stateCls = `state state-${c.state}`;
    if (row.cells.state.className !== stateCls) row.cells.state.className = stateCls;
    if (row.inMeter.value !== (c.in || 0)) row.inMeter.value = c.in || 0;
    if (row.outMeter.value !== (c.out || 0)) row.outMeter.value = c.out || 0;
    row.cells.in.setAttribute('aria-label', `input level ${Math.round((c.in || 0) * 100)}%`);
    row.cells.out.setAttribute('aria-label', `output level ${Math.round((c.out || 0) * 100)}%`);
  }
  $('call-count').textContent = String(calls.size);
  $('no-calls').hidden = calls.size > 0;
  if (selected) {
    const c = calls.get(selected);
    if (c) setText($('detail-state'), STATE_LABEL[c.state] ?? c.state);
  }
}

function addCall(v, durationMs = 0) {
  const old = calls.get(v.callSid);
  calls.set(v.callSid, { in: 0, out: 0, targets: [], ...old, ...v, t0: old?.t0 ?? Date.now() - durationMs });
}

function onEvent(ev) {
  switch (ev.kind) {
    case 'snapshot':
      $('partial').hidden = !ev.partial;
      // A (re)connected stream resends the selected call's backlog after its snapshot: start over.
      if (selected) {
        $('transcript').replaceChildren();
        $('timeline').replaceChildren();
        latencies = [];
      }
      calls.clear();
      for (const c of ev.calls) addCall(c, c.durationMs);
      break;
    case 'started':
      addCall(ev.call);
      break;
    case 'ended':
      calls.delete(ev.callSid);
      if (ev.callSid === selected) {
        $('detail-state').textContent = `ended (${ev.outcome})`;
        $('hangup').disabled = true;
        $('transfer').disabled = true;
        // A pending "Hanging up…" or "Transferring…" is over: say how the call ended instead.
        $('action-status').textContent = `Call ended: ${ev.outcome}`;
      }
      setTimeout(loadHistory, 300);
      break;
    case 'reload':
      showReload(ev);
      return;
    case 'state': {
      const c = calls.get(ev.callSid);
      if (c) c.state = ev.state;
      break;
    }
    case 'levels': {
      const c = calls.get(ev.callSid);
      if (c) {
        c.in = ev.in;
        c.out = ev.out;
      }
      break;
    }
    case 'transcript': {
      const li = el('li', undefined, `turn ${ev.role}`);
      li.append(
        el('span', ev.role === 'user' ? 'Caller' : ev.role === 'assistant' ? 'Agent' : 'Note', 'who'),
        el('span', ev.text, 'text'),
      );
      $('transcript').append(li);
      return;
    }
    case 'timeline': {
      const d = ev.durationMs !== undefined ? ` (${ev.durationMs} ms)` : '';
      $('timeline').append(el('li', `${fmtMs(ev.atMs)}  ${ev.type}: ${ev.name} → ${ev.result}${d}`));
      return;
    }
    case 'latency': {
      $('detail-ff').textContent = `${ev.firstFrameMs} ms`;
      if (ev.voiceToVoiceMs !== undefined) {
        latencies.push(ev.voiceToVoiceMs);
        const sorted = [...latencies].sort((a, b) => a - b);
        $('detail-v2v').textContent = `${ev.voiceToVoiceMs} ms / ${sorted[Math.floor((sorted.length - 1) / 2)]} ms`;
      }
      return;
    }
  }
  renderCalls();
}

function connect() {
  if (source) source.close();
  source = new EventSource(
    selected ? `/console/api/events?call=${encodeURIComponent(selected)}` : '/console/api/events',
  );
  source.onopen = () => {
    $('conn').textContent = 'live';
    $('conn').className = 'conn live';
  };
  source.onerror = () => {
    $('conn').textContent = 'reconnecting…';
    $('conn').className = 'conn';
  };
  source.onmessage = (m) => onEvent(JSON.parse(m.data));
}

async function select(callSid) {
  selected = callSid;
  latencies = [];
  const c = calls.get(callSid);
  $('detail').hidden = false;
  $('detail-sid').textContent = `…${callSid.slice(-6)}`;
  $('detail-agent').textContent = c?.agent ?? '';
  $('detail-caller').textContent = c?.caller ?? '';
  $('detail-v2v').textContent = '–';
  $('detail-ff').textContent = '–';
  $('transcript').replaceChildren();
  $('timeline').replaceChildren();
  $('action-status').textContent = '';
  $('hangup').disabled = false;
  $('transfer').disabled = false;
  const { json } = await api('/console/api/calls');
  const targets = (json.calls ?? []).find((x) => x.callSid === callSid)?.targets ?? [];
  $('transfer-target').replaceChildren(
    ...targets.map((t) => {
      const o = el('option', t);
      o.value = t;
      return o;
    }),
  );
  $('transfer').disabled = targets.length === 0;
  connect(); // the stream for this call: its backlog, then live
  $('detail-h').focus?.();
}

async function loadHistory() {
  const f = $('history-form');
  const q = new URLSearchParams();
  for (const k of ['outcome', 'agent', 'suffix']) if (f.elements[k].value) q.set(k, f.elements[k].value);
  const { json } = await api(`/console/api/history?${q}`);
  $('history').tBodies[0].replaceChildren(
    ...(json.calls ?? []).map((h) => {
      const tr = el('tr');
      tr.append(
        el('td', new Date(h.startedAt).toLocaleTimeString()),
        el('td', h.agent),
        el('td', h.caller),
        el('td', fmtMs(h.durationMs)),
        el('td', h.outcome),
        el('td', `${h.tools} (${h.toolErrors})`),
      );
      return tr;
    }),
  );
  const pct = (x) => `${Math.round(x * 100)}%`;
  const ms = (x) => (x === null ? '–' : `${x} ms`);
  $('summary').tBodies[0].replaceChildren(
    ...(json.summary ?? []).map((s) => {
      const tr = el('tr');
      tr.append(
        el('td', s.agent),
        el('td', String(s.calls)),
        el('td', fmtMs(s.medianDurationMs)),
        el('td', pct(s.transferRate)),
        el('td', pct(s.toolErrorRate)),
        el('td', ms(s.voiceToVoiceP50Ms)),
        el('td', ms(s.voiceToVoiceP95Ms)),
      );
      return tr;
    }),
  );
}

/** A reload's result `{ok, message, at}`, always with its time: an old one must read as old. */
function showReload(r) {
  const s = $('reload-status');
  if (!r || typeof r.message !== 'string') return;
  const at = new Date(r.at);
  const when = Number.isNaN(at.getTime()) ? '' : ` at ${at.toLocaleString()}`;
  s.className = r.ok ? 'status ok' : 'status error';
  s.textContent = r.ok ? `Configuration reloaded${when}: ${r.message}` : `Reload refused${when}: ${r.message}`;
}

async function main() {
  const { status, json } = await api('/console/api/session');
  if (status !== 200) return;
  csrf = json.csrf;
  $('h-agent').append(
    ...json.agents.map((a) => {
      const o = el('option', a);
      o.value = a;
      return o;
    }),
  );
  showReload(json.lastReload);
  $('detail-h').tabIndex = -1;
  $('reload').addEventListener('click', async () => {
    $('reload').disabled = true;
    $('reload-status').textContent = 'Reloading…';
    const { json: r } = await api('/console/api/config/reload', 'POST');
    $('reload').disabled = false;
    showReload(r);
  });
  $('logout').addEventListener('click', async () => {
    await api('/console/logout', 'POST');
    location.assign('/console/login');
  });
  $('hangup').addEventListener('click', async () => {
    if (!selected) return;
    const { status: st, json: r } = await api(`/console/api/calls/${selected}/hangup`, 'POST');
    $('action-status').textContent = st === 202 ? 'Hanging up…' : `Refused: ${r.error ?? st}`;
  });
  $('transfer').addEventListener('click', async () => {
    if (!selected) return;
    const target = $('transfer-target').value;
    const { status: st, json: r } = await api(`/console/api/calls/${selected}/transfer`, 'POST', { target });
    $('action-status').textContent = st === 202 ? `Transferring to ${target}…` : `Refused: ${r.error ?? st}`;
  });
  $('history-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void loadHistory();
  });
  connect();
  void loadHistory();
  setInterval(renderCalls, 1000);
}

void main();
