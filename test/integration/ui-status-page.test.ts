// The status page (GET /sluice/ui/, CONTRACT §7) end to end in headless Chromium (Debian's `chromium`, driven by
// playwright-core): the page asks for the key once (sessionStorage), shows listeners, routes, upstream nodes with
// their health and the live sessions, refreshes itself, and an admin key ends a session with its button (the client's
// socket closes); a viewer key sees the session but no button; a wrong key gets a clear message and the prompt again.
// The page loads nothing but its own files from the admin listener. And GET /sluice/v1/overview, which feeds it.
// A screenshot goes to test/output/ui-status-page.png. Without /usr/bin/chromium the browser tests fail, never skip.
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ADMIN_KEY, VIEWER_KEY, startTestGateway, type TestGateway } from '../fixtures/gateway.ts';
import { openSession } from '../fixtures/load.ts';
import { echoServer } from '../fixtures/servers.ts';
import { deadPort, put, waitFor } from '../fixtures/upstream-helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const OUT = fileURLToPath(new URL('../output/', import.meta.url));
const PAGE = '/sluice/ui/';
/** Longer than a refresh (2 s) plus a session's 200 ms to show up, with room for a loaded machine. */
const SEEN_MS = 8000;

async function launch(t: TestContext): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: the status page tests need Debian's chromium (apt-get install chromium; .ci/run installs it)`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.after(() => browser.close());
  return browser;
}

/** A page on the gateway's status page that records every URL it asks for (nothing may come from elsewhere). */
async function openPage(t: TestContext, g: TestGateway): Promise<{ page: Page; requested: string[] }> {
  const browser = await launch(t);
  const page = await (await browser.newContext()).newPage();
  const requested: string[] = [];
  page.on('request', (r) => { requested.push(r.url()); });
  await page.goto(g.adminUrl + PAGE);
  return { page, requested };
}

async function enterKey(page: Page, key: string): Promise<void> {
  await page.locator('#key').waitFor({ state: 'visible', timeout: SEEN_MS });
  await page.fill('#key', key);
  await page.click('#login button[type=submit]');
}

/** One route through the gateway's test listener to an echo server; `extraNodes` are added to its upstream. */
async function echoRoute(t: TestContext, g: TestGateway, routeId: string, checks?: unknown, extraNodes: string[] = []): Promise<{ port: number; node: string }> {
  const echo = await echoServer(t);
  const port = g.listenerPort(0);
  const nodes = Object.fromEntries([echo.node, ...extraNodes].map((n) => [n, 1]));
  await put(g, 'upstreams/ui-up', { type: 'roundrobin', nodes, ...(checks === undefined ? {} : { checks }) });
  await put(g, `stream_routes/${routeId}`, { name: 'status page test', server_port: port, upstream_id: 'ui-up' });
  return { port, node: echo.node };
}

interface Conn { id: string; route_id: string | null }
interface Overview {
  config_version: number; role: string; time: number; sessions: { open: number; counted: number };
  listeners: unknown[]; routes: { id: string; sessions_ended: number }[]; routes_total: number; upstreams: unknown[]; upstreams_total: number;
}

async function liveIds(g: TestGateway): Promise<string[]> {
  const r = await g.admin('GET', '/sluice/v1/connections');
  if (r.status !== 200) throw new Error(`GET connections: ${r.status} ${r.text}`);
  return (r.json as { list: Conn[] }).list.map((c) => c.id);
}

/** The id of the one live session, once the connections API lists it (bounded). */
async function theSession(g: TestGateway): Promise<string> {
  let ids: string[] = [];
  await waitFor(async () => (ids = await liveIds(g)).length === 1, 3000);
  if (ids.length !== 1) throw new Error(`expected one live session, got ${JSON.stringify(ids)}`);
  return ids[0] as string;
}

const cellText = (page: Page, table: string, key: string, col: number): Promise<string> =>
  page.locator(`#${table} tr[data-key="${key}"] td`).nth(col).innerText();

