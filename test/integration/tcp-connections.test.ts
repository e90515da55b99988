// The connections API on TCP sessions (issue 15, CONTRACT §7): every worker's live sessions listed with their filters,
// their state (handshake, connecting, relaying) and their byte counts as of the answer; ended one at a time or by
// filter, on whichever worker holds them (end reason killed, status 403 in the access log and the status counters).
// Viewers list, only admins end. Runs on the native relay and, in test:js-relay, on the TypeScript one.
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { startTestGateway, VIEWER_KEY, type TestGateway } from '../fixtures/gateway.ts';
import { openSession, type EchoSession } from '../fixtures/load.ts';
import { echoServer, neverAccepts } from '../fixtures/servers.ts';
import { put, waitFor } from '../fixtures/upstream-helpers.ts';

interface Conn {
  id: string; protocol: string; listener: string; remote_addr: string; remote_port: number; server_addr: string; server_port: number;
  sni: string | null; route_id: string | null; node: string | null; started_at: number; bytes_from_client: number; bytes_to_client: number;
  state: string;
}
interface Listing { total: number; list: Conn[] }

const NATIVE = process.env.SLUICE_TEST_NATIVE_RELAY !== 'off';
const conf = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  sluice: { workers: 2, ...(NATIVE ? {} : { native_relay: 'off' }) },
  nginx_config: { stream: { enable_access_log: true, access_log: 'logs/access_stream.log', access_log_format: '$remote_port $status $sluice_end_reason' } },
  ...extra,
});

async function list(g: TestGateway, query = '', key?: string): Promise<Listing> {
  const r = await g.admin('GET', `/sluice/v1/connections${query}`, undefined, key === undefined ? {} : { 'X-API-KEY': key });
  if (r.status !== 200) throw new Error(`GET connections${query}: ${r.status} ${r.text}`);
  return r.json as Listing;
}

/** A client that connects and sends nothing (a PROXY-protocol listener waits for its header: state handshake). */
async function silentClient(t: TestContext, port: number): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  t.after(() => { s.destroy(); });
  s.on('error', () => {});
  await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
  return s;
}

const closed = (s: Socket): Promise<boolean> => new Promise((resolve) => {
  if (s.closed) return resolve(true);
  const timer = setTimeout(() => resolve(false), 5000);
  s.once('close', () => { clearTimeout(timer); resolve(true); });
});

/** The access log's lines (`remote_port status reason`), polled until `want` are there (bounded). */
async function logLines(g: TestGateway, want: number): Promise<string[]> {
  const file = path.join(g.prefix, 'logs', 'access_stream.log');
  let lines: string[] = [];
  await waitFor(() => {
    try { lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== ''); } catch { lines = []; }
    return lines.length >= want;
  }, 3000);
  return lines;
}

