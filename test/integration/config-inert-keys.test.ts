// config.yaml keys APISIX has that Sluice did not act on (issue 14): each one now acts, is warned about as ignored
// (APISIX's HTTP/Lua settings, like unknown nginx_config keys), or is refused naming its line and key.
import { request } from 'node:http';
import { connect } from 'node:net';
import { test, type TestContext } from 'node:test';
import { lastLine, runSluice } from '../fixtures/child.ts';
import { loadConfig } from '../../src/controlplane/config/load.ts';
import { silentLogger } from '../../src/observe/log.ts';
import { startGateway, type Gateway } from '../../src/process/gateway.ts';
import { makePrefix, startTestGateway } from '../fixtures/gateway.ts';
import { freePort } from '../fixtures/servers.ts';

const F = 'conf/config.yaml';
const check = async (t: TestContext, yaml: string): Promise<{ code: number | null; stderr: string }> => {
  const prefix = makePrefix(t, {}, yaml);
  return runSluice(['test', '-c', F], { cwd: prefix });
};

test('sluice test: APISIX HTTP/Lua keys, the HTTP plugin list and other plugin_attr are warned about as ignored', async (t: TestContext) => {
  const r = await check(t, `apisix:
  node_listen: 9080
  enable_http2: true
  enable_resolv_search_opt: true
  stream_proxy:
    tcp: [9100]
plugins: [proxy-rewrite]
plugin_attr:
  log-rotate: { interval: 3600 }
`);
  t.assert.equal(r.code, 0, r.stderr);
  const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning: '));
  t.assert.deepStrictEqual(warnings, [
    `warning: ${F}:2: apisix.node_listen: an APISIX HTTP/Lua setting, not used by Sluice, ignored`,
    `warning: ${F}:3: apisix.enable_http2: an APISIX HTTP/Lua setting, not used by Sluice, ignored`,
    `warning: ${F}:4: apisix.enable_resolv_search_opt: the system resolver applies resolv.conf's search list as it is; with apisix.dns_resolver names are looked up as written, ignored`,
    `warning: ${F}:7: plugins: APISIX's HTTP plugin list, not used by Sluice (its stream plugins are stream_plugins), ignored`,
    `warning: ${F}:9: plugin_attr.log-rotate: not used by Sluice, ignored`,
  ]);
});

const REFUSED: readonly { name: string; yaml: string; want: string }[] = [
  { name: 'an unknown stream plugin', yaml: 'stream_plugins:\n  - ip-restriction\n  - limit-count\n', want: `${F}:3: stream_plugins[1]: unknown stream plugin "limit-count" (Sluice has: ip-restriction, limit-conn, mqtt-proxy, traffic-split, prometheus, syslog)` },
  { name: 'https_admin', yaml: 'deployment:\n  admin:\n    https_admin: true\n', want: `${F}:3: deployment.admin.https_admin: HTTPS for the Admin API is not supported by Sluice; keep it on loopback, or put a TLS proxy in front of it` },
  { name: 'enable_reuseport: false', yaml: 'apisix:\n  enable_reuseport: false\n', want: `${F}:2: apisix.enable_reuseport: Sluice's workers share every listener with SO_REUSEPORT; it cannot be turned off` },
  { name: 'enable_admin not a boolean', yaml: 'apisix:\n  enable_admin: "no"\n', want: `${F}:2: apisix.enable_admin: expected boolean` },
];

for (const c of REFUSED) {
  test(`sluice test refuses ${c.name}, naming the line and key`, async (t: TestContext) => {
    const r = await check(t, c.yaml);
    t.assert.equal(r.code, 1);
    t.assert.equal(lastLine(r.stderr), c.want);
  });
}

/** A gateway in this process from a config.yaml (its listeners parsed from it, as `sluice start` does). */
async function fromConfig(t: TestContext, over: Record<string, unknown>): Promise<Gateway> {
  const prefix = makePrefix(t, over);
  const gw = await startGateway({ loaded: loadConfig({ prefix }), log: silentLogger() });
  t.after(() => gw.close());
  return gw;
}

test('apisix.enable_admin: false turns the Admin API off (APISIX 2.x\'s place for it)', async (t: TestContext) => {
  t.assert.equal((await fromConfig(t, { apisix: { enable_admin: false } })).admin, undefined);
  t.assert.notEqual((await fromConfig(t, {})).admin, undefined);
});

test('apisix.enable_ipv6: false: a listener given by port only binds IPv4 only', async (t: TestContext) => {
  const reach = (host: string, port: number): Promise<boolean> => new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
  const port = await freePort();
  await fromConfig(t, { apisix: { enable_ipv6: false, stream_proxy: { tcp: [port] } } });
  t.assert.equal(await reach('127.0.0.1', port), true);
  t.assert.equal(await reach('::1', port), false, 'not on IPv6');
  const dualPort = await freePort();
  await fromConfig(t, { apisix: { stream_proxy: { tcp: [dualPort] } } });
  t.assert.equal(await reach('::1', dualPort), true, 'by default both');
});

test('deployment.admin.enable_admin_cors: APISIX\'s CORS headers on answers, and a preflight answered without a key', async (t: TestContext) => {
  const g = await startTestGateway(t, { deployment: { admin: { enable_admin_cors: true } } });
  const pre = await new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
    const req = request(`${g.adminUrl}/apisix/admin/upstreams`, { method: 'OPTIONS' }, (res) => { res.resume(); resolve({ status: res.statusCode ?? 0, headers: res.headers }); });
    req.on('error', reject);
    req.end();
  });
  t.assert.equal(pre.status, 200);
  t.assert.equal(pre.headers['access-control-allow-origin'], '*');
  t.assert.equal(pre.headers['access-control-allow-methods'], 'POST, GET, PUT, OPTIONS, DELETE, PATCH');
  const get = await g.admin('GET', '/apisix/admin/upstreams');
  t.assert.equal(get.status, 200);
  t.assert.equal(get.headers.get('access-control-allow-origin'), '*');
  const off = await startTestGateway(t);
  t.assert.equal((await off.admin('GET', '/apisix/admin/upstreams')).headers.get('access-control-allow-origin'), null, 'off unless enabled');
});
