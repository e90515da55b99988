// traffic-split on the wire (issue 12, CONTRACT §6): weighted upstreams by upstream_id, inline, and the route's own
// (an entry with only a weight), smooth weighted round robin; rules whose match[].vars (lua-resty-expr) pick by the
// session's variables; the chosen upstream keeps its own balancer and retries; references checked and guarded with
// APISIX's texts; a bad expression refused; UDP sessions split too.
import { test, type TestContext } from 'node:test';
import { startTestGateway, type TestGateway } from '../fixtures/gateway.ts';
import { freePort, namedServer, talk, type TestServer } from '../fixtures/servers.ts';
import { udpClient, udpEcho } from '../fixtures/udp.ts';

const PLUGINS = ['traffic-split'];

async function counts(g: TestGateway, n: number, from = '127.0.0.1', port = g.listenerPort()): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const name = (await talk(port, { localAddress: from })).data.toString();
    out[name] = (out[name] ?? 0) + 1;
  }
  return out;
}

async function setup(t: TestContext): Promise<{ g: TestGateway; own: TestServer; b: TestServer; c: TestServer }> {
  const [own, b, c] = await Promise.all([namedServer(t, 'own'), namedServer(t, 'b'), namedServer(t, 'c')]);
  const g = await startTestGateway(t, { stream_plugins: PLUGINS }, { listeners: [{}] });
  t.assert.equal((await g.admin('PUT', '/apisix/admin/upstreams/ub', { nodes: { [b.node]: 1 } })).status, 201);
  return { g, own, b, c };
}

test('traffic-split: weights 3:1 between an upstream_id and the route\'s own upstream, exactly, in smooth order', async (t: TestContext) => {
  const { g, own } = await setup(t);
  const put = await g.admin('PUT', '/apisix/admin/stream_routes/1', {
    upstream: { nodes: { [own.node]: 1 } },
    plugins: { 'traffic-split': { rules: [{ weighted_upstreams: [{ upstream_id: 'ub', weight: 3 }, { weight: 1 }] }] } },
  });
  t.assert.equal(put.status, 201, put.text);
  const seq: string[] = [];
  for (let i = 0; i < 8; i++) seq.push((await talk(g.listenerPort())).data.toString());
  t.assert.deepEqual(seq, ['b', 'b', 'own', 'b', 'b', 'b', 'own', 'b'], 'smooth WRR spreads the light entry out');
  t.assert.deepEqual(await counts(g, 40), { b: 30, own: 10 });
});

test('traffic-split: an inline upstream and an upstream_id; weight 0 is never picked; default weighted_upstreams is the route\'s own', async (t: TestContext) => {
  const { g, own, c } = await setup(t);
  await g.admin('PUT', '/apisix/admin/stream_routes/1', {
    upstream: { nodes: { [own.node]: 1 } },
    plugins: { 'traffic-split': { rules: [{ weighted_upstreams: [{ upstream: { nodes: { [c.node]: 1 }, type: 'roundrobin' }, weight: 1 }, { upstream_id: 'ub', weight: 1 }, { weight: 0 }] }] } },
  });
  t.assert.deepEqual(await counts(g, 20), { b: 10, c: 10 });
  const put = await g.admin('PUT', '/apisix/admin/stream_routes/1', { upstream: { nodes: { [own.node]: 1 } }, plugins: { 'traffic-split': { rules: [{}] } } });
  t.assert.equal(put.status, 200, put.text);
  const stored = (await g.admin('GET', '/apisix/admin/stream_routes/1')).json as { value: { plugins: Record<string, { rules: unknown[] }> } };
  t.assert.deepEqual(stored.value.plugins['traffic-split']?.rules, [{ weighted_upstreams: [{ weight: 1 }] }], 'APISIX\'s default filled in');
  t.assert.deepEqual(await counts(g, 5), { own: 5 });
});