test('connections: every worker\'s sessions, with route, node, state relaying and byte counts as of the answer; filters and limit', async (t: TestContext) => {
  const echo = await echoServer(t);
  const g = await startTestGateway(t, conf(), { listeners: [{}, {}] });
  const [pa, pb] = [g.listenerPort(0), g.listenerPort(1)];
  await put(g, 'stream_routes/a', { server_port: pa, upstream: { nodes: { [echo.node]: 1 } } });
  await put(g, 'stream_routes/b', { server_port: pb, upstream: { nodes: { [echo.node]: 1 } } });
  const t0 = Date.now();
  const held: EchoSession[] = [];
  for (let i = 0; i < 6; i++) held.push(await openSession(t, i < 4 ? pa : pb));
  // one round trip each, of a known size: the counts as of the answer
  t.assert.deepStrictEqual(await Promise.all(held.map((s, i) => s.say(`hello-${i}`))), held.map((_, i) => `hello-${i}`));
  const all = await list(g, '', VIEWER_KEY); // viewers list
  t.assert.equal(all.total, 6);
  t.assert.equal(new Set(all.list.map((c) => c.id)).size, 6, 'ids are unique across workers');
  t.assert.deepStrictEqual(all.list.map((c) => c.route_id).sort(), ['a', 'a', 'a', 'a', 'b', 'b']);
  for (const c of all.list) {
    t.assert.deepStrictEqual(
      [c.protocol, c.state, c.node, c.remote_addr, c.server_addr, c.sni, c.bytes_from_client, c.bytes_to_client, c.listener],
      ['tcp', 'relaying', echo.node, '127.0.0.1', '127.0.0.1', null, 7, 7, '127.0.0.1:0'], JSON.stringify(c));
    t.assert.equal(c.server_port, c.route_id === 'a' ? pa : pb);
    t.assert.ok(typeof c.id === 'string' && c.started_at >= t0 - 5 && c.started_at <= Date.now(), JSON.stringify(c));
  }
  // (`listener` is the listener as configured: these are bound on port 0)
  // the list is oldest first; limit keeps the total
  const sorted = [...all.list].sort((x, y) => x.started_at - y.started_at);
  t.assert.deepStrictEqual(all.list.map((c) => c.started_at), sorted.map((c) => c.started_at));
  const two = await list(g, '?limit=2');
  t.assert.equal((await list(g, '?limit=50000')).list.length, 6, 'a limit over 10,000 is 10,000');
  t.assert.deepStrictEqual([two.total, two.list.length], [6, 2]);
  t.assert.equal((await list(g, '?route_id=b')).total, 2);
  t.assert.equal((await list(g, '?remote_addr=127.0.0.0/8')).total, 6);
  t.assert.equal((await list(g, '?remote_addr=10.0.0.0/8')).total, 0);
  t.assert.equal((await list(g, `?node=${echo.node}&route_id=a`)).total, 4);
  t.assert.equal((await list(g, '?protocol=udp')).total, 0);
  // more bytes: the next answer counts them
  const mine = held[0] as EchoSession;
  const before = all.list.map((c) => c.remote_port);
  t.assert.equal(await mine.say('x'.repeat(1000)), 'x'.repeat(1000));
  const after = await list(g);
  const moved = after.list.filter((c) => c.bytes_from_client === 1007);
  t.assert.equal(moved.length, 1, JSON.stringify(after.list));
  t.assert.ok(before.includes(moved[0]?.remote_port ?? -1));
  t.assert.equal(moved[0]?.bytes_to_client, 1007);
  // a new session is in the very next answer (well within 200 ms of its accept)
  const fresh = await openSession(t, pa);
  t.assert.equal((await list(g)).total, 7);
  await fresh.end();
});

test('connections: bad queries are 400 with error_msg', async (t: TestContext) => {
  const g = await startTestGateway(t, conf(), { listeners: [{}] });
  for (const q of ['?remote_addr=bogus', '?limit=0', '?limit=-1', '?limit=ten', '?protocol=sctp', '?route_id=']) {
    const r = await g.admin('GET', `/sluice/v1/connections${q}`);
    t.assert.equal(r.status, 400, q);
    t.assert.match(String((r.json as { error_msg?: string }).error_msg), /^invalid connections request: /, q);
  }
  const all = await g.admin('DELETE', '/sluice/v1/connections');
  t.assert.deepStrictEqual([all.status, (all.json as { error_msg?: string }).error_msg], [400, 'invalid connections request: a DELETE names what to end: route_id, remote_addr or node']);
  // a typo must not widen a DELETE (route_id=1 with a misspelt remote_addr would end all of route 1)
  const typo = await g.admin('DELETE', '/sluice/v1/connections?route_id=1&remot_addr=10.0.0.1');
  t.assert.deepStrictEqual([typo.status, typo.json], [400, { error_msg: 'invalid connections request: unknown parameter remot_addr (known: route_id, remote_addr, node, protocol)' }]);
  t.assert.equal((await g.admin('GET', '/sluice/v1/connections?limt=5')).status, 400);
  t.assert.equal((await g.admin('GET', `/sluice/v1/connections?api_key=${VIEWER_KEY}`, undefined, { 'X-API-KEY': '' })).status, 200, 'api_key is the Admin API\'s own');
  const none = await g.admin('DELETE', '/sluice/v1/connections/0-abc-1');
  t.assert.deepStrictEqual([none.status, none.json], [404, { error_msg: 'connection not found' }]);
  const junk = await g.admin('DELETE', '/sluice/v1/connections/not-an-id');
  t.assert.deepStrictEqual([junk.status, junk.json], [404, { error_msg: 'connection not found' }]);
  const noKey = await g.admin('GET', '/sluice/v1/connections', undefined, { 'X-API-KEY': '' });
  t.assert.equal(noKey.status, 401);
});

