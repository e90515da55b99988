// Route matching precedence (CONTRACT §4), over real connections and through POST /sluice/v1/explain. Among the
// routes whose filters all match, the winner has (1) more of server_port, server_addr, remote_addr(s) set, then
// (2) the longer matching remote prefix, then (3) the longer server_addr prefix, then (4) the earlier creation.
// Every route's upstream is a server that answers with the route's id, so a connection shows which route won.
// Clients pick their source address: on Linux any 127.0.0.0/8 address is a valid loopback source.
import { test, type TestContext } from 'node:test';
import { startTestGateway, type TestGateway } from '../fixtures/gateway.ts';
import { explain, namedServer, talk, type TestServer } from '../fixtures/servers.ts';

type Filters = Record<string, unknown>;

/** Listeners of every case: 127.0.0.1, 127.0.0.10, ::1, and all interfaces (dual-stack [::]); all on port 0. */
const LISTENERS = [{ host: '127.0.0.1' }, { host: '127.0.0.10' }, { host: '::1' }, { host: null }] as const;
const LISTENER_HOST = ['127.0.0.1', '127.0.0.10', '::1', undefined] as const;

interface Conn {
  readonly from: string;
  /** Index into LISTENERS. */
  readonly to: 0 | 1 | 2 | 3;
  /** The route id expected to win, or null: the connection is closed with no bytes. */
  readonly want: string | null;
}

interface Case {
  readonly name: string;
  /** Routes in creation order; `p` holds the bound port of each listener. */
  readonly routes: (p: readonly number[]) => readonly (readonly [string, Filters])[];
  readonly conns: readonly Conn[];
}

const CASES: readonly Case[] = [
  {
    name: 'more filters set wins, whatever the creation order',
    routes: (p) => [
      ['a', { server_port: p[0] }],
      ['b', { server_port: p[0], remote_addr: '127.0.0.0/8' }],
      ['c', { server_port: p[0], remote_addr: '127.0.0.9', server_addr: '127.0.0.1' }],
      ['d', {}],
    ],
    conns: [
      { from: '127.0.0.1', to: 0, want: 'b' },
      { from: '127.0.0.9', to: 0, want: 'c' },
      { from: '127.0.0.9', to: 1, want: 'd' },
    ],
  },
  {
    name: 'the longer matching remote prefix wins',
    routes: () => [
      ['a', { remote_addr: '127.0.0.0/8' }],
      ['b', { remote_addr: '127.0.0.0/24' }],
      ['c', { remote_addr: '127.0.0.5' }],
    ],
    conns: [
      { from: '127.0.0.5', to: 0, want: 'c' },
      { from: '127.0.0.7', to: 0, want: 'b' },
      { from: '127.0.1.1', to: 0, want: 'a' },
    ],
  },
  {
    name: 'remote_addr and remote_addrs: a client in either matches, the longest matching entry counts',
    routes: () => [
      ['a', { remote_addr: '127.0.0.0/8' }],
      ['b', { remote_addr: '10.0.0.0/8', remote_addrs: ['192.168.0.0/16', '127.0.0.0/16'] }],
      ['c', { remote_addr: '127.0.0.77', remote_addrs: ['127.0.5.0/24'] }],
    ],
    conns: [
      { from: '127.0.0.3', to: 0, want: 'b' },
      { from: '127.0.0.77', to: 0, want: 'c' },
      { from: '127.0.5.9', to: 0, want: 'c' },
      { from: '127.1.0.1', to: 0, want: 'a' },
    ],
  },
  {
    name: 'the longer server_addr prefix wins, after the remote prefix',
    routes: () => [
      ['a', { server_addr: '127.0.0.0/8' }],
      ['b', { server_addr: '127.0.0.10' }],
      ['c', { server_addr: '127.0.0.0/24' }],
      ['d', { remote_addr: '127.0.0.200' }],
    ],
    conns: [
      { from: '127.0.0.1', to: 0, want: 'c' },
      { from: '127.0.0.1', to: 1, want: 'b' },
      { from: '127.0.0.200', to: 1, want: 'd' },
    ],
  },
  {
    name: 'server_port alone and server_addr alone: the server_addr prefix decides',
    routes: (p) => [
      ['a', { server_port: p[0] }],
      ['b', { server_addr: '127.0.0.1' }],
      ['c', { server_port: p[1] }],
    ],
    conns: [
      { from: '127.0.0.1', to: 0, want: 'b' },
      { from: '127.0.0.1', to: 1, want: 'c' },
      { from: '::1', to: 2, want: null },
    ],
  },
  {
    name: 'a tie goes to the route created first',
    routes: () => [
      ['z', { remote_addr: '127.0.0.0/8' }],
      ['a', { remote_addr: '127.0.0.0/8' }],
      ['m', {}],
      ['b', {}],
    ],
    conns: [
      { from: '127.0.0.1', to: 0, want: 'z' },
      { from: '::1', to: 2, want: 'm' },
    ],
  },
  {
    name: 'an IPv6 client against v6 and v4 CIDRs, on a v6 and a dual-stack listener',
    routes: () => [
      ['v6any', { remote_addr: '::/0' }],
      ['v6lo', { remote_addr: '::1' }],
      ['v4', { remote_addr: '127.0.0.0/8' }],
      ['srv6', { server_addr: '::1' }],
    ],
    conns: [
      { from: '::1', to: 2, want: 'v6lo' },
      { from: '::1', to: 3, want: 'v6lo' },
      { from: '127.0.0.1', to: 0, want: 'v4' },
      // a v4 client on the dual-stack listener arrives as ::ffff:127.0.0.1: it is an IPv4 client, not in ::/0
      { from: '127.0.0.1', to: 3, want: 'v4' },
    ],
  },
  {
    name: 'a v4 client against v4-mapped v6 CIDRs',
    routes: () => [
      ['v6any', { remote_addr: '::/0' }],
      ['mapped', { remote_addr: '::ffff:7f00:0/104' }],
      ['mapped1', { remote_addrs: ['::ffff:127.0.0.44'] }],
    ],
    conns: [
      { from: '127.0.0.1', to: 0, want: 'mapped' },
      { from: '127.0.0.1', to: 3, want: 'mapped' },
      { from: '127.0.0.44', to: 0, want: 'mapped1' },
      { from: '::1', to: 2, want: 'v6any' },
    ],
  },
  {
    name: 'server_addr on the dual-stack listener is the address the client dialled',
    routes: (p) => [
      ['v4', { server_addr: '127.0.0.1', server_port: p[3] }],
      ['v6', { server_addr: '::1', server_port: p[3] }],
    ],
    conns: [
      { from: '127.0.0.1', to: 3, want: 'v4' },
      { from: '::1', to: 3, want: 'v6' },
      { from: '127.0.0.1', to: 0, want: null },
    ],
  },
  {
    name: 'no route matches',
    routes: (p) => [
      ['a', { remote_addr: '10.0.0.0/8' }],
      ['b', { server_port: p[1] }],
      ['c', { server_addr: '127.0.0.10' }],
    ],
    conns: [{ from: '127.0.0.1', to: 0, want: null }],
  },
];

