// UDP proxying through a route (issue 7, CONTRACT §4 UDP): a reply comes back from the listener's own address and
// port; a datagram no route takes is dropped with no reply and counted (no_route); a session per client addr:port
// keeps one connected upstream socket, so every datagram of one client leaves the gateway from one source port, and
// two clients get two sessions. Every echo reply names the node and the source the node saw (test/fixtures/udp.ts).
import { test, type TestContext } from 'node:test';
import { SHARED } from '../../src/dataplane/state/stats.ts';
import { startTestGateway } from '../fixtures/gateway.ts';
import { put, waitFor } from '../fixtures/upstream-helpers.ts';
import { udpClient, udpCounters, udpEcho } from '../fixtures/udp.ts';

/** UDP sessions open now, gateway-wide (the shared counter sluice.udp_max_sessions is checked against). */
function openSessions(g: Awaited<ReturnType<typeof startTestGateway>>): number {
  return g.gw.pool.sharedCounters[SHARED.udpSessions] ?? -1;
}

const MATCH: readonly {
  name: string;
  /** The route's filters, given the listener's port; null = no route at all. */
  route: ((port: number) => Record<string, unknown>) | null;
  client: string;
  replied: boolean;
}[] = [
  { name: 'a route without filters proxies', route: () => ({}), client: '127.0.0.1', replied: true },
  { name: 'a client inside remote_addr proxies', route: () => ({ remote_addr: '127.0.0.2' }), client: '127.0.0.2', replied: true },
  { name: 'a client outside remote_addr (192.168.5.3) gets nothing', route: () => ({ remote_addr: '192.168.5.3' }), client: '127.0.0.1', replied: false },
  { name: 'a client outside remote_addrs gets nothing', route: () => ({ remote_addrs: ['10.0.0.0/8', '127.0.0.9'] }), client: '127.0.0.1', replied: false },
  { name: 'server_addr of an address-specific listener matches', route: () => ({ server_addr: '127.0.0.1' }), client: '127.0.0.1', replied: true },
  { name: 'another server_addr does not', route: () => ({ server_addr: '127.0.0.2' }), client: '127.0.0.1', replied: false },
  { name: 'server_port of the listener matches', route: (port) => ({ server_port: port }), client: '127.0.0.1', replied: true },
  { name: 'another server_port does not', route: (port) => ({ server_port: port === 65535 ? 65534 : port + 1 }), client: '127.0.0.1', replied: false },
  { name: 'no route at all: the datagram is dropped', route: null, client: '127.0.0.1', replied: false },
];

for (const c of MATCH) {
  test(`udp match: ${c.name}`, async (t: TestContext) => {
    t.plan(4);
    const echo = await udpEcho(t);
    const g = await startTestGateway(t, {}, { listeners: [{ proto: 'udp' }] });
    const port = g.listenerPort();
    if (c.route !== null) await put(g, 'stream_routes/1', { ...c.route(port), upstream: { nodes: { [echo.node]: 1 } } });
    const client = await udpClient(t, c.client);
    const reply = await client.ask('hi', port, c.replied ? 2000 : 500);
    // proxied: the echo comes back from the listener's own address and port, not from the upstream socket's
    t.assert.deepStrictEqual(
      reply === undefined ? undefined : { node: reply.node, data: reply.data, fromAddr: reply.fromAddr, fromPort: reply.fromPort },
      c.replied ? { node: echo.node, data: 'hi', fromAddr: '127.0.0.1', fromPort: port } : undefined,
    );
    const want = c.replied ? 0 : 1;
    // the drop is counted once the worker has seen the datagram; poll so a slow machine cannot fail a pass
    await waitFor(async () => (await udpCounters(g)).drops.no_route === want, 2000);
    t.assert.equal((await udpCounters(g)).drops.no_route, want);
    t.assert.equal(echo.seen.length, c.replied ? 1 : 0);
    t.assert.equal(openSessions(g), c.replied ? 1 : 0);
  });
}