test('connections: DELETE by id ends that session at once (killed, 403); a viewer cannot; by route_id ends every match', async (t: TestContext) => {
  const echo = await echoServer(t);
  const g = await startTestGateway(t, conf(), { listeners: [{}, {}] });
  const [pa, pb] = [g.listenerPort(0), g.listenerPort(1)];
  await put(g, 'stream_routes/a', { server_port: pa, upstream: { nodes: { [echo.node]: 1 } } });
  await put(g, 'stream_routes/b', { server_port: pb, upstream: { nodes: { [echo.node]: 1 } } });
  const a = [await openSession(t, pa), await openSession(t, pa)];
  const b = [await openSession(t, pb), await openSession(t, pb), await openSession(t, pb)];
  t.assert.deepStrictEqual(await Promise.all([...a, ...b].map((s) => s.say('hi'))), ['hi', 'hi', 'hi', 'hi', 'hi']);
  const target = (await list(g, '?route_id=a')).list[0] as Conn;

  const viewer = await g.admin('DELETE', `/sluice/v1/connections/${target.id}`, undefined, { 'X-API-KEY': VIEWER_KEY });
  t.assert.equal(viewer.status, 401, viewer.text);
  t.assert.equal((await list(g)).total, 5, 'a viewer ended nothing');

  const del = await g.admin('DELETE', `/sluice/v1/connections/${target.id}`);
  t.assert.deepStrictEqual([del.status, del.json], [200, { deleted: target.id }]);
  const gone = await waitFor(() => a.some((s) => s.state().closed), 2000);
  t.assert.ok(gone.ok, 'the client\'s socket was closed');
  t.assert.equal(a.filter((s) => s.state().closed).length, 1, 'only that one');
  t.assert.deepStrictEqual((await list(g)).list.map((c) => c.id).includes(target.id), false);
  const again = await g.admin('DELETE', `/sluice/v1/connections/${target.id}`);
  t.assert.equal(again.status, 404);

  const byRoute = await g.admin('DELETE', '/sluice/v1/connections?route_id=b');
  t.assert.deepStrictEqual([byRoute.status, byRoute.json], [200, { deleted: 3 }]);
  t.assert.ok((await waitFor(() => b.every((s) => s.state().closed), 2000)).ok, 'every session of route b was closed');
  t.assert.deepStrictEqual((await list(g)).list.map((c) => c.route_id), ['a'], 'the rest go on');
  t.assert.equal(await (a.find((s) => !s.state().closed) as EchoSession).say('still'), 'still');

  // the ends are in the access log and the counters as killed, status 403
  const lines = await logLines(g, 4);
  const killed = lines.filter((l) => l.endsWith(' 403 killed'));
  t.assert.equal(killed.length, 4, lines.join('\n'));
  t.assert.ok(killed.some((l) => l.startsWith(`${target.remote_port} `)), `the one ended by id: ${target.remote_port}`);
  const st = await g.admin('GET', '/sluice/v1/status');
  t.assert.equal((st.json as { ended_by_reason: Record<string, number> }).ended_by_reason.killed, 4);
});

test('connections: a session in its handshake or connecting to a silent node is listed so, and can be ended', async (t: TestContext) => {
  const [silent] = await neverAccepts(t, 1);
  const g = await startTestGateway(t, conf(), { listeners: [{ proxyProtocol: true }, {}] });
  await put(g, 'stream_routes/pp', { server_port: g.listenerPort(0), upstream: { nodes: { [`127.0.0.1:${silent}`]: 1 } } });
  await put(g, 'stream_routes/dial', { server_port: g.listenerPort(1), upstream: { nodes: { [`127.0.0.1:${silent}`]: 1 }, timeout: { connect: 30, send: 60, read: 60 } } });
  const waiting = await silentClient(t, g.listenerPort(0));
  const dialing = await silentClient(t, g.listenerPort(1));
  const states = await waitFor(async () => (await list(g)).list.map((c) => c.state).sort().join() === 'connecting,handshake', 3000);
  const now = (await list(g)).list;
  t.assert.ok(states.ok, JSON.stringify(now));
  const hs = now.find((c) => c.state === 'handshake');
  const cn = now.find((c) => c.state === 'connecting');
  t.assert.deepStrictEqual([hs?.route_id, hs?.node, cn?.route_id, cn?.node], [null, null, 'dial', `127.0.0.1:${silent}`]);
  for (const c of [hs, cn]) {
    const r = await g.admin('DELETE', `/sluice/v1/connections/${c?.id ?? ''}`);
    t.assert.equal(r.status, 200, r.text);
  }
  t.assert.deepStrictEqual(await Promise.all([closed(waiting), closed(dialing)]), [true, true]);
  t.assert.equal((await list(g)).total, 0);
  const lines = await logLines(g, 2);
  t.assert.equal(lines.filter((l) => l.endsWith(' 403 killed')).length, 2, lines.join('\n'));
});
