// The prometheus stream plugin and exporter on the wire (issue 12, CONTRACT §5): a real gateway under traffic, scraped
// by a real Prometheus; APISIX's families and Sluice's answer PromQL with the sessions the test made. Also: the
// exporter only listens when prometheus is in stream_plugins, enable_export_server: false serves the metrics on the
// admin listener, metric_prefix applies, prefer_name labels by route name.
import { once } from 'node:events';
import { connect } from 'node:net';
import { test, type TestContext } from 'node:test';
import { startTestGateway, type TestGateway } from '../fixtures/gateway.ts';
import { startPrometheus } from '../fixtures/prometheus.ts';
import { echoServer, talk } from '../fixtures/servers.ts';

const PLUGINS = ['ip-restriction', 'limit-conn', 'prometheus'];

function promGateway(t: TestContext, attr: Record<string, unknown> = {}, plugins = PLUGINS): Promise<TestGateway> {
  return startTestGateway(t, {
    stream_plugins: plugins,
    plugin_attr: { prometheus: { export_addr: { ip: '127.0.0.1', port: 0 }, ...attr } },
  }, { listeners: [{}] });
}

async function scrape(url: string): Promise<string> {
  const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (r.status !== 200) throw new Error(`scrape ${url}: ${r.status}`);
  return r.text();
}