/** The address a client from `from` dials to reach listener `to`. */
function dialHost(c: Conn): string {
  return LISTENER_HOST[c.to] ?? (c.from.includes(':') ? '::1' : '127.0.0.1');
}

async function putRoute(g: TestGateway, id: string, filters: Filters, up: TestServer): Promise<number> {
  const r = await g.admin('PUT', `/apisix/admin/stream_routes/${id}`, { ...filters, upstream: { nodes: { [up.node]: 1 }, type: 'roundrobin' } });
  if (r.status !== 201 && r.status !== 200) throw new Error(`PUT route ${id}: ${r.status} ${r.text}`);
  return r.status;
}

async function routeIdOf(g: TestGateway, c: Conn, port: number): Promise<string | null> {
  return (await explain(g, c.from, dialHost(c), port)).route_id;
}

/** What a real connection got: the winning route's id, or null when closed with no bytes ('?' otherwise). */
async function connectionWinner(c: Conn, port: number): Promise<string | null> {
  const r = await talk(port, { host: dialHost(c), localAddress: c.from, send: 'hello' });
  if (!r.closed) return '? (not closed)';
  return r.data.length === 0 ? null : r.data.toString();
}

for (const c of CASES) {
  test(`match: ${c.name}`, { timeout: 20_000 }, async (t: TestContext) => {
    t.plan(2);
    const g = await startTestGateway(t, {}, { listeners: LISTENERS });
    const ports = LISTENERS.map((_, i) => g.listenerPort(i));
    for (const [id, filters] of c.routes(ports)) await putRoute(g, id, filters, await namedServer(t, id));
    const want = c.conns.map((x) => `${x.from} → ${dialHost(x)} (L${x.to}): ${x.want}`);
    const real = await Promise.all(c.conns.map((x) => connectionWinner(x, ports[x.to] as number)));
    t.assert.deepStrictEqual(c.conns.map((x, i) => `${x.from} → ${dialHost(x)} (L${x.to}): ${real[i]}`), want, 'real connections');
    const explained = await Promise.all(c.conns.map((x) => routeIdOf(g, x, ports[x.to] as number)));
    t.assert.deepStrictEqual(c.conns.map((x, i) => `${x.from} → ${dialHost(x)} (L${x.to}): ${explained[i]}`), want, 'explain');
  });
}