test('status page, admin key: listeners, routes, node health, a live session appears; its End button ends it and the client socket closes', { timeout: 90_000 }, async (t: TestContext) => {
  t.plan(17);
  const g = await startTestGateway(t, {}, { listeners: [{}] });
  const dead = `127.0.0.1:${await deadPort()}`;
  const checks = { active: { type: 'tcp', timeout: 1, healthy: { interval: 1, successes: 1 }, unhealthy: { interval: 1, tcp_failures: 1 } } };
  const { port, node } = await echoRoute(t, g, 'ui-admin', checks, [dead]);
  const { page, requested } = await openPage(t, g);

  await enterKey(page, ADMIN_KEY);
  await page.locator('#role', { hasText: /^admin$/ }).waitFor({ timeout: SEEN_MS });
  t.assert.equal(await page.evaluate(() => sessionStorage.getItem('sluice.adminKey')), ADMIN_KEY, 'the key is kept in sessionStorage');
  t.assert.equal(await page.locator('#revision').innerText(), String(g.gw.builder.current?.version), 'the config revision in force');

  // the listener with its bound port, the route, both nodes with the checker's verdict
  const listener = page.locator('#listeners tbody tr', { hasText: String(port) });
  await listener.waitFor({ timeout: SEEN_MS });
  t.assert.match(await listener.innerText(), new RegExp(`^tcp\\s+127\\.0\\.0\\.1:${port}\\s+127\\.0\\.0\\.1:0\\s+no\\s+no\\s+0$`), 'the listener: its bound address, as configured');
  await page.locator('#nodes td.health.unhealthy').waitFor({ timeout: 15_000 }); // the dead node, once probed
  t.assert.equal(await page.locator(`#nodes tr[data-key="upstreams/ui-up ${dead}"] td.health`).innerText(), 'unhealthy');
  t.assert.equal(await page.locator(`#nodes tr[data-key="upstreams/ui-up ${node}"] td.health`).innerText(), 'healthy');

  // a client session through the gateway shows up in the list, in its route's and its node's counts
  const client = await openSession(t, port);
  t.assert.equal(await client.say('hello'), 'hello', 'the session relays');
  const id = await theSession(g);
  const row = page.locator(`#sessions tr[data-key="${id}"]`);
  await row.waitFor({ timeout: SEEN_MS });
  t.assert.match(await row.innerText(), new RegExp(`tcp\\s+127\\.0\\.0\\.1:\\d+\\s+127\\.0\\.0\\.1:0\\s+ui-admin\\s+${node.replace(/\./g, '\\.')}`), 'the session row: protocol, client, listener, route, node');
  await page.locator(`#routes tr[data-key="ui-admin"] td:nth-child(5)`, { hasText: /^1$/ }).waitFor({ timeout: SEEN_MS });
  t.assert.equal(await cellText(page, 'routes', 'ui-admin', 3), 'upstreams/ui-up');
  await page.locator(`#nodes tr[data-key="upstreams/ui-up ${node}"] td:nth-child(6)`, { hasText: /^1$/ }).waitFor({ timeout: SEEN_MS });
  t.assert.match(await cellText(page, 'routes', 'ui-admin', 5), /^\d+\.\d$/, 'sessions/s, from two refreshes');

  mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: `${OUT}ui-status-page.png`, fullPage: true });

  await row.locator('button.end').click();
  await row.waitFor({ state: 'detached', timeout: SEEN_MS });
  t.assert.equal(await page.locator('#notice').innerText(), `Session ${id} ended.`);
  t.assert.ok((await waitFor(() => client.state().closed, 3000)).ok, 'the client socket is closed');
  t.assert.deepStrictEqual(await liveIds(g), [], 'the gateway holds no session');
  await page.locator('#sessions td.empty').waitFor({ timeout: SEEN_MS });
  await page.locator(`#routes tr[data-key="ui-admin"] td:nth-child(7)`, { hasText: /^1$/ }).waitFor({ timeout: SEEN_MS });
  t.assert.equal(await cellText(page, 'routes', 'ui-admin', 4), '0', 'no open session on the route; one ended');

  // asked once: a reload keeps the key (sessionStorage) and shows the page at once
  await page.reload();
  await page.locator('#role', { hasText: /^admin$/ }).waitFor({ timeout: SEEN_MS });
  t.assert.equal(await page.locator('#login').isHidden(), true, 'no key prompt after a reload');

  const foreign = requested.filter((u) => !u.startsWith(`${g.adminUrl}/`) && !u.startsWith('data:'));
  t.assert.deepStrictEqual(foreign, [], 'nothing is loaded from outside the gateway');
  t.assert.ok(requested.some((u) => u.endsWith('/sluice/ui/app.js')) && requested.some((u) => u.endsWith('/sluice/ui/style.css')), 'its own script and style');
  t.assert.ok(requested.filter((u) => u.includes('/sluice/v1/overview')).length >= 2, 'the page refreshes itself');
});

