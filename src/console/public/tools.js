// The tools and agents page: with the control plane, /console/api/v1 (the control plane's own
// routes under this session's key and role); without it, the file's tools, read-only.
const $ = (id) => document.getElementById(id);
const V1 = '/console/api/v1';
let csrf = '';
let role = 'viewer';
let tools = [];

async function api(path, method = 'GET', body) {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: method === 'GET' ? {} : { 'content-type': 'application/json', 'x-csrf-token': csrf },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status === 401) location.assign('/console/login');
  const json = await res.json().catch(() => ({}));
  return { status: res.status, json };
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function say(id, text, ok) {
  $(id).textContent = text;
  $(id).className = `action-status ${ok ? 'ok' : 'error'}`;
}

const problem = (r) =>
  `${r.json.message ?? `refused (${r.status})`}${r.json.issues ? `: ${r.json.issues.join('; ')}` : ''}`;

function renderTools(list, usage, agentsOf, admin) {
  const body = $('tools').querySelector('tbody');
  body.replaceChildren();
  for (const t of list) {
    const u = usage[t.name] ?? { calls: 0, errors: 0 };
    const tr = el('tr');
    tr.dataset.tool = t.name;
    tr.append(el('td', t.name, 'mono'), el('td', t.kind), el('td', t.status, 'tool-status'));
    tr.append(el('td', String(u.calls)), el('td', u.calls ? `${Math.round((100 * u.errors) / u.calls)}%` : '–'));
    tr.append(el('td', (agentsOf(t) ?? []).join(', ') || '–'));
    const actions = el('td');
    if (admin) {
      const toggle = el('button', t.status === 'active' ? 'Disable' : 'Enable', 'secondary');
      toggle.type = 'button';
      toggle.setAttribute('aria-label', `${t.status === 'active' ? 'Disable' : 'Enable'} ${t.name}`);
      toggle.addEventListener('click', () => void setStatus(t, t.status === 'active' ? 'disabled' : 'active'));
      const edit = el('button', 'Edit', 'secondary');
      edit.type = 'button';
      edit.setAttribute('aria-label', `Edit ${t.name}`);
      edit.addEventListener('click', () => fillForm(t));
      actions.append(toggle, edit);
    } else actions.textContent = '–';
    tr.append(actions);
    body.append(tr);
  }
  $('no-tools').hidden = list.length > 0;
}

async function setStatus(t, status) {
  const r = await api(`${V1}/tools/${encodeURIComponent(t.id)}`, 'PATCH', { status });
  if (r.status === 200) say('tools-status', `${t.name} is ${status}`, true);
  else say('tools-status', problem(r), false);
  await loadTools();
}

function fillForm(t) {
  $('t-name').value = t.name;
  $('t-description').value = t.description ?? '';
  $('t-url').value = t.webhook?.url ?? '';
  $('t-side-effect').value = t.side_effect;
  $('t-timeout').value = String(t.timeout_ms);
  $('t-parameters').value = JSON.stringify(t.parameters ?? { type: 'object', properties: {} });
  $('t-name').focus();
}

/** The secret lives in the page only while shown: never stored, gone when dismissed or reloaded. */
function showSecret(name, secret) {
  $('secret-tool').textContent = name;
  $('secret-value').textContent = secret;
  $('secret').hidden = false;
  $('secret-status').textContent = '';
  $('secret-copy').focus();
}

async function saveTool(ev) {
  ev.preventDefault();
  let parameters;
  try {
    parameters = JSON.parse($('t-parameters').value);
  } catch {
    return say('edit-status', 'the parameters are not JSON', false);
  }
  const existing = tools.find((t) => t.name === $('t-name').value);
  const body = {
    name: $('t-name').value,
    description: $('t-description').value,
    side_effect: $('t-side-effect').value,
    timeout_ms: Number($('t-timeout').value),
    parameters,
    // an edit keeps the stored executor's other fields (its secrets stay the server's)
    webhook: { ...(existing?.webhook ?? {}), url: $('t-url').value },
  };
  if (existing?.webhook) delete body.webhook.has_auth_secret;
  const r = await api(`${V1}/tools`, 'POST', body);
  if (r.status === 201) {
    say('edit-status', `${body.name} created`, true);
    if (r.json.signing_secret) showSecret(body.name, r.json.signing_secret);
  } else if (r.status === 200) say('edit-status', `${body.name} saved`, true);
  else say('edit-status', problem(r), false);
  await loadTools();
}

let bindingsOf = new Map();

