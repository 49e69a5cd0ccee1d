// The operator console: live calls over Server-Sent Events, actions by POST with the session's
// CSRF token. Everything from the server is shown with textContent, never parsed as HTML.
import { CallListener } from './listen.js';

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
/** the session's role: a viewer sees, an operator also acts and listens in */
let role = 'admin';
/** the listen-in of the selected call, while one runs */
let listener = null;
/** callSid → { callSid, agent, caller, state, t0 (local ms at duration 0), in, out, targets } */
const calls = new Map();
let selected = null;
let source = null;
let latencies = [];
/** the operator's action on the selected call, until its result is known: { kind, target } */
let pending = null;
/** the history page shown: its offset, and the next page's (null on the last) */
let historyOffset = 0;
let historyNext = null;
const PAGE = 25;
const TZ = Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';

const pad2 = (n) => String(Math.floor(Math.abs(n))).padStart(2, '0');
/** `2026-12-07T13:44:04+01:00`: ISO 8601 in the browser's time zone, with its offset. */
function isoLocal(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '–';
  const off = -d.getTimezoneOffset();
  const date = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  const time = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  return `${date}T${time}${off >= 0 ? '+' : '-'}${pad2(off / 60)}:${pad2(off % 60)}`;
}
const isoWithZone = (iso) => `${isoLocal(iso)} (${TZ})`;

/** An action's result on the call: the status line and a line in its timeline. */
function actionResult(text, ok) {
  const s = $('action-status');
  s.textContent = text;
  s.className = `action-status ${ok === undefined ? '' : ok ? 'ok' : 'error'}`;
  $('timeline').append(el('li', `operator: ${text}`, ok === false ? 'error' : undefined));
}

const actionName = (p) => (p.kind === 'hangup' ? 'Hang-up' : `Transfer to ${p.target}`);

/**
 * Asks before an action (a real dialog: Escape or Cancel says no); resolves to the answer. The
 * focus starts on Cancel: a double Enter must not hang a caller up; Tab, Enter confirms.
 */
function confirmAction(title, text, okLabel) {
  const d = $('confirm');
  $('confirm-h').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = okLabel;
  d.returnValue = '';
  d.showModal();
  $('confirm-cancel').focus();
  return new Promise((resolve) => d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true }));
}

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

function meter(name) {
  const m = document.createElement('meter');
  m.min = 0;
  m.max = 1;
  m.value = 0;
  m.className = 'level';
  m.setAttribute('aria-label', `${name} level 0%`);
  return m;
}

/** A meter's value, and its label only when the rounded level it states changes. */
function setLevel(row, key, value) {
  const v = value || 0;
  const m = row[`${key}Meter`];
  if (m.value !== v) m.value = v;
  const pct = Math.round(v * 100);
  if (row[`${key}Pct`] === pct) return;
  row[`${key}Pct`] = pct;
  m.setAttribute('aria-label', `${key === 'in' ? 'input' : 'output'} level ${pct}%`);
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
  const inMeter = meter('input');
  const outMeter = meter('output');
  cells.in.append(inMeter);
  cells.out.append(outMeter);
  tr.append(first, cells.agent, cells.caller, cells.duration, cells.state, cells.in, cells.out);
  return { tr, cells, inMeter, outMeter, inPct: 0, outPct: 0 };
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
    // A call with no audio either way for the configured time is flagged where the eye looks.
    setText(row.cells.state, `${c.stuck ? 'stuck: no audio · ' : ''}${STATE_LABEL[c.state] ?? c.state}`);
    const stateCls = `state state-${c.state}${c.stuck ? ' stuck' : ''}`;
    if (row.cells.state.className !== stateCls) row.cells.state.className = stateCls;
    setLevel(row, 'in', c.in);
    setLevel(row, 'out', c.out);
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
        $('takeover').disabled = true;
        $('listen').disabled = true;
        if ($('confirm').open) $('confirm').close('cancel'); // nothing left to confirm
        // A pending "Hanging up…" or "Transferring…" is over: say how it went, and how the call ended.
        const p = pending;
        pending = null;
        if (p?.kind === 'hangup') actionResult(`Hang-up: done. Call ended: ${ev.outcome}`, true);
        else if (p?.kind === 'transfer' && ev.outcome === 'transferred')
          actionResult(`Transfer to ${p.target}: done. Call ended: ${ev.outcome}`, true);
        else if (p) actionResult(`${actionName(p)}: not done. Call ended: ${ev.outcome}`, false);
        else $('action-status').textContent = `Call ended: ${ev.outcome}`;
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
    case 'stuck': {
      const c = calls.get(ev.callSid);
      if (c) c.stuck = ev.stuck;
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
      // An operator's transfer: Twilio's answer to it comes as the transfer verb's result.
      if (pending?.kind === 'transfer' && ev.type === 'verb' && ev.name === 'transfer_to_human') {
        const p = pending;
        if (ev.result === 'started') actionResult(`Transfer to ${p.target}: done, the call is being transferred`, true);
        else {
          pending = null;
          actionResult(
            `Transfer to ${p.target} failed: ${ev.result.replace(/_/g, ' ')}; the call stays with the agent`,
            false,
          );
        }
      }
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
    // Closed for good (the session ended: signed out, expired, its key revoked): api() goes to sign-in on a 401.
    if (source.readyState === EventSource.CLOSED) void api('/console/api/session');
  };
  source.onmessage = (m) => onEvent(JSON.parse(m.data));
}