test('status page, viewer key: the session is listed with no End button; the list is filterable', { timeout: 60_000 }, async (t: TestContext) => {
  t.plan(8);
  const g = await startTestGateway(t, {}, { listeners: [{}] });
  const { port } = await echoRoute(t, g, 'ui-viewer');
  const client = await openSession(t, port);
  t.assert.equal(await client.say('hi'), 'hi');
  const id = await theSession(g);
  const { page } = await openPage(t, g);
  await enterKey(page, VIEWER_KEY);
  const row = page.locator(`#sessions tr[data-key="${id}"]`);
  await row.waitFor({ timeout: SEEN_MS });
  t.assert.equal(await page.locator('#role').innerText(), 'viewer (read only)');
  // still none after the next refresh
  const first = await page.locator('#updated').innerText();
  await page.locator('#updated', { hasNotText: first }).waitFor({ timeout: SEEN_MS });
  t.assert.equal(await page.locator('#sessions button').count(), 0, 'no End button for a viewer');
  t.assert.equal(await page.locator('#sessions th.admin-only').isHidden(), true, 'nor its column');
  t.assert.equal(client.state().closed, false, 'the session is still open');

  // the list is filterable; a filter the API refuses is shown as the API said it
  const filter = async (remote: string): Promise<void> => {
    await page.fill('#filter input[name=remote_addr]', remote);
    await page.click('#filter button[type=submit]');
  };
  await filter('not-an-ip');
  const err = page.locator('#error');
  await err.waitFor({ state: 'visible', timeout: SEEN_MS });
  t.assert.equal(await err.innerText(), 'Could not refresh: GET /sluice/v1/connections?remote_addr=not-an-ip&limit=500: 400 invalid connections request: remote_addr must be an IP address or a CIDR. Trying again every 2 s.');
  await filter('10.0.0.0/8');
  await row.waitFor({ state: 'detached', timeout: SEEN_MS });
  t.assert.equal(await err.isHidden(), true, 'the error goes with the next good answer');
  await filter('127.0.0.1');
  await row.waitFor({ timeout: SEEN_MS });
  await page.click('#filter button[type=reset]');
  await page.locator('#sessions-note', { hasText: '(1)' }).waitFor({ timeout: SEEN_MS });
  t.assert.equal(await page.inputValue('#filter input[name=remote_addr]'), '', 'cleared');
  await client.end(); // the gateway's stop would wait for it to drain
});

test('status page, wrong key: a clear message and the key prompt again; the right key then opens the page', { timeout: 60_000 }, async (t: TestContext) => {
  t.plan(5);
  const g = await startTestGateway(t, {}, { listeners: [{}] });
  await echoRoute(t, g, 'ui-wrong');
  const { page } = await openPage(t, g);
  await enterKey(page, 'not-a-key');
  const msg = page.locator('#login-msg');
  await msg.waitFor({ state: 'visible', timeout: SEEN_MS });
  t.assert.equal(await msg.innerText(), 'Wrong key: the gateway refused it (401: wrong apikey). Enter the admin key or a viewer key.');
  t.assert.equal(await page.locator('#main').isHidden(), true, 'nothing is shown');
  t.assert.equal(await page.evaluate(() => sessionStorage.getItem('sluice.adminKey')), null, 'the wrong key is not kept');
  t.assert.equal(await page.locator('#key').isVisible(), true, 'the prompt is there again');
  await enterKey(page, ADMIN_KEY);
  await page.locator('#routes tr[data-key="ui-wrong"]').waitFor({ timeout: SEEN_MS });
  t.assert.equal(await msg.isHidden(), true, 'the message goes with a good key');
});

