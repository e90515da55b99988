// Sluice's status page (GET /sluice/ui/): asks for the Admin API key once (kept in sessionStorage, this tab only),
// then every REFRESH_MS reads GET /sluice/v1/overview (listeners, routes, upstream nodes, the config revision and
// the key's role) and GET /sluice/v1/connections (the session list, with the filter form's query) and redraws.
// An admin key gets an "End" button per session (DELETE /sluice/v1/connections/{id}); a viewer key does not.
// A refused key (401) is said so and the key is asked again; any other failure is shown as it came, and the page
// keeps trying. Everything shown is set as text (textContent), never as markup: session fields such as the SNI come
// from clients.
'use strict';

const KEY_ITEM = 'sluice.adminKey';
const REFRESH_MS = 2000;
const SESSION_LIMIT = 500;

const $ = (id) => document.getElementById(id);

let timer;
/** Each refresh's number: an answer to an older one is dropped (a click or the filter started a newer one). */
let generation = 0;
/** The previous overview, for sessions/s. */
let previous;
let role;

class ApiError extends Error {
  constructor(status, message, description) {
    super(message);
    this.status = status;
    this.description = description;
  }
}

const API_TIMEOUT_MS = 10_000;

const storedKey = () => sessionStorage.getItem(KEY_ITEM);

async function api(method, path) {
  let res;
  try {
    // bounded: a gateway that never answers must not stop the refresh for good
    res = await fetch(path, { method, headers: { 'X-API-KEY': storedKey() ?? '' }, cache: 'no-store', signal: AbortSignal.timeout(API_TIMEOUT_MS) });
  } catch (err) {
    throw new ApiError(0, `the gateway did not answer ${method} ${path} (${err.message})`);
  }
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = undefined; }
  if (!res.ok) {
    const msg = body !== null && typeof body === 'object' && typeof (body.error_msg ?? body.message) === 'string' ? body.error_msg ?? body.message : text.slice(0, 300) || res.statusText;
    throw new ApiError(res.status, `${method} ${path}: ${res.status} ${msg}`, typeof body?.description === 'string' ? body.description : undefined);
  }
  return body;
}

function show(el, on) { el.hidden = !on; }

function banner(id, text) {
  const el = $(id);
  el.textContent = text ?? '';
  show(el, text !== undefined);
}

function askKey(message) {
  clearTimeout(timer);
  generation++;
  previous = undefined;
  show($('main'), false);
  show($('forget'), false);
  banner('error');
  banner('notice');
  $('role').textContent = '–';
  // nothing of the previous key's view stays (its rows may carry End buttons)
  for (const t of ['listeners', 'routes', 'nodes', 'sessions']) $(t).tBodies[0].replaceChildren();
  const msg = $('login-msg');
  msg.textContent = message ?? '';
  show(msg, message !== undefined);
  show($('login'), true);
  $('key').value = '';
  $('key').focus();
}

// ---- rendering helpers

function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls !== undefined) td.className = cls;
  tr.append(td);
  return td;
}

/**
 * Sets the rows of `table`'s body to one per item (`emptyText` when there is none). A row whose key was there before
 * is kept and only its texts change, and rows are moved only when the order changed: a button the user is about to
 * click stays the same element across refreshes. A cell marked `keep` (the "End" button's) is left as it was.
 */
function rows(table, items, keyOf, build, emptyText) {
  const body = $(table).tBodies[0];
  const before = new Map();
  for (const tr of body.rows) if (tr.dataset.key !== undefined) before.set(tr.dataset.key, tr);
  const want = [];
  for (const item of items) {
    const key = keyOf(item);
    const tr = document.createElement('tr');
    tr.dataset.key = key;
    build(tr, item);
    const old = before.get(key);
    if (old !== undefined && old.cells.length === tr.cells.length) {
      for (let i = 0; i < tr.cells.length; i++) {
        const [o, n] = [old.cells[i], tr.cells[i]];
        if (n.dataset.keep !== undefined) continue;
        if (o.textContent !== n.textContent) o.textContent = n.textContent;
        if (o.className !== n.className) o.className = n.className;
        if (o.title !== n.title) o.title = n.title;
      }
      want.push(old);
    } else {
      want.push(tr);
    }
  }
  if (want.length === 0) {
    const tr = document.createElement('tr');
    const td = cell(tr, emptyText, 'empty');
    td.colSpan = $(table).tHead.rows[0].cells.length;
    want.push(tr);
  }
  const keep = new Set(want);
  for (const tr of [...body.rows]) if (!keep.has(tr)) tr.remove();
  want.forEach((tr, i) => { if (body.rows[i] !== tr) body.insertBefore(tr, body.rows[i] ?? null); });
}

