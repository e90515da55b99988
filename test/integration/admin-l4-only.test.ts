// Keys APISIX's schemas accept that mean nothing at L4 (issue 14: no accepted key may be silently inert): the Admin
// API refuses each with 400 and the reason, and stores nothing. The same refusals skip such items when they come from
// etcd or apisix.yaml (src/controlplane/schema/l4-only.ts, used by the snapshot builder).
import { test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';

const NODES = { '127.0.0.1:1980': 1 };
const CASES: readonly { name: string; path: string; body: Record<string, unknown>; reason: RegExp }[] = [
  { name: 'upstream discovery_type', path: 'upstreams/u', body: { type: 'roundrobin', discovery_type: 'dns', service_name: 'x.example' }, reason: /^discovery_type: service discovery is not supported by Sluice/ },
  { name: 'upstream pass_host rewrite', path: 'upstreams/u', body: { nodes: NODES, pass_host: 'rewrite', upstream_host: 'x' }, reason: /^pass_host "rewrite": it rewrites the HTTP Host header/ },
  { name: 'upstream upstream_host', path: 'upstreams/u', body: { nodes: NODES, upstream_host: 'x' }, reason: /^upstream_host: / },
  { name: 'upstream keepalive_pool', path: 'upstreams/u', body: { nodes: NODES, keepalive_pool: { size: 10 } }, reason: /^keepalive_pool: upstream connection pools are HTTP-only/ },
  { name: 'upstream scheme grpc', path: 'upstreams/u', body: { nodes: NODES, scheme: 'grpc' }, reason: /^scheme "grpc" is for HTTP routes/ },
  { name: 'a route\'s inline upstream', path: 'stream_routes/r', body: { upstream: { nodes: NODES, keepalive_pool: { size: 1 } } }, reason: /^keepalive_pool: / },
  { name: 'a traffic-split upstream', path: 'stream_routes/r', body: { upstream: { nodes: NODES }, plugins: { 'traffic-split': { rules: [{ weighted_upstreams: [{ upstream: { type: 'roundrobin', nodes: NODES, pass_host: 'node' }, weight: 1 }] }] } } }, reason: /pass_host "node"/ },
  { name: 'service script', path: 'services/s', body: { upstream: { nodes: NODES }, script: 'return 1 + 1 -- lua' }, reason: /^script: applies to HTTP routes only/ },
  { name: 'service hosts', path: 'services/s', body: { upstream: { nodes: NODES }, hosts: ['a.example'] }, reason: /^hosts: applies to HTTP routes only/ },
  { name: 'service enable_websocket', path: 'services/s', body: { upstream: { nodes: NODES }, enable_websocket: true }, reason: /^enable_websocket: / },
];

test('keys that do nothing at L4 are refused with the reason, and nothing is stored', async (t: TestContext) => {
  const g = await startTestGateway(t, { stream_plugins: ['traffic-split'] });
  for (const c of CASES) {
    const r = await g.admin('PUT', `/apisix/admin/${c.path}`, c.body);
    t.assert.equal(r.status, 400, `${c.name}: ${r.text}`);
    const msg = (r.json as { error_msg?: string }).error_msg ?? '';
    t.assert.match(msg.replace(/^invalid configuration: /, ''), c.reason, c.name);
    t.assert.ok(msg.startsWith('invalid configuration: '), msg);
    t.assert.equal((await g.admin('GET', `/apisix/admin/${c.path}`)).status, 404, `${c.name}: not stored`);
  }
  // the defaults APISIX fills in are fine: pass_host "pass", scheme http (plain TCP) and https (TLS)
  t.assert.equal((await g.admin('PUT', '/apisix/admin/upstreams/ok', { nodes: NODES, pass_host: 'pass', scheme: 'http' })).status, 201);
});