test('the page\'s files: no key, their content types, a fixed list of names', async (t: TestContext) => {
  const cases: [string, number, string][] = [
    ['/sluice/ui/', 200, 'text/html; charset=utf-8'],
    ['/sluice/ui', 200, 'text/html; charset=utf-8'],
    ['/sluice/ui/index.html', 200, 'text/html; charset=utf-8'],
    ['/sluice/ui/app.js', 200, 'text/javascript; charset=utf-8'],
    ['/sluice/ui/style.css', 200, 'text/css; charset=utf-8'],
    ['/sluice/ui/missing.js', 404, 'application/json'],
    ['/sluice/ui/constructor', 404, 'application/json'],
    ['/sluice/ui/%2e%2e%2fprocess%2fui-route.ts', 404, 'application/json'],
    ['/sluice/ui/..%2f..%2fpackage.json', 404, 'application/json'],
    ['/sluice/ui/ui/app.js', 404, 'application/json'],
  ];
  t.plan(cases.length * 2 + 2);
  const g = await startTestGateway(t);
  for (const [p, status, type] of cases) {
    const r = await g.admin('GET', p, undefined, { 'X-API-KEY': '' });
    t.assert.equal(r.status, status, p);
    t.assert.equal(r.headers.get('content-type'), type, p);
  }
  const page = await g.admin('GET', '/sluice/ui/', undefined, { 'X-API-KEY': '' });
  t.assert.match(page.text, /<script src="\/sluice\/ui\/app\.js" defer><\/script>/);
  t.assert.doesNotMatch(page.text, /https?:\/\//, 'no outside address in the page');
});

test('GET /sluice/v1/overview: listeners with bound ports, routes with open and ended sessions, nodes with health and open sessions, the key\'s role', async (t: TestContext) => {
  t.plan(9);
  const g = await startTestGateway(t, {}, { listeners: [{}] });
  const { port, node } = await echoRoute(t, g, 'ov');
  const client = await openSession(t, port);
  await client.say('x');
  await theSession(g);
  const get = async (key: string): Promise<Overview> => {
    const r = await g.admin('GET', '/sluice/v1/overview', undefined, { 'X-API-KEY': key });
    if (r.status !== 200) throw new Error(`overview: ${r.status} ${r.text}`);
    return r.json as Overview;
  };
  const ov = await get(VIEWER_KEY);
  t.assert.equal(ov.role, 'viewer');
  t.assert.equal((await get(ADMIN_KEY)).role, 'admin');
  t.assert.equal(ov.config_version, g.gw.builder.current?.version);
  t.assert.deepStrictEqual(ov.listeners, [{ protocol: 'tcp', addr: '127.0.0.1:0', host: '127.0.0.1', port: 0, bound_port: port, tls: false, proxy_protocol: false, open_sessions: 1 }]);
  t.assert.deepStrictEqual(ov.routes, [{ id: 'ov', name: 'status page test', server_addr: null, server_port: port, snis: [], remote_addrs: [], upstream: 'upstreams/ui-up', open_sessions: 1, sessions_ended: 0 }]);
  const [host, p] = node.split(':');
  t.assert.deepStrictEqual(ov.upstreams, [{ key: 'upstreams/ui-up', type: 'roundrobin', scheme: 'tcp', checked: false, nodes: [{ host, ip: host, port: Number(p), weight: 1, priority: 0, health: null, open_sessions: 1 }], nodes_total: 1 }]);
  t.assert.deepStrictEqual([ov.sessions, ov.routes_total, ov.upstreams_total], [{ open: 1, counted: 1 }, 1, 1]);
  await client.end();
  const after = await waitFor(async () => (await get(VIEWER_KEY)).routes[0]?.sessions_ended === 1, 3000);
  t.assert.ok(after.ok, 'the ended session is counted on its route');
  const r = await g.admin('GET', '/sluice/v1/overview', undefined, { 'X-API-KEY': 'wrong' });
  t.assert.equal(r.status, 401, 'a key is needed');
});
