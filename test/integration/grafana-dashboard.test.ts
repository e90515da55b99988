// contrib/grafana/sluice.json against a real Prometheus: the dashboard has the panels its issue lists, its queries name
// only metric families observe/metrics.ts declares, and every panel target, with Grafana's variables filled in as
// Grafana would, returns series (with the labels its legend reads) from a Prometheus scraping a gateway under traffic:
// echoed and refused TCP sessions, one session held open, and a health-checked upstream with one dead node.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { test, type TestContext } from 'node:test';
import { familyName, METRIC_FAMILIES } from '../../src/observe/metrics.ts';
import { startTestGateway } from '../fixtures/gateway.ts';
import { startPrometheus, type VectorSample } from '../fixtures/prometheus.ts';
import { delay, echoServer, talk } from '../fixtures/servers.ts';
import { deadPort, put } from '../fixtures/upstream-helpers.ts';

interface Target { readonly refId: string; readonly expr: string; readonly legendFormat?: string; readonly datasource?: { readonly uid?: string } }
interface Panel { readonly title: string; readonly type: string; readonly datasource?: { readonly uid?: string }; readonly targets?: readonly Target[]; readonly panels?: readonly Panel[] }
interface Variable { readonly name: string; readonly type: string; readonly query?: unknown; readonly definition?: string }
interface Dashboard { readonly schemaVersion: number; readonly panels: readonly Panel[]; readonly templating: { readonly list: readonly Variable[] } }

const DASHBOARD = new URL('../../contrib/grafana/sluice.json', import.meta.url);
const PANELS = [
  'Config revision', 'Node health', 'Sessions/s by route', 'Active sessions by listener', 'Bytes/s by direction',
  'End reasons', 'Upstream connect time p50 / p99', 'Plugin refusals',
];
/** What stands in for Grafana's $__rate_interval (4 scrape intervals or more in Grafana; the scrape here is 1 s). */
const RATE_WINDOW = '30s';
const SCRAPE_MS = 1000;
const POLL_MS = 20_000;
const LISTEN = '127.0.0.1:0'; // the test listener as written (bound on port 0)
const REFUSED_FROM = '127.0.0.2';

function flatten(panels: readonly Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...flatten(p.panels ?? [])]);
}

function has(v: readonly VectorSample[], label: string, value: string, ok: (x: number) => boolean): boolean {
  return v.some((s) => s.metric[label] === value && ok(s.value));
}