/** Starts or stops listening to the selected call; the button says which it will do. */
function toggleListen() {
  if (listener) {
    listener.stop();
    return;
  }
  if (!selected) return;
  const sid = selected;
  const l = new CallListener(sid, csrf, (state, why) => {
    if (listener !== l) return;
    if (state === 'stopped') {
      listener = null;
      $('listen').textContent = 'Listen in';
      $('listen').setAttribute('aria-pressed', 'false');
      $('listen-status').textContent = `Listening stopped: ${why}`;
      return;
    }
    $('listen').textContent = 'Stop listening';
    $('listen').setAttribute('aria-pressed', 'true');
    $('listen-status').textContent = state === 'listening' ? 'Listening: caller and agent' : 'Connecting…';
  });
  listener = l;
  l.start();
}

async function select(callSid) {
  if (listener && callSid !== selected) listener.stop(); // one call heard at a time: the one shown
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
  $('action-status').className = 'action-status';
  pending = null;
  const viewer = role === 'viewer';
  $('hangup').disabled = viewer;
  $('transfer').disabled = viewer;
  $('listen').disabled = viewer;
  if (!listener) $('listen-status').textContent = '';
  const { json } = await api('/console/api/calls');
  const targets = (json.calls ?? []).find((x) => x.callSid === callSid)?.targets ?? [];
  $('transfer-target').replaceChildren(
    ...targets.map((t) => {
      const o = el('option', t);
      o.value = t;
      return o;
    }),
  );
  $('transfer').disabled = viewer || targets.length === 0;
  $('takeover').disabled = viewer || targets.length === 0;
  let mine = null;
  try {
    mine = localStorage.getItem('opb-my-line');
  } catch {
    /* storage off */
  }
  if (mine && targets.includes(mine)) $('transfer-target').value = mine;
  connect(); // the stream for this call: its backlog, then live
  $('detail-h').focus?.();
}

/** The search form as the API's query; a time range typed in local time, sent as ISO (UTC). */
function historyQuery() {
  const f = $('history-form');
  const q = new URLSearchParams();
  for (const k of ['outcome', 'agent', 'suffix', 'callSid']) {
    const v = f.elements[k].value.trim();
    if (v) q.set(k, v);
  }
  for (const k of ['since', 'until']) {
    const v = f.elements[k].value;
    const d = v ? new Date(v) : null;
    if (d && !Number.isNaN(d.getTime())) q.set(k, d.toISOString());
  }
  q.set('limit', String(PAGE));
  q.set('offset', String(historyOffset));
  return q;
}