async function loadTools() {
  const o = (await api('/console/api/tools-overview')).json;
  $('usage-source').textContent = `Calls and error rates: ${o.usageSource}.`;
  const admin = o.source === 'database' && role === 'admin';
  if (o.source === 'file') {
    $('mode').textContent =
      'The configuration is file-based (BRIDGE_CONFIG) and read-only here: edit the file and reload it to change tools or agents.';
    tools = o.tools;
    renderTools(tools, o.usage, (t) => t.agents, false);
    return;
  }
  $('mode').textContent =
    role === 'admin'
      ? 'Tools and agents from the control plane database.'
      : `Tools and agents from the control plane database, read-only: changes need the admin role (this session is ${role}).`;
  const r = await api(`${V1}/tools?limit=500`);
  tools = r.json.items ?? [];
  await loadAgents();
  const agentsOf = (t) => [...bindingsOf].filter(([, bs]) => bs.some((b) => b.tool === t.name)).map(([a]) => a);
  renderTools(tools, o.usage, agentsOf, admin);
  const pick = $('b-tool');
  const chosen = pick.value;
  pick.replaceChildren(...tools.map((t) => Object.assign(el('option', t.name), { value: t.name })));
  if (chosen) pick.value = chosen;
  renderBindings(admin);
  if (role === 'admin') await loadAudit();
}

async function loadAgents() {
  const agents = (await api(`${V1}/agents?limit=500`)).json.items ?? [];
  bindingsOf = new Map();
  for (const a of agents)
    bindingsOf.set(a.id, (await api(`${V1}/agents/${encodeURIComponent(a.id)}/tools`)).json.items ?? []);
  const pick = $('b-agent');
  const chosen = pick.value;
  pick.replaceChildren(...agents.map((a) => Object.assign(el('option', a.id), { value: a.id })));
  if (chosen && bindingsOf.has(chosen)) pick.value = chosen;
}

function renderBindings(admin) {
  const agent = $('b-agent').value;
  const body = $('bindings').querySelector('tbody');
  body.replaceChildren();
  for (const b of bindingsOf.get(agent) ?? []) {
    const tr = el('tr');
    tr.dataset.tool = b.tool;
    const settings = Object.entries(b.settings ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    tr.append(el('td', b.tool, 'mono'), el('td', b.enabled ? 'yes' : 'no'), el('td', settings || '–'));
    const actions = el('td');
    if (admin) {
      const unbind = el('button', 'Unbind', 'secondary');
      unbind.type = 'button';
      unbind.setAttribute('aria-label', `Unbind ${b.tool} from ${agent}`);
      unbind.addEventListener(
        'click',
        () =>
          void putBindings(
            agent,
            (bindingsOf.get(agent) ?? []).filter((x) => x.tool !== b.tool),
          ),
      );
      actions.append(unbind);
    } else actions.textContent = '–';
    tr.append(actions);
    body.append(tr);
  }
}

async function putBindings(agent, list) {
  const body = list.map((b) => ({ tool: b.tool, enabled: b.enabled, settings: b.settings ?? {} }));
  const r = await api(`${V1}/agents/${encodeURIComponent(agent)}/tools`, 'PUT', body);
  if (r.status === 200) say('bind-status', `${agent}'s tools saved`, true);
  else say('bind-status', problem(r), false);
  await loadTools();
}

function parseSettings(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i <= 0) continue;
    const v = line.slice(i + 1).trim();
    out[line.slice(0, i).trim()] = /^-?\d+(\.\d+)?$/.test(v)
      ? Number(v)
      : v === 'true'
        ? true
        : v === 'false'
          ? false
          : v;
  }
  return out;
}

async function loadAudit() {
  const r = await api(`${V1}/audit?limit=50`);
  const body = $('audit-rows').querySelector('tbody');
  body.replaceChildren();
  for (const a of r.json.items ?? []) {
    const tr = el('tr');
    tr.append(
      el('td', new Date(a.at).toLocaleString()),
      el('td', a.key?.name ?? '–'),
      el('td', a.action, 'mono'),
      el('td', a.target, 'mono'),
    );
    body.append(tr);
  }
}

async function main() {
  const s = (await api('/console/api/session')).json;
  csrf = s.csrf;
  role = s.role;
  $('who').textContent = `${s.actor} (${s.role})`;
  const o = (await api('/console/api/tools-overview')).json;
  const db = o.source === 'database';
  for (const e of document.querySelectorAll('.db-only')) e.hidden = !db;
  for (const e of document.querySelectorAll('.admin-only')) e.hidden = !(db && role === 'admin');
  $('tool-form').addEventListener('submit', (ev) => void saveTool(ev));
  $('secret-copy').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText($('secret-value').textContent);
      say('secret-status', 'copied', true);
    } catch {
      say('secret-status', 'the browser refused to copy: select the secret and copy it', false);
    }
  });
  $('secret-done').addEventListener('click', () => {
    $('secret-value').textContent = '';
    $('secret').hidden = true;
  });
  $('b-agent').addEventListener('change', () => renderBindings(db && role === 'admin'));
  $('bind-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const agent = $('b-agent').value;
    const tool = $('b-tool').value;
    if (!agent || !tool) return say('bind-status', 'pick an agent and a tool', false);
    const rest = (bindingsOf.get(agent) ?? []).filter((b) => b.tool !== tool);
    void putBindings(agent, [...rest, { tool, enabled: true, settings: parseSettings($('b-settings').value) }]);
  });
  await loadTools();
  document.body.dataset.ready = 'true';
}

void main();
