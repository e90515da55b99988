// The native accept and dial (issue 13 phase 2, native/src/listen.c and dial.c): plain listeners are accepted on by
// the addon, which dials the node TypeScript picks and asks again on a failure. The TCP and upstream suites run on it
// in `npm test`; here: that it is the one in force (status counts), which sessions still take the JavaScript path,
// and what only a native dial can get wrong (retries, the connect timeout, a client resetting while it dials).
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { connect } from 'node:net';
import { test, type TestContext } from 'node:test';
import { ADDON_PATH } from '../../src/dataplane/native/addon.ts';
import { startTestGateway, type TestGateway, type TestListener } from '../fixtures/gateway.ts';
import { echoServer, freePort, neverAccepts, talk } from '../fixtures/servers.ts';
import { endReasons, put, waitFor } from '../fixtures/upstream-helpers.ts';

const EXPECTED = process.env.SLUICE_EXPECT_NATIVE === '1' || existsSync(ADDON_PATH);
const skip = !EXPECTED && `the addon is not built (${ADDON_PATH})`;

interface Status { tcp: { native_relayed: number; native_accepted: number; active: number } }
const tcp = async (g: TestGateway): Promise<Status['tcp']> => ((await g.admin('GET', '/sluice/v1/status')).json as Status).tcp;

function gateway(t: TestContext, listener: TestListener = {}): Promise<TestGateway> {
  return startTestGateway(t, { sluice: { native_relay: 'auto' } }, { listeners: [listener] });
}

test('native accept: a plain listener is accepted on by the addon; a route with stream plugins still runs them (JavaScript path)', { skip }, async (t: TestContext) => {
  const echo = await echoServer(t);
  const g = await gateway(t);
  await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [echo.node]: 1 } } });
  t.assert.equal((await talk(g.listenerPort(), { send: 'native all the way' })).data.toString(), 'native all the way');
  t.assert.deepStrictEqual(await tcp(g), { sessions: 1, active: 0, rejected_max_connections: 0, native_relayed: 1, native_accepted: 1 });
  // ip-restriction refusing 127.0.0.1: the plugin acts although the addon accepted the connection
  await put(g, 'stream_routes/1', { plugins: { 'ip-restriction': { blacklist: ['127.0.0.1'] } }, upstream: { type: 'roundrobin', nodes: { [echo.node]: 1 } } });
  const r = await talk(g.listenerPort(), { send: 'refused' });
  t.assert.deepStrictEqual([r.closed, r.data.length], [true, 0]);
  t.assert.deepStrictEqual(await endReasons(g), { Done: 1, Forbidden: 1 });
  t.assert.equal((await tcp(g)).native_accepted, 2);
});

test('native accept: a PROXY-protocol listener stays with Node (its header is read in TypeScript); the relay is still native', { skip }, async (t: TestContext) => {
  const echo = await echoServer(t);
  const g = await gateway(t, { proxyProtocol: true });
  await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [echo.node]: 1 } } });
  const r = await talk(g.listenerPort(), { send: Buffer.from('PROXY TCP4 10.1.2.3 127.0.0.1 5555 80\r\nhello') });
  t.assert.equal(r.data.toString(), 'hello');
  const s = await tcp(g);
  t.assert.deepStrictEqual([s.native_accepted, s.native_relayed], [0, 1]);
});

test('native dial: refused nodes are retried on the next; every connection is answered and each refusal counted', { skip }, async (t: TestContext) => {
  const echo = await echoServer(t);
  const dead = await freePort();
  const g = await gateway(t);
  await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [`127.0.0.1:${dead}`]: 1, [echo.node]: 1 } } });
  for (let i = 0; i < 4; i++) t.assert.equal((await talk(g.listenerPort(), { send: `n${i}` })).data.toString(), `n${i}`);
  t.assert.deepStrictEqual(await endReasons(g), { Done: 4 });
  t.assert.equal((await tcp(g)).native_accepted, 4);
  // retries: 0 → the refusals end their sessions (roundrobin alternates: half of them)
  await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', retries: 0, nodes: { [`127.0.0.1:${dead}`]: 1, [echo.node]: 1 } } });
  const got = [];
  for (let i = 0; i < 4; i++) got.push((await talk(g.listenerPort(), { send: 'x' })).data.toString());
  t.assert.deepStrictEqual(got.sort(), ['', '', 'x', 'x']);
  t.assert.deepStrictEqual(await endReasons(g), { Done: 6, ConnectFailed: 2 });
});

test('native dial: timeout.connect bounds an attempt on a node that never answers', { skip, timeout: 20_000 }, async (t: TestContext) => {
  const [port] = await neverAccepts(t);
  const g = await gateway(t);
  await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', timeout: { connect: 0.3, send: 5, read: 5 }, nodes: { [`127.0.0.1:${port}`]: 1 } } });
  const r = await talk(g.listenerPort(), { send: 'x', timeoutMs: 5000 });
  t.assert.deepStrictEqual([r.closed, r.data.length], [true, 0]);
  t.assert.ok(r.ms >= 250 && r.ms < 2000, `closed after ${r.ms.toFixed(0)} ms`);
  t.assert.deepStrictEqual(await endReasons(g), { ConnectTimeout: 1 });
});

test('native dial: a client that resets while the node is being dialed ends the session at once', { skip, timeout: 20_000 }, async (t: TestContext) => {
  const [port] = await neverAccepts(t);
  const g = await gateway(t);
  await put(g, 'stream_routes/1', { upstream: { type: 'least_conn', timeout: { connect: 10, send: 5, read: 5 }, nodes: { [`127.0.0.1:${port}`]: 1 } } });
  const c = connect(g.listenerPort(), '127.0.0.1');
  c.on('error', () => { /* ours */ });
  await once(c, 'connect');
  t.assert.ok((await waitFor(async () => (await tcp(g)).active === 1, 3000)).ok, 'the session is dialing');
  const t0 = performance.now();
  c.resetAndDestroy();
  t.assert.ok((await waitFor(async () => (await tcp(g)).active === 0, 3000)).ok, 'the session ended long before the 10 s connect timeout');
  t.assert.ok(performance.now() - t0 < 3000);
  t.assert.deepStrictEqual(await endReasons(g), { ClientClosed: 1 });
});
