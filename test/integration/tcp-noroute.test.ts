// CONTRACT §4: no match, a route without upstream, an empty node list, a node that cannot be used → the TCP
// connection is closed with no bytes sent. Each case keeps an echo server in the config where a wrong decision could
// reach it, so a connection that is proxied instead of closed shows up as echoed bytes or an echo connection.
import { test, type TestContext } from 'node:test';
import { startTestGateway, type TestGateway } from '../fixtures/gateway.ts';
import { echoServer, talk, type TestServer } from '../fixtures/servers.ts';

interface Case {
  readonly name: string;
  /** Admin writes to make, in order ([method, path, body]); `echo` is a live echo server's node. */
  readonly setup: (echo: string) => readonly (readonly [string, string, unknown])[];
  /** A slow path (DNS) may take longer than "at once". */
  readonly slow?: boolean;
}

const CASES: readonly Case[] = [
  { name: 'no routes at all', setup: () => [] },
  {
    name: 'no route matches',
    setup: (echo) => [['PUT', '/apisix/admin/stream_routes/1', { remote_addr: '10.0.0.0/8', upstream: { nodes: { [echo]: 1 } } }]],
  },
  { name: 'a route without upstream', setup: () => [['PUT', '/apisix/admin/stream_routes/1', { remote_addr: '127.0.0.0/8' }]] },
  {
    name: 'a route whose service has no upstream',
    setup: () => [
      ['PUT', '/apisix/admin/services/s1', { desc: 'no upstream' }],
      ['PUT', '/apisix/admin/stream_routes/1', { service_id: 's1' }],
    ],
  },
  { name: 'empty nodes {}', setup: () => [['PUT', '/apisix/admin/stream_routes/1', { upstream: { type: 'roundrobin', nodes: {} } }]] },
  { name: 'empty nodes []', setup: () => [['PUT', '/apisix/admin/stream_routes/1', { upstream: { type: 'roundrobin', nodes: [] } }]] },
  {
    name: 'an upstream by id with empty nodes',
    setup: () => [
      ['PUT', '/apisix/admin/upstreams/u1', { type: 'roundrobin', nodes: {} }],
      ['PUT', '/apisix/admin/stream_routes/1', { upstream_id: 'u1' }],
    ],
  },
  {
    name: 'every node has weight 0',
    setup: (echo) => [['PUT', '/apisix/admin/stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [echo]: 0 } } }]],
  },
  {
    name: 'an unresolvable domain node',
    setup: () => [['PUT', '/apisix/admin/stream_routes/1', { upstream: { type: 'roundrobin', nodes: { 'no-such-host.invalid:7': 1 } } }]],
    slow: true,
  },
  {
    name: 'an unresolvable domain node (array form)',
    setup: () => [['PUT', '/apisix/admin/stream_routes/1', { upstream: { type: 'roundrobin', nodes: [{ host: 'no-such-host.invalid', port: 7, weight: 1 }] } }]],
    slow: true,
  },
];

async function apply(g: TestGateway, writes: readonly (readonly [string, string, unknown])[]): Promise<void> {
  for (const [method, path, body] of writes) {
    const r = await g.admin(method, path, body);
    if (r.status !== 200 && r.status !== 201) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  }
}

for (const c of CASES) {
  test(`closed with no bytes: ${c.name}`, { timeout: 20_000 }, async (t: TestContext) => {
    t.plan(4);
    const echo: TestServer = await echoServer(t);
    const g = await startTestGateway(t, {}, { listeners: [{}] });
    await apply(g, c.setup(echo.node));
    const r = await talk(g.listenerPort(), { send: 'hello', end: false, timeoutMs: 10_000 });
    t.assert.equal(r.closed, true, 'the gateway closed the connection');
    t.assert.equal(r.data.length, 0, `no bytes: got ${JSON.stringify(r.data.toString())}`);
    t.assert.equal(echo.connections(), 0, 'nothing reached the upstream');
    // "at once": the client never half-closed, so only the gateway can have ended it.
    t.assert.ok(r.ms < (c.slow === true ? 8000 : 1000), `closed after ${Math.round(r.ms)} ms`);
  });
}

test('closed with no bytes: the same listener proxies once a route matches (the cases above can fail)', { timeout: 20_000 }, async (t: TestContext) => {
  t.plan(2);
  const echo = await echoServer(t);
  const g = await startTestGateway(t, {}, { listeners: [{}] });
  await apply(g, [['PUT', '/apisix/admin/stream_routes/1', { remote_addr: '127.0.0.0/8', upstream: { nodes: { [echo.node]: 1 } } }]]);
  const r = await talk(g.listenerPort(), { send: 'hello' });
  t.assert.equal(r.data.toString(), 'hello');
  t.assert.equal(echo.connections(), 1);
});