async function loadHistory() {
  const { json } = await api(`/console/api/history?${historyQuery()}`);
  $('history-scope').textContent =
    json.scope === 'replica'
      ? "This replica's calls only: without a database of call records, another replica's calls are not here (the last 1,000 calls of this process)."
      : "Every replica's calls (the fleet's call history); the summary covers the fleet's last 1,000 calls.";
  historyNext = json.next ?? null;
  const list = json.calls ?? [];
  $('no-history').hidden = list.length > 0;
  $('h-newer').disabled = historyOffset === 0;
  $('h-older').disabled = historyNext === null;
  $('h-page').textContent = list.length
    ? `${historyOffset + 1}–${historyOffset + list.length} of ${json.total}${json.totalCapped ? '+' : ''}`
    : '';
  $('history').tBodies[0].replaceChildren(
    ...list.map((h) => {
      const tr = el('tr');
      tr.dataset.callSid = h.callSid;
      const open = el('button', `…${h.callSid.slice(-6)}`, 'link');
      open.type = 'button';
      open.setAttribute('aria-label', `Review past call ending ${h.callSid.slice(-6)}`);
      open.addEventListener('click', () => void openPast(h.callSid));
      const first = el('td');
      first.append(open);
      tr.append(
        first,
        el('td', isoLocal(h.startedAt)),
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
  const active = json.activeByAgent ?? {};
  const summary = json.summary ?? [];
  // An agent with calls in progress and none finished yet is shown too: calls now is health.
  for (const a of Object.keys(active))
    if (!summary.some((s) => s.agent === a))
      summary.push({
        agent: a,
        calls: 0,
        callsLastHour: 0,
        medianDurationMs: 0,
        transferRate: 0,
        toolErrorRate: 0,
        voiceToVoiceP50Ms: null,
        voiceToVoiceP95Ms: null,
        engineReconnects: 0,
      });
  $('summary').tBodies[0].replaceChildren(
    ...summary.map((s) => {
      const tr = el('tr');
      tr.append(
        el('td', s.agent),
        el('td', String(active[s.agent] ?? 0)),
        el('td', String(s.callsLastHour ?? 0)),
        el('td', String(s.calls)),
        el('td', fmtMs(s.medianDurationMs)),
        el('td', pct(s.transferRate)),
        el('td', pct(s.toolErrorRate)),
        el('td', ms(s.voiceToVoiceP50Ms)),
        el('td', ms(s.voiceToVoiceP95Ms)),
        el('td', String(s.engineReconnects ?? 0)),
      );
      return tr;
    }),
  );
}

const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number').sort((a, b) => a - b);
  return v.length ? `${v[Math.floor((v.length - 1) / 2)]} ms / ${v[v.length - 1]} ms` : '–';
};

/** A past call's review, from the fleet's records (DATABASE_URL) or this replica's. */
async function openPast(callSid) {
  const { status, json } = await api(`/console/api/history/${encodeURIComponent(callSid)}`);
  const d = json.call;
  $('past').hidden = false;
  $('past-sid').textContent = callSid;
  $('past-tz').textContent = TZ;
  if (status !== 200 || !d) {
    for (const id of ['past-transcript', 'past-tools', 'past-verbs', 'past-transfers']) $(id).replaceChildren();
    $('past-outcome').textContent = json.error ?? `not found (HTTP ${status})`;
    return;
  }
  const facts = {
    'past-agent': d.agent,
    'past-direction': d.direction,
    'past-caller': d.caller,
    'past-dialed': d.dialed,
    'past-started': isoWithZone(d.startedAt),
    'past-ended': isoWithZone(d.endedAt),
    'past-duration': fmtMs(d.durationMs),
    'past-outcome': d.outcome,
    'past-operator': d.operator ? `${d.operator.action} by ${d.operator.by} at ${fmtMs(d.operator.atMs)}` : 'none',
    'past-ff': median(d.replies.map((r) => r.firstFrameMs)),
    'past-v2v': median(d.replies.map((r) => r.voiceToVoiceMs)),
    'past-dtmf': String(d.dtmfCount),
  };
  for (const [id, text] of Object.entries(facts)) $(id).textContent = text;
  $('past-no-transcript').hidden = d.transcript !== null;
  $('past-transcript').replaceChildren(
    ...(d.transcript ?? []).map((t) => {
      const li = el('li', undefined, `turn ${t.role}`);
      li.append(
        el(
          'span',
          `${fmtMs(t.atMs)} ${t.role === 'user' ? 'Caller' : t.role === 'assistant' ? 'Agent' : 'Note'}`,
          'who',
        ),
        el('span', t.text, 'text'),
      );
      return li;
    }),
  );
  const none = (list, text) => (list.length ? list : [el('li', text, 'empty')]);
  $('past-tools').replaceChildren(
    ...none(
      d.toolCalls.map((t) => {
        const li = el('li', `${t.name}${t.server ? ` (${t.server})` : ''} → ${t.outcome} (${t.durationMs} ms)`);
        if (t.args !== undefined) li.append(el('div', `arguments: ${t.args}`, 'io'));
        if (t.result !== undefined) li.append(el('div', `result: ${t.result}`, 'io'));
        return li;
      }),
      'no tool calls',
    ),
  );
  $('past-verbs').replaceChildren(
    ...none(
      d.verbs.map((v) => el('li', `${fmtMs(v.atMs)}  ${v.verb} → ${v.result}`)),
      'no verbs',
    ),
  );
  $('past-transfers').replaceChildren(
    ...none(
      d.transfers.map((v) => el('li', `${fmtMs(v.atMs)}  ${v.verb} → ${v.result}`)),
      'no transfers',
    ),
  );
  $('past-h').focus?.();
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
  role = json.role ?? 'admin';
  // The controls a role may not use are not offered at all (the server refuses them too).
  $('viewer-note').hidden = role !== 'viewer';
  for (const e of document.querySelectorAll('.operator-only')) e.hidden = role === 'viewer';
  $('reload').hidden = role !== 'admin';
  $('who').textContent = json.actor ? `${json.actor} · ${role}` : role;
  $('listen').addEventListener('click', toggleListen);
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
  $('confirm-ok').addEventListener('click', () => $('confirm').close('ok'));
  $('confirm-cancel').addEventListener('click', () => $('confirm').close('cancel'));
  /** Confirmed, then sent; the answer (and later the call's end) is the action's result. */
  const act = async (p, path, body, question) => {
    const sid = selected;
    if (!sid) return;
    const caller = calls.get(sid)?.caller ?? '';
    if (
      !(await confirmAction(
        `${actionName(p)}?`,
        `${question} (call …${sid.slice(-6)}, caller ${caller})`,
        p.kind === 'hangup' ? 'Hang up now' : 'Transfer now',
      ))
    ) {
      if (!calls.has(sid)) return; // it ended meanwhile: its status says how
      $('action-status').textContent = `${actionName(p)}: cancelled`;
      $('action-status').className = 'action-status';
      return;
    }
    if (sid !== selected) return;
    pending = p;
    $('action-status').textContent = p.kind === 'hangup' ? 'Hanging up…' : `Transferring to ${p.target}…`;
    const { status: st, json: r } = await api(path, 'POST', body);
    if (sid !== selected || pending !== p) return;
    if (st === 202) {
      $('action-status').textContent = `${actionName(p)}: started…`;
      return;
    }
    pending = null;
    actionResult(`${actionName(p)} failed: ${r.error ?? 'no answer'} (HTTP ${st})`, false);
  };
  $('hangup').addEventListener('click', () =>
    act({ kind: 'hangup' }, `/console/api/calls/${selected}/hangup`, undefined, 'The caller is cut off at once.'),
  );
  // Take over: the supervisor's own line is one of the agent's targets, remembered in this browser.
  $('takeover').addEventListener('click', () => {
    const target = $('transfer-target').value;
    try {
      localStorage.setItem('opb-my-line', target);
    } catch {
      /* storage off: the choice is not remembered */
    }
    return act(
      { kind: 'transfer', target },
      `/console/api/calls/${selected}/transfer`,
      { target },
      `You take the call: it leaves the agent for your line, ${target}, at once.`,
    );
  });
  $('transfer').addEventListener('click', () => {
    const target = $('transfer-target').value;
    return act(
      { kind: 'transfer', target },
      `/console/api/calls/${selected}/transfer`,
      { target },
      `The call leaves the agent for ${target}.`,
    );
  });
  $('history-form').addEventListener('submit', (e) => {
    e.preventDefault();
    historyOffset = 0;
    void loadHistory();
  });
  $('h-older').addEventListener('click', () => {
    if (historyNext === null) return;
    historyOffset = historyNext;
    void loadHistory();
  });
  $('h-newer').addEventListener('click', () => {
    historyOffset = Math.max(0, historyOffset - PAGE);
    void loadHistory();
  });
  $('past-h').tabIndex = -1;
  $('history-started-h').textContent = `Started (${TZ})`;
  $('past-close').addEventListener('click', () => {
    $('past').hidden = true;
  });
  connect();
  void loadHistory();
  setInterval(renderCalls, 1000);
  // A link to one call (a transfer's context webhook sends /console?call=CA…): live, or past.
  const linked = new URLSearchParams(location.search).get('call');
  if (linked && /^CA[0-9a-f]{32}$/.test(linked)) void openLinked(linked);
}

async function openLinked(callSid) {
  const { json } = await api('/console/api/calls');
  if ((json.calls ?? []).some((c) => c.callSid === callSid)) return select(callSid);
  return openPast(callSid);
}

void main();