/** The value of one exposition line, or undefined. */
function valueOf(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('prometheus: a real Prometheus scrapes the gateway; sessions, refusals, status, bytes and connect times answer PromQL', async (t: TestContext) => {
  const up = await echoServer(t);
  const g = await promGateway(t);
  const port = g.gw.metricsPort();
  t.assert.ok(port !== undefined && port > 0, 'the exporter listens');
  t.assert.equal((await g.admin('PUT', '/apisix/admin/stream_routes/1', { plugins: { prometheus: {} }, upstream: { nodes: { [up.node]: 1 } } })).status, 201);
  t.assert.equal((await g.admin('PUT', '/apisix/admin/stream_routes/2', {
    server_port: 1, plugins: { 'ip-restriction': { whitelist: ['10.0.0.0/8'] } }, upstream: { nodes: { [up.node]: 1 } },
  })).status, 201);
  for (let i = 0; i < 3; i++) t.assert.equal((await talk(g.listenerPort(), { send: 'abcd' })).data.toString(), 'abcd');
  const prom = await startPrometheus(t, [{ job: 'sluice', target: `127.0.0.1:${port}`, path: '/apisix/prometheus/metrics' }], 200);
  await prom.waitFor('up{job="sluice"}', (v) => v[0]?.value === 1);
  await prom.waitFor('apisix_stream_connection_total{route="1"}', (v) => v[0]?.value === 3);
  const listen = "127.0.0.1:0"; // the listener as written (the test listener is bound on port 0)
  await prom.waitFor(`apisix_stream_status{code="200",listen_addr="${listen}",node="${up.node}"}`, (v) => v[0]?.value === 3);
  await prom.waitFor(`apisix_stream_bandwidth{listen_addr="${listen}",type="ingress",side="downstream"}`, (v) => v[0]?.value === 12);
  await prom.waitFor(`apisix_stream_bandwidth{listen_addr="${listen}",type="egress",side="downstream"}`, (v) => v[0]?.value === 12);
  await prom.waitFor('sluice_sessions_total{reason="Done",route="1",protocol="tcp"}', (v) => v[0]?.value === 3);
  await prom.waitFor('sluice_upstream_connect_seconds_count', (v) => v[0]?.value === 3);
  const p50 = await prom.waitFor('histogram_quantile(0.5, sluice_upstream_connect_seconds_bucket)', (v) => v.length === 1 && Number.isFinite(v[0]?.value));
  t.assert.ok((p50[0]?.value ?? -1) >= 0 && (p50[0]?.value ?? 99) <= 10, `p50 connect time ${p50[0]?.value}`);

  // a session that stays open shows in the active gauge; a change of config shows in the revision
  const held = connect(g.listenerPort(), '127.0.0.1');
  t.after(() => { held.destroy(); });
  held.on('error', () => { /* closed by the test */ });
  await once(held, 'connect');
  await prom.waitFor(`apisix_stream_active_connections{listen_addr="${listen}"}`, (v) => v[0]?.value === 1);
  const rev = (await prom.query('sluice_config_revision'))[0]?.value ?? 0;
  t.assert.equal((await g.admin('PUT', '/apisix/admin/stream_routes/1', { plugins: { prometheus: {}, 'ip-restriction': { whitelist: ['10.0.0.0/8'] } }, upstream: { nodes: { [up.node]: 1 } } })).status, 200);
  await prom.waitFor('sluice_config_revision', (v) => (v[0]?.value ?? 0) > rev);
  t.assert.equal((await talk(g.listenerPort(), { send: 'no' })).data.toString(), '', 'refused by the whitelist');
  await prom.waitFor('sluice_plugin_refusals_total{plugin="ip-restriction"}', (v) => v[0]?.value === 1);
  await prom.waitFor('sluice_sessions_total{reason="Forbidden",route="1",protocol="tcp"}', (v) => v[0]?.value === 1);
  await prom.waitFor(`apisix_stream_status{code="403",listen_addr="${listen}",node=""}`, (v) => v[0]?.value === 1);
  await prom.waitFor('sluice_tls_handshakes_total', (v) => v.length === 2);
});

test('prometheus: no exporter unless prometheus is in stream_plugins; the plugin on a route is then refused', async (t: TestContext) => {
  const up = await echoServer(t);
  const g = await promGateway(t, {}, ['ip-restriction']);
  t.assert.equal(g.gw.metricsPort(), undefined);
  const put = await g.admin('PUT', '/apisix/admin/stream_routes/1', { plugins: { prometheus: {} }, upstream: { nodes: { [up.node]: 1 } } });
  t.assert.equal(put.status, 400, put.text);
});

test('prometheus: prefer_name labels by route name; metric_prefix renames the APISIX families only; refresh_interval caches', async (t: TestContext) => {
  const up = await echoServer(t);
  const g = await promGateway(t, { metric_prefix: 'gw_', refresh_interval: 60 });
  const url = `http://127.0.0.1:${g.gw.metricsPort()}/apisix/prometheus/metrics`;
  await g.admin('PUT', '/apisix/admin/stream_routes/r1', { name: 'redis-main', plugins: { prometheus: { prefer_name: true } }, upstream: { nodes: { [up.node]: 1 } } });
  t.assert.equal((await talk(g.listenerPort(), { send: 'a' })).data.toString(), 'a');
  const first = await scrape(url);
  t.assert.equal(valueOf(first, 'gw_stream_connection_total{route="redis-main"}'), 1, first);
  t.assert.ok(first.includes('\nsluice_config_revision '), 'Sluice families keep their own prefix');
  t.assert.ok(!first.includes('apisix_stream'), 'no apisix_ family under another prefix');
  t.assert.equal((await talk(g.listenerPort(), { send: 'b' })).data.toString(), 'b');
  t.assert.equal(await scrape(url), first, 'refresh_interval 60: the same answer within the minute');
});

test('prometheus: enable_export_server false serves the metrics on the admin listener, with its keys', async (t: TestContext) => {
  const up = await echoServer(t);
  const g = await promGateway(t, { enable_export_server: false });
  t.assert.equal(g.gw.metricsPort(), undefined);
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { plugins: { prometheus: {} }, upstream: { nodes: { [up.node]: 1 } } });
  t.assert.equal((await talk(g.listenerPort(), { send: 'a' })).data.toString(), 'a');
  const r = await g.admin('GET', '/apisix/prometheus/metrics');
  t.assert.equal(r.status, 200, r.text);
  t.assert.equal(valueOf(r.text, 'apisix_stream_connection_total{route="1"}'), 1, r.text);
  const anon = await fetch(`${g.adminUrl}/apisix/prometheus/metrics`);
  t.assert.equal(anon.status, 401);
  await anon.body?.cancel();
});