// Addresses a loopback client cannot have: checked with explain only.
const EXPLAIN_CASES: readonly { name: string; routes: [string, Filters][]; remote: string; server: string; want: string | null }[] = [
  {
    name: 'the longer v6 prefix wins',
    routes: [['a', { remote_addr: '2001:db8::/32' }], ['b', { remote_addr: '2001:db8::/64' }]],
    remote: '2001:db8::5', server: '127.0.0.1', want: 'b',
  },
  {
    name: 'a v6 client outside the longer prefix',
    routes: [['a', { remote_addr: '2001:db8::/32' }], ['b', { remote_addr: '2001:db8::/64' }]],
    remote: '2001:db8:1::5', server: '127.0.0.1', want: 'a',
  },
  {
    name: 'a v4-mapped client address is an IPv4 client',
    routes: [['v6', { remote_addr: '::/0' }], ['v4', { remote_addr: '10.0.0.0/8' }]],
    remote: '::ffff:10.1.2.3', server: '127.0.0.1', want: 'v4',
  },
  {
    name: 'a v4 client against a v4-mapped CIDR',
    routes: [['v6', { remote_addr: '::/0' }], ['mapped', { remote_addr: '::ffff:a00:0/104' }]],
    remote: '10.1.2.3', server: '127.0.0.1', want: 'mapped',
  },
  {
    name: 'a v4 client is not in a v6 CIDR',
    routes: [['v6', { remote_addr: '::/0' }]],
    remote: '192.168.5.3', server: '127.0.0.1', want: null,
  },
  {
    name: 'a v4-mapped server address matches a v4 server_addr',
    routes: [['v4', { server_addr: '127.0.0.1' }], ['any', {}]],
    remote: '10.0.0.1', server: '::ffff:127.0.0.1', want: 'v4',
  },
];

for (const c of EXPLAIN_CASES) {
  test(`match (explain): ${c.name}`, { timeout: 20_000 }, async (t: TestContext) => {
    t.plan(2);
    const g = await startTestGateway(t);
    for (const [id, filters] of c.routes) {
      const r = await g.admin('PUT', `/apisix/admin/stream_routes/${id}`, { ...filters, upstream: { nodes: { '127.0.0.1:1995': 1 }, type: 'roundrobin' } });
      if (r.status !== 201) throw new Error(`PUT route ${id}: ${r.status} ${r.text}`);
    }
    const r = await explain(g, c.remote, c.server, 9100);
    t.assert.equal(r.route_id, c.want, JSON.stringify(r));
    // every candidate is listed, and only the winner is "selected"
    t.assert.deepStrictEqual(r.candidates.filter((x) => x.why === 'matched: selected').map((x) => x.route_id), c.want === null ? [] : [c.want]);
  });
}

test('match: a PUT that replaces a route keeps its place; DELETE then PUT makes it the newest', { timeout: 20_000 }, async (t: TestContext) => {
  t.plan(7);
  const g = await startTestGateway(t, {}, { listeners: [{ host: '127.0.0.1' }] });
  const port = g.listenerPort();
  const [a1, a2, a3, b] = await Promise.all(['a1', 'a2', 'a3', 'b'].map((n) => namedServer(t, n)));
  const filters = { remote_addr: '127.0.0.0/8' };
  const winner = async (): Promise<string> => (await talk(port, { send: 'x' })).data.toString();
  const explained = async (): Promise<string | null> => (await explain(g, '127.0.0.1', '127.0.0.1', port)).route_id;

  await putRoute(g, 'a', filters, a1 as TestServer);
  await putRoute(g, 'b', filters, b as TestServer);
  t.assert.equal(await winner(), 'a1');
  // Replaced in place (200): still the older of the two, and its new upstream is in force at once.
  t.assert.equal(await putRoute(g, 'a', filters, a2 as TestServer), 200);
  t.assert.equal(await winner(), 'a2');
  t.assert.equal(await explained(), 'a');
  // Deleted and created again: now it is the newest, so b (same filters, older) wins.
  const del = await g.admin('DELETE', '/apisix/admin/stream_routes/a');
  t.assert.equal(del.status, 200, del.text);
  await putRoute(g, 'a', filters, a3 as TestServer);
  t.assert.equal(await winner(), 'b');
  t.assert.equal(await explained(), 'b');
});