const hostPort = (host, port) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
const yesNo = (b) => (b ? 'yes' : 'no');

function age(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

function matches(r) {
  const parts = [];
  if (r.server_addr !== null) parts.push(`server_addr ${r.server_addr}`);
  if (r.server_port !== null) parts.push(`server_port ${r.server_port}`);
  if (r.snis.length > 0) parts.push(`sni ${r.snis.join(', ')}`);
  if (r.remote_addrs.length > 0) parts.push(`client ${r.remote_addrs.join(', ')}`);
  return parts.length > 0 ? parts.join('; ') : 'every connection';
}

/** Sessions/s of a route since the previous overview: its sessions seen so far (open + ended) over the time between. */
function rate(r, ov) {
  const before = previous?.routes.find((p) => p.id === r.id);
  if (before === undefined || ov.time <= previous.time) return '–';
  const n = (r.open_sessions + r.sessions_ended) - (before.open_sessions + before.sessions_ended);
  return (Math.max(0, n) / ((ov.time - previous.time) / 1000)).toFixed(1);
}

const HEALTH_TEXT = { healthy: 'healthy', mostly_healthy: 'mostly healthy', mostly_unhealthy: 'mostly unhealthy', unhealthy: 'unhealthy' };

function render(ov, conns) {
  role = ov.role;
  document.body.classList.toggle('viewer', role !== 'admin');
  $('revision').textContent = String(ov.config_version);
  $('role').textContent = role === 'admin' ? 'admin' : 'viewer (read only)';
  $('updated').textContent = new Date(ov.time).toLocaleTimeString();
  const partial = ov.sessions.counted < ov.sessions.open;
  const open = (n) => (partial ? `≥ ${n}` : String(n));

  rows('listeners', ov.listeners, (l) => `${l.protocol} ${l.addr} ${l.bound_port}`, (tr, l) => {
    cell(tr, l.protocol);
    cell(tr, l.host === null ? `*:${l.bound_port}` : hostPort(l.host, l.bound_port));
    cell(tr, l.addr);
    cell(tr, yesNo(l.tls));
    cell(tr, yesNo(l.proxy_protocol));
    cell(tr, String(l.open_sessions), 'num');
  }, 'no listener');

  $('routes-note').textContent = ov.routes.length < ov.routes_total ? `(the first ${ov.routes.length} of ${ov.routes_total})` : '';
  rows('routes', ov.routes, (r) => r.id, (tr, r) => {
    cell(tr, r.id);
    cell(tr, r.name ?? '');
    cell(tr, matches(r));
    cell(tr, r.upstream ?? 'none');
    cell(tr, open(r.open_sessions), 'num');
    cell(tr, rate(r, ov), 'num');
    cell(tr, String(r.sessions_ended), 'num');
  }, 'no stream route');

  const nodes = ov.upstreams.flatMap((u) => u.nodes.map((n) => ({ u, n })));
  const cut = ov.upstreams.some((u) => u.nodes.length < u.nodes_total);
  $('upstreams-note').textContent = ov.upstreams.length < ov.upstreams_total || cut ? '(not every upstream or node is listed)' : '';
  rows('nodes', nodes, ({ u, n }) => `${u.key} ${hostPort(n.host, n.port)}`, (tr, { u, n }) => {
    cell(tr, u.key);
    cell(tr, hostPort(n.host, n.port) + (n.ip !== null && n.ip !== n.host ? ` (${n.ip})` : n.ip === null ? ' (unresolved)' : ''));
    cell(tr, String(n.weight), 'num');
    cell(tr, String(n.priority), 'num');
    const h = cell(tr, n.health === null ? 'not checked' : HEALTH_TEXT[n.health] ?? n.health, `health ${n.health ?? 'unchecked'}`);
    h.title = n.health === null ? 'the upstream has no health checks' : 'from the health checker';
    cell(tr, String(n.open_sessions), 'num');
  }, 'no upstream node');

  $('sessions-note').textContent = conns.total > conns.list.length ? `(${conns.list.length} of ${conns.total} shown)` : `(${conns.total})`;
  rows('sessions', conns.list, (c) => c.id, (tr, c) => {
    cell(tr, c.id);
    cell(tr, c.protocol);
    cell(tr, hostPort(c.remote_addr, c.remote_port));
    cell(tr, c.listener);
    cell(tr, c.route_id ?? '');
    cell(tr, c.node ?? '');
    cell(tr, c.sni ?? '');
    cell(tr, c.state);
    cell(tr, age(ov.time - c.started_at), 'num');
    cell(tr, String(c.bytes_from_client), 'num');
    cell(tr, String(c.bytes_to_client), 'num');
    const td = cell(tr, '', 'admin-only');
    td.dataset.keep = '';
    if (role === 'admin') {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'end';
      b.textContent = 'End';
      b.title = `End session ${c.id}`;
      b.addEventListener('click', () => { void end(c.id, b); });
      td.append(b);
    }
  }, 'no live session');
  previous = ov;
}

// ---- refresh, end, key

function filterQuery() {
  const q = new URLSearchParams();
  for (const [k, v] of new FormData($('filter'))) if (typeof v === 'string' && v.trim() !== '') q.set(k, v.trim());
  q.set('limit', String(SESSION_LIMIT));
  return q.toString();
}

async function refresh() {
  clearTimeout(timer);
  const mine = ++generation;
  if (storedKey() === null) {
    askKey();
    return;
  }
  try {
    const [ov, conns] = await Promise.all([api('GET', '/sluice/v1/overview'), api('GET', `/sluice/v1/connections?${filterQuery()}`)]);
    if (mine !== generation) return;
    render(ov, conns);
    show($('login'), false);
    show($('main'), true);
    show($('forget'), true);
    banner('error');
  } catch (err) {
    if (mine !== generation) return;
    if (err instanceof ApiError && err.status === 401) {
      sessionStorage.removeItem(KEY_ITEM);
      askKey(`Wrong key: the gateway refused it (401: ${err.description ?? 'failed to check token'}). Enter the admin key or a viewer key.`);
      return;
    }
    banner('error', `Could not refresh: ${err.message}. Trying again every ${REFRESH_MS / 1000} s.`);
  }
  timer = setTimeout(() => { void refresh(); }, REFRESH_MS);
}

async function end(id, button) {
  button.disabled = true;
  button.textContent = 'Ending…';
  try {
    await api('DELETE', `/sluice/v1/connections/${encodeURIComponent(id)}`);
    banner('notice', `Session ${id} ended.`);
  } catch (err) {
    banner('error', `Could not end session ${id}: ${err.message}`);
    button.disabled = false;
    button.textContent = 'End';
  }
  await refresh();
}

function start() {
  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    const k = $('key').value;
    if (k === '') return;
    sessionStorage.setItem(KEY_ITEM, k);
    show($('login-msg'), false);
    void refresh();
  });
  $('forget').addEventListener('click', () => {
    sessionStorage.removeItem(KEY_ITEM);
    askKey();
  });
  $('filter').addEventListener('submit', (e) => {
    e.preventDefault();
    banner('notice');
    void refresh();
  });
  // the form's reset clears the fields after this event: refresh once they are empty
  $('filter').addEventListener('reset', () => { setTimeout(() => { void refresh(); }, 0); });
  void refresh();
}

start();