test('grafana dashboard: every panel query returns data from a real Prometheus scraping a gateway under traffic', async (t: TestContext) => {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
  const panels = flatten(dash.panels).filter((p) => p.type !== 'row');
  const targets = panels.flatMap((p) => (p.targets ?? []).map((x) => ({ panel: p.title, ...x })));
  t.plan(5 + 2 * targets.length);
  t.assert.deepStrictEqual(panels.map((p) => p.title), PANELS);
  const dsVar = dash.templating.list.find((v) => v.type === 'datasource');
  t.assert.ok(
    dsVar?.name === 'DS_PROMETHEUS' && dash.schemaVersion >= 39 && targets.length > 0
      && panels.every((p) => p.datasource?.uid === '${DS_PROMETHEUS}') && targets.every((x) => x.datasource?.uid === '${DS_PROMETHEUS}'),
    'schemaVersion 39 or later, every panel and target on the ${DS_PROMETHEUS} data source variable',
  );
  const declared = new Set(METRIC_FAMILIES.flatMap((f) => {
    const n = familyName(f, 'apisix_');
    return f.type === 'histogram' ? [n + '_bucket', n + '_sum', n + '_count'] : [n];
  }));
  const used = [...new Set(targets.flatMap((x) => [...x.expr.matchAll(/\b(?:apisix|sluice)_[a-z_]+\b/g)].map((m) => m[0])))];
  t.assert.deepStrictEqual(used.filter((n) => !declared.has(n)), [], `metric names used: ${used.join(', ')}`);

  const up = await echoServer(t);
  const dead = `127.0.0.1:${await deadPort()}`;
  const g = await startTestGateway(t, {
    stream_plugins: ['ip-restriction', 'limit-conn', 'prometheus'],
    plugin_attr: { prometheus: { export_addr: { ip: '127.0.0.1', port: 0 } } },
  }, { listeners: [{}] });
  const metricsPort = g.gw.metricsPort();
  if (metricsPort === undefined) throw new Error('the exporter does not listen');
  await put(g, 'upstreams/u1', {
    type: 'roundrobin', nodes: { [up.node]: 1, [dead]: 1 },
    checks: { active: { type: 'tcp', healthy: { interval: 1, successes: 1 }, unhealthy: { interval: 1, tcp_failures: 1 } } },
  });
  await put(g, 'stream_routes/1', { upstream_id: 'u1', plugins: { prometheus: {} } });
  await put(g, 'stream_routes/2', { remote_addr: REFUSED_FROM, upstream_id: 'u1', plugins: { 'ip-restriction': { whitelist: ['10.0.0.0/8'] } } });

  const held = connect(g.listenerPort(), '127.0.0.1');
  t.after(() => { held.destroy(); });
  held.on('error', () => { /* destroyed by the test */ });
  await once(held, 'connect');
  held.write('held');
  await once(held, 'data');

  const seen = { echoed: 0, refused: 0, wrong: 0 };
  let running = true;
  const traffic = (async () => {
    while (running) {
      const ok = await talk(g.listenerPort(), { send: 'through sluice' });
      if (ok.data.toString() === 'through sluice') seen.echoed++; else seen.wrong++;
      const no = await talk(g.listenerPort(), { localAddress: REFUSED_FROM, send: 'refused' });
      if (no.data.length === 0 && no.closed) seen.refused++; else seen.wrong++;
      await delay(100); // pacing: about five sessions a second, so every rate() window has some
    }
  })();

  try {
    const prom = await startPrometheus(t, [{ job: 'sluice', target: `127.0.0.1:${metricsPort}`, path: '/apisix/prometheus/metrics' }], SCRAPE_MS);
    await prom.waitFor('up{job="sluice"}', (v) => v[0]?.value === 1, POLL_MS);

    const instVar = dash.templating.list.find((v) => v.name === 'instance');
    const def = /^label_values\((\w+),\s*(\w+)\)$/.exec(instVar?.definition ?? '');
    let instances: string[] = [];
    if (def !== null) {
      const r = await fetch(`http://127.0.0.1:${prom.port}/api/v1/label/${def[2]}/values?match[]=${encodeURIComponent(def[1] ?? '')}`, { signal: AbortSignal.timeout(5000) });
      instances = ((await r.json()) as { data?: string[] }).data ?? [];
    }
    const instance = `127.0.0.1:${metricsPort}`;
    t.assert.deepStrictEqual(instances, [instance], `the $instance variable (${instVar?.definition}) lists the gateway`);

    const expect: Record<string, (v: readonly VectorSample[]) => boolean> = {
      'Config revision': (v) => v.some((s) => s.value > 0),
      'Node health': (v) => has(v, 'node', up.node, (x) => x === 1) && has(v, 'node', dead, (x) => x === 0),
      'Sessions/s by route': (v) => has(v, 'route', '1', (x) => x > 0) && has(v, 'route', '2', (x) => x > 0),
      'Active sessions by listener': (v) => has(v, 'listen_addr', LISTEN, (x) => x >= 1),
      'Bytes/s by direction': (v) => v.length === 1 && v.every((s) => s.value > 0),
      'End reasons': (v) => has(v, 'reason', 'Done', (x) => x > 0) && has(v, 'reason', 'Forbidden', (x) => x > 0),
      'Upstream connect time p50 / p99': (v) => v.length === 1 && v.every((s) => Number.isFinite(s.value) && s.value >= 0 && s.value < 5),
      'Plugin refusals': (v) => has(v, 'plugin', 'ip-restriction', (x) => x > 0),
    };
    for (const x of targets) {
      // Grafana's Prometheus data source, one gateway picked: the value goes in as it is (its dots match themselves)
      const expr = x.expr.replaceAll('$__rate_interval', RATE_WINDOW).replaceAll('$instance', instance);
      const ok = expect[x.panel] ?? ((v: readonly VectorSample[]) => v.length > 0);
      const t0 = performance.now();
      let last = await prom.query(expr);
      while (!(last.length > 0 && ok(last)) && performance.now() - t0 < POLL_MS) {
        await delay(200);
        last = await prom.query(expr);
      }
      t.assert.ok(last.length > 0 && ok(last), `${x.panel} ${x.refId}: ${expr} → ${JSON.stringify(last)}`);
      const legendLabels = [...(x.legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1] ?? '');
      t.assert.ok(last.every((s) => legendLabels.every((l) => s.metric[l] !== undefined)), `${x.panel} ${x.refId}: legend ${x.legendFormat} reads labels of ${JSON.stringify(last.map((s) => s.metric))}`);
    }
  } finally {
    running = false;
    await traffic;
  }
  t.assert.ok(seen.echoed > 0 && seen.refused > 0 && seen.wrong === 0, `traffic: ${JSON.stringify(seen)}`);
});