test('udp session: two datagrams of one client leave from one upstream port; two clients get two sessions', async (t: TestContext) => {
  t.plan(6);
  const echo = await udpEcho(t);
  const g = await startTestGateway(t, {}, { listeners: [{ proto: 'udp' }] });
  await put(g, 'stream_routes/1', { upstream: { nodes: { [echo.node]: 1 } } });
  const port = g.listenerPort();
  const a = await udpClient(t);
  const b = await udpClient(t);
  const a1 = await a.ask('a1', port);
  const a2 = await a.ask('a2', port);
  const b1 = await b.ask('b1', port);
  t.assert.deepStrictEqual([a1?.data, a2?.data, b1?.data], ['a1', 'a2', 'b1']);
  // one session, one connected upstream socket: the node saw the same source for both of a's datagrams
  t.assert.equal(a2?.via, a1?.via);
  t.assert.notEqual(b1?.via, a1?.via);
  // and that source is the session's own socket, not the listener
  t.assert.notEqual(a1?.via, `127.0.0.1:${port}`);
  t.assert.deepStrictEqual(echo.seen.map((s) => s.from), [a1?.via, a1?.via, b1?.via]);
  t.assert.equal(openSessions(g), 2);
});

test('udp session: every reply of the node reaches the client; a stranger cannot inject into the session', async (t: TestContext) => {
  t.plan(3);
  // a node that answers each datagram three times
  const echo = await udpEcho(t, '127.0.0.1', (msg) => [1, 2, 3].map((i) => `${msg.toString()}#${i}`));
  const g = await startTestGateway(t, {}, { listeners: [{ proto: 'udp' }] });
  await put(g, 'stream_routes/1', { upstream: { nodes: { [echo.node]: 1 } } });
  const port = g.listenerPort();
  const c = await udpClient(t);
  c.send('x', port);
  const got: string[] = [];
  for (let i = 0; i < 3; i++) {
    const m = await c.next(2000);
    if (m !== undefined) got.push(`${m.msg.toString()} from ${m.rinfo.port}`);
  }
  t.assert.deepStrictEqual(got, [1, 2, 3].map((i) => `x#${i} from ${port}`));
  // the session's upstream socket is connected to the node: a datagram from anyone else is not relayed
  const via = echo.seen[0]?.from ?? '';
  const stranger = await udpClient(t);
  stranger.send('injected', Number(via.slice(via.lastIndexOf(':') + 1)));
  t.assert.equal(await c.next(500), undefined);
  // the session still works afterwards
  c.send('y', port);
  const after = await c.next(2000);
  t.assert.equal(after?.msg.toString(), 'y#1');
});

test('udp session: a config change applies to new sessions; an existing one keeps its node until it expires', async (t: TestContext) => {
  t.plan(4);
  const [a, b] = [await udpEcho(t), await udpEcho(t)];
  const g = await startTestGateway(t, { sluice: { udp_session_timeout: 1 } }, { listeners: [{ proto: 'udp' }] });
  await put(g, 'stream_routes/1', { upstream: { nodes: { [a.node]: 1 } } });
  const port = g.listenerPort();
  const old = await udpClient(t);
  const first = await old.ask('1', port);
  await put(g, 'stream_routes/1', { upstream: { nodes: { [b.node]: 1 } } });
  // the running session still goes to a, through the same upstream socket; a new client's goes to b
  const again = await old.ask('2', port);
  const fresh = await (await udpClient(t)).ask('3', port);
  t.assert.deepStrictEqual([first?.node, again?.node, again?.via === first?.via], [a.node, a.node, true]);
  t.assert.equal(fresh?.node, b.node);
  // once the old session has expired, the same client gets a new session on the new config
  t.assert.ok((await waitFor(() => openSessions(g) === 0, 3500)).ok, 'sessions expired');
  t.assert.equal((await old.ask('4', port))?.node, b.node);
});