test('traffic-split: match.vars picks the rule by session variables (==, ipmatch, >, AND/OR, !); no rule taken → the route\'s own', async (t: TestContext) => {
  const { g, own, c } = await setup(t);
  const port = g.listenerPort();
  await g.admin('PUT', '/apisix/admin/upstreams/uc', { nodes: { [c.node]: 1 } });
  const put = await g.admin('PUT', '/apisix/admin/stream_routes/1', {
    upstream: { nodes: { [own.node]: 1 } },
    plugins: {
      'traffic-split': {
        rules: [
          { match: [{ vars: [['remote_addr', '==', '127.0.0.2']] }, { vars: [['remote_addr', 'ipmatch', ['127.0.3.0/24']]] }], weighted_upstreams: [{ upstream_id: 'ub' }] },
          { match: [{ vars: ['OR', ['remote_addr', '==', '127.0.0.4'], ['AND', ['server_port', '>', port - 1], ['remote_addr', '!', '~~', '^127\\.0\\.0\\.']]] }], weighted_upstreams: [{ upstream_id: 'uc' }] },
        ],
      },
    },
  });
  t.assert.equal(put.status, 201, put.text);
  const via = async (from: string): Promise<string> => (await talk(port, { localAddress: from })).data.toString();
  t.assert.equal(await via('127.0.0.2'), 'b', 'first rule, first match');
  t.assert.equal(await via('127.0.3.77'), 'b', 'first rule, second match (ipmatch CIDR)');
  t.assert.equal(await via('127.0.0.4'), 'c', 'second rule, OR first branch');
  t.assert.equal(await via('127.0.5.1'), 'c', 'second rule, AND of server_port > and a negated regex');
  t.assert.equal(await via('127.0.0.1'), 'own', 'no rule matched');
});

test('traffic-split: the chosen upstream keeps its own retries (a dead node is retried onto the live one)', async (t: TestContext) => {
  const { g, own, b } = await setup(t);
  const dead = await freePort();
  await g.admin('PUT', '/apisix/admin/upstreams/ub', { nodes: [{ host: '127.0.0.1', port: dead, weight: 1 }, { host: b.host, port: b.port, weight: 1 }], retries: 1 });
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { upstream: { nodes: { [own.node]: 1 } }, plugins: { 'traffic-split': { rules: [{ weighted_upstreams: [{ upstream_id: 'ub' }] }] } } });
  t.assert.deepEqual(await counts(g, 10), { b: 10 });
});

test('traffic-split: references are checked and guarded with APISIX\'s texts; a bad vars expression is refused', async (t: TestContext) => {
  const { g, own } = await setup(t);
  const missing = await g.admin('PUT', '/apisix/admin/stream_routes/1', { upstream: { nodes: { [own.node]: 1 } }, plugins: { 'traffic-split': { rules: [{ weighted_upstreams: [{ upstream_id: 'nope' }] }] } } });
  t.assert.equal(missing.status, 400);
  t.assert.equal((missing.json as { error_msg: string }).error_msg, 'failed to fetch upstream info by upstream id [nope], response code: 404');
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { upstream: { nodes: { [own.node]: 1 } }, plugins: { 'traffic-split': { rules: [{ weighted_upstreams: [{ upstream_id: 'ub' }] }] } } });
  const del = await g.admin('DELETE', '/apisix/admin/upstreams/ub');
  t.assert.equal(del.status, 400);
  t.assert.equal((del.json as { error_msg: string }).error_msg, 'can not delete this upstream, plugin in stream_route [1] is still using it now');
  const bad = await g.admin('PUT', '/apisix/admin/stream_routes/2', { upstream: { nodes: { [own.node]: 1 } }, plugins: { 'traffic-split': { rules: [{ match: [{ vars: [['remote_addr', 'like', 'x']] }] }] } } });
  t.assert.equal(bad.status, 400);
  t.assert.match((bad.json as { error_msg: string }).error_msg, /^failed to check the configuration of stream plugin \[traffic-split\]: failed to validate the 'vars' expression: /);
  const tooMany = await g.admin('PUT', '/apisix/admin/stream_routes/2', { upstream: { nodes: { [own.node]: 1 } }, plugins: { 'traffic-split': { rules: [{ weighted_upstreams: Array.from({ length: 21 }, () => ({ weight: 1 })) }] } } });
  t.assert.equal(tooMany.status, 400, 'at most 20 weighted_upstreams');
});

test('traffic-split on UDP: sessions split by weight between an upstream_id and the route\'s own', async (t: TestContext) => {
  const [own, b] = await Promise.all([udpEcho(t), udpEcho(t)]);
  const g = await startTestGateway(t, { stream_plugins: PLUGINS }, { listeners: [{ proto: 'udp' }] });
  await g.admin('PUT', '/apisix/admin/upstreams/ub', { nodes: { [b.node]: 1 } });
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { upstream: { nodes: { [own.node]: 1 } }, plugins: { 'traffic-split': { rules: [{ weighted_upstreams: [{ upstream_id: 'ub', weight: 1 }, { weight: 1 }] }] } } });
  const seen: Record<string, number> = {};
  for (let i = 0; i < 6; i++) {
    const c = await udpClient(t); // a new client address and port: a new UDP session
    const reply = await c.ask('hi', g.listenerPort());
    const name = reply?.node === own.node ? 'own' : reply?.node === b.node ? 'b' : String(reply?.node);
    seen[name] = (seen[name] ?? 0) + 1;
  }
  t.assert.deepEqual(seen, { b: 3, own: 3 });
});
