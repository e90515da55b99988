// The Control API's health check views (issue 5, CONTRACT §5), in APISIX's shape:
//   GET /v1/healthcheck                      [{ name, type, nodes: [{ ip, port, hostname, status, counter }] }, ...]
//   GET /v1/healthcheck/upstreams/{id}       one checker
//   GET /v1/healthcheck/stream_routes/{id}   the checker of the route's upstream (by upstream_id, or inline)
// 404 for an unknown id and for an upstream without checks. Checkers exist as soon as their upstream does.
import { test, type TestContext } from 'node:test';
import { startTestGateway, type TestGateway } from '../fixtures/gateway.ts';
import { control, put, upstreams, waitFor, WITH_CONTROL, type Upstream } from '../fixtures/upstream-helpers.ts';

interface Checker {
  name: string;
  type: string;
  nodes: { ip: string; port: number; hostname: string; status: string; counter: Record<string, number> }[];
}

const ZERO = { success: 0, tcp_failure: 0, timeout_failure: 0, http_failure: 0 };
// probes every 60 s: the first one runs at once, and nothing changes during the test
const ACTIVE_TCP = { type: 'tcp', healthy: { interval: 60 }, unhealthy: { interval: 60 } };

interface Fixture { g: TestGateway; a: Upstream; b: Upstream }

async function setup(t: TestContext): Promise<Fixture> {
  const [a, b] = await upstreams(t, 2);
  if (a === undefined || b === undefined) throw new Error('no upstreams');
  const g = await startTestGateway(t, WITH_CONTROL, { listeners: [{}] });
  await put(g, 'upstreams/u1', { type: 'roundrobin', nodes: { [a.node]: 1, [`localhost:${b.port}`]: 2 }, checks: { active: ACTIVE_TCP } });
  await put(g, 'upstreams/plain', { type: 'roundrobin', nodes: { [a.node]: 1 } });
  await put(g, 'stream_routes/by-id', { server_port: 1, upstream_id: 'u1' });
  await put(g, 'stream_routes/inline', { server_port: 2, upstream: { type: 'chash', key: 'remote_addr', nodes: [{ host: '127.0.0.1', port: b.port, weight: 1 }], checks: { active: { ...ACTIVE_TCP, type: 'http' } } } });
  await put(g, 'stream_routes/unchecked', { server_port: 3, upstream_id: 'plain' });
  return { g, a, b };
}

test('control api: GET /v1/healthcheck lists every checker in APISIX\'s shape (exactly these fields)', async (t: TestContext) => {
  t.plan(2);
  const { g, a, b } = await setup(t);
  // the inline http checker's first probe gets no HTTP answer from a plain upstream: one http failure
  await waitFor(async () => ((await control(g, '/v1/healthcheck/stream_routes/inline')).json as Checker).nodes[0]?.status === 'mostly_healthy', 2000);
  const r = await control(g, '/v1/healthcheck');
  t.assert.equal(r.status, 200);
  const list = (r.json as Checker[]).slice().sort((x, y) => x.name.localeCompare(y.name));
  t.assert.deepStrictEqual(list, [
    {
      name: '/apisix/stream_routes/inline', type: 'http',
      nodes: [{ ip: '127.0.0.1', port: b.port, hostname: '127.0.0.1', status: 'mostly_healthy', counter: { ...ZERO, http_failure: 1 } }],
    },
    {
      name: '/apisix/upstreams/u1', type: 'tcp',
      nodes: [
        { ip: '127.0.0.1', port: a.port, hostname: '127.0.0.1', status: 'healthy', counter: ZERO },
        { ip: '127.0.0.1', port: b.port, hostname: 'localhost', status: 'healthy', counter: ZERO },
      ],
    },
  ]);
});

const ONE: readonly { path: string; status: number; name?: string }[] = [
  { path: '/v1/healthcheck/upstreams/u1', status: 200, name: '/apisix/upstreams/u1' },
  { path: '/v1/healthcheck/stream_routes/by-id', status: 200, name: '/apisix/upstreams/u1' },
  { path: '/v1/healthcheck/stream_routes/inline', status: 200, name: '/apisix/stream_routes/inline' },
  { path: '/v1/healthcheck/upstreams/nope', status: 404 },
  { path: '/v1/healthcheck/stream_routes/nope', status: 404 },
  { path: '/v1/healthcheck/upstreams/plain', status: 404 },
  { path: '/v1/healthcheck/stream_routes/unchecked', status: 404 },
];

for (const c of ONE) {
  test(`control api: GET ${c.path} → ${c.status}${c.name !== undefined ? ` ${c.name}` : ''}`, async (t: TestContext) => {
    t.plan(2);
    const { g } = await setup(t);
    const r = await control(g, c.path);
    t.assert.equal(r.status, c.status);
    if (c.name !== undefined) {
      // the same object as in the list
      const all = (await control(g, '/v1/healthcheck')).json as Checker[];
      t.assert.deepStrictEqual(r.json, all.find((x) => x.name === c.name));
    } else {
      t.assert.equal(typeof (r.json as { error_msg?: unknown }).error_msg, 'string');
    }
  });
}

test('control api: a checker goes when its upstream loses its checks or is deleted', async (t: TestContext) => {
  t.plan(3);
  const { g, a } = await setup(t);
  await put(g, 'stream_routes/inline', { server_port: 2, upstream: { type: 'roundrobin', nodes: { [a.node]: 1 } } });
  t.assert.equal((await control(g, '/v1/healthcheck/stream_routes/inline')).status, 404);
  const del = await g.admin('DELETE', '/apisix/admin/stream_routes/by-id');
  t.assert.equal(del.status, 200);
  await g.admin('DELETE', '/apisix/admin/upstreams/u1');
  // APISIX answers an empty Lua table, which cjson encodes as {}.
  const gone = await waitFor(async () => JSON.stringify((await control(g, '/v1/healthcheck')).json) === '{}', 1000);
  t.assert.ok(gone.ok);
});
