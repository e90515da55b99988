import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { silentLogger } from './log.ts';
import { familyName, METRIC_FAMILIES, type GatewayMetrics } from './metrics.ts';
import { renderMetrics, scraper, startMetricsExporter } from './prometheus-exporter.ts';

function sample(over: Partial<GatewayMetrics> = {}): GatewayMetrics {
  return {
    configRevision: 7,
    connectionTotal: { '1': 3, 'a"b\\c\nd': 1 },
    activeByListener: { '0.0.0.0:9100': 2 },
    status: [{ code: 200, listenAddr: '0.0.0.0:9100', node: '127.0.0.1:6379', value: 5 }, { code: 403, listenAddr: '0.0.0.0:9100', node: '', value: 1 }],
    bandwidth: [{ listenAddr: '0.0.0.0:9100', type: 'ingress', side: 'downstream', value: 100 }],
    sessions: [{ reason: 'Done', route: '1', protocol: 'tcp', value: 5 }],
    connectSeconds: { bounds: [0.001, 0.01], counts: [2, 1, 1], sum: 0.05, count: 4 },
    nodeHealth: [{ upstream: 'upstreams/1', node: '127.0.0.1:6379', healthy: false }],
    udpSessionsActive: 4,
    tlsHandshakes: { ok: 9, failed: 2 },
    pluginRefusals: { 'ip-restriction': 6 },
    syslogDropped: 0,
    unlabelled: 0,
    adminAuthFailures: { atOnce: 3, delayed: 1 },
    ...over,
  };
}

test('every declared family is rendered with HELP and TYPE; the prefix applies to APISIX families only', async () => {
  const text = await renderMetrics(sample(), { prefix: 'my_' });
  for (const f of METRIC_FAMILIES) {
    const name = familyName(f, 'my_');
    assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'), name);
    assert.match(text, new RegExp(`^# TYPE ${name} ${f.type}$`, 'm'), name);
  }
  assert.match(text, /^my_stream_connection_total\{route="1"\} 3$/m);
  assert.match(text, /^my_stream_status\{code="403",listen_addr="0\.0\.0\.0:9100",node=""\} 1$/m);
  assert.match(text, /^my_stream_bandwidth\{listen_addr="0\.0\.0\.0:9100",type="ingress",side="downstream"\} 100$/m);
  assert.match(text, /^sluice_sessions_total\{reason="Done",route="1",protocol="tcp"\} 5$/m);
  assert.match(text, /^sluice_upstream_node_healthy\{upstream="upstreams\/1",node="127\.0\.0\.1:6379"\} 0$/m);
  assert.match(text, /^sluice_tls_handshakes_total\{result="failed"\} 2$/m);
  assert.match(text, /^sluice_config_revision 7$/m);
  assert.doesNotMatch(text, /^my_sluice_/m);
  assert.doesNotMatch(text, /^apisix_/m);
});

test('label values are escaped as the exposition format requires', async () => {
  const text = await renderMetrics(sample(), { prefix: 'apisix_' });
  assert.ok(text.includes('apisix_stream_connection_total{route="a\\"b\\\\c\\nd"} 1'), text);
});

test('the connect histogram is cumulative and ends with +Inf, _sum and _count', async () => {
  const text = await renderMetrics(sample(), { prefix: 'apisix_' });
  const lines = text.split('\n').filter((l) => l.startsWith('sluice_upstream_connect_seconds'));
  assert.deepEqual(lines, [
    'sluice_upstream_connect_seconds_bucket{le="0.001"} 2',
    'sluice_upstream_connect_seconds_bucket{le="0.01"} 3',
    'sluice_upstream_connect_seconds_bucket{le="+Inf"} 4',
    'sluice_upstream_connect_seconds_sum 0.05',
    'sluice_upstream_connect_seconds_count 4',
  ]);
});

test('refreshMs 0 collects on every scrape; > 0 answers from the copy until it is that old; scrapes share a collect', async () => {
  let n = 0;
  let clock = 0;
  const collect = (): Promise<GatewayMetrics> => Promise.resolve(sample({ configRevision: ++n }));
  const live = scraper({ prefix: 'apisix_', refreshMs: 0, collect, log: silentLogger() });
  const [a, b] = await Promise.all([live(), live()]);
  assert.equal(n, 1, 'two scrapes at once share one collect');
  assert.deepEqual(a, b);
  await live();
  assert.equal(n, 2);
  const cached = scraper({ prefix: 'apisix_', refreshMs: 1000, collect, log: silentLogger() }, () => clock);
  await cached();
  clock = 999;
  const c = await cached();
  assert.equal(n, 3);
  assert.ok(c.ok && c.text.includes('sluice_config_revision 3'));
  clock = 1000;
  const d = await cached();
  assert.equal(n, 4);
  assert.ok(d.ok && d.text.includes('sluice_config_revision 4'));
});

test('the HTTP exporter: 200 with the content type at the uri, 404 elsewhere, 500 when collecting fails', async (t) => {
  let fail = false;
  const e = await startMetricsExporter({
    host: '127.0.0.1', port: 0, uri: '/apisix/prometheus/metrics', prefix: 'apisix_', refreshMs: 0, log: silentLogger(),
    collect: () => fail ? Promise.reject(new Error('worker gone')) : Promise.resolve(sample()),
  });
  t.after(() => e.close());
  const base = `http://127.0.0.1:${e.port}`;
  const ok = await fetch(`${base}/apisix/prometheus/metrics`);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  assert.match(await ok.text(), /^apisix_stream_active_connections\{listen_addr="0\.0\.0\.0:9100"\} 2$/m);
  const missing = await fetch(`${base}/metrics`);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  fail = true;
  const bad = await fetch(`${base}/apisix/prometheus/metrics`);
  assert.equal(bad.status, 500);
  assert.match(await bad.text(), /collecting the metrics failed/);
});

test('docs/plugins.md lists every family the exporter serves, and no other', () => {
  const doc = readFileSync(new URL('../../docs/plugins.md', import.meta.url), 'utf8');
  const listed = [...doc.matchAll(/^\| `((?:apisix|sluice)_[a-z_]+)`/gm)].map((m) => m[1]);
  assert.deepEqual(listed.sort(), METRIC_FAMILIES.map((f) => familyName(f, 'apisix_')).sort());
});
