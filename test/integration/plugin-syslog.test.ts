// The syslog stream plugin on the wire (issue 12, CONTRACT §6): sessions through a real gateway, records received by
// a real rsyslog over UDP and TCP, framed as APISIX frames them; log_format from the conf or from
// plugin_metadata/syslog; no log_format → nothing sent (as APISIX); a dead syslog server costs the sessions nothing
// and its losses are counted in sluice_syslog_dropped_total.
import { test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';
import { startRsyslog } from '../fixtures/rsyslog.ts';
import { echoServer, freePort, talk } from '../fixtures/servers.ts';

const FRAME = /^<46>1 \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z - apisix (\d+) - - (\{.*\})$/;

function parse(line: string): { pid: number; entry: Record<string, unknown> } {
  const m = FRAME.exec(line);
  if (m === null) throw new Error(`not an APISIX syslog frame: ${line}`);
  return { pid: Number(m[1]), entry: JSON.parse(m[2] ?? '') as Record<string, unknown> };
}

const FORMAT = { client: '$remote_addr', status: '$status', sent: '$bytes_sent', received: '$bytes_received', fixed: 'text', none: '$not_a_variable' };

test('syslog over UDP: one APISIX-framed record per session, rendered with the conf\'s log_format', async (t: TestContext) => {
  const rs = await startRsyslog(t, { udp: true });
  const up = await echoServer(t);
  const g = await startTestGateway(t, { stream_plugins: ['ip-restriction', 'syslog'] }, { listeners: [{}] });
  const put = await g.admin('PUT', '/apisix/admin/stream_routes/r1', {
    plugins: { syslog: { host: '127.0.0.1', port: rs.udpPort, sock_type: 'udp', batch_max_size: 1, log_format: FORMAT } },
    upstream: { nodes: { [up.node]: 1 } },
  });
  t.assert.equal(put.status, 201, put.text);
  t.assert.equal((await talk(g.listenerPort(), { send: 'hello' })).data.toString(), 'hello');
  t.assert.equal((await talk(g.listenerPort(), { localAddress: '127.0.0.2', send: 'hi' })).data.toString(), 'hi');
  const lines = await rs.waitFor(2, 5000);
  t.assert.equal(lines.length, 2, lines.join('\n'));
  const got = lines.map(parse);
  t.assert.ok(got.every((r) => r.pid > 0));
  t.assert.deepEqual(got.map((r) => r.entry).sort((a, b) => String(a.client).localeCompare(String(b.client))), [
    { client: '127.0.0.1', status: '200', sent: '5', received: '5', fixed: 'text', route_id: 'r1' },
    { client: '127.0.0.2', status: '200', sent: '2', received: '2', fixed: 'text', route_id: 'r1' },
  ]);
});

test('syslog over TCP with log_format from plugin_metadata; batches of batch_max_size; a refused session is logged with 403', async (t: TestContext) => {
  const rs = await startRsyslog(t, { tcp: true });
  const up = await echoServer(t);
  const g = await startTestGateway(t, { stream_plugins: ['ip-restriction', 'syslog'] }, { listeners: [{}] });
  const meta = await g.admin('PUT', '/apisix/admin/plugin_metadata/syslog', { log_format: { ip: '$remote_addr', code: '$status', route: '$route_id' } });
  t.assert.equal(meta.status, 201, meta.text);
  await g.admin('PUT', '/apisix/admin/services/s1', { upstream: { nodes: { [up.node]: 1 } } });
  const put = await g.admin('PUT', '/apisix/admin/stream_routes/r2', {
    service_id: 's1',
    plugins: {
      syslog: { host: '127.0.0.1', port: rs.tcpPort, batch_max_size: 3, inactive_timeout: 1 },
      'ip-restriction': { blacklist: ['127.0.0.9'] },
    },
  });
  t.assert.equal(put.status, 201, put.text);
  for (let i = 0; i < 3; i++) t.assert.equal((await talk(g.listenerPort(), { send: 'x' })).data.toString(), 'x');
  t.assert.equal((await talk(g.listenerPort(), { localAddress: '127.0.0.9', send: 'x' })).data.toString(), '', 'refused');
  const lines = await rs.waitFor(4, 5000);
  t.assert.equal(lines.length, 4, lines.join('\n'));
  t.assert.deepEqual(lines.map((l) => parse(l).entry), [
    ...[0, 1, 2].map(() => ({ ip: '127.0.0.1', code: '200', route: 'r2', route_id: 'r2', service_id: 's1' })),
    { ip: '127.0.0.9', code: '403', route: 'r2', route_id: 'r2', service_id: 's1' },
  ]);
  // a metadata change reaches the running plugin
  await g.admin('PUT', '/apisix/admin/plugin_metadata/syslog', { log_format: { who: '$remote_addr' } });
  t.assert.equal((await talk(g.listenerPort(), { send: 'y' })).data.toString(), 'y');
  const more = await rs.waitFor(5, 5000);
  t.assert.deepEqual(parse(more[4] ?? '').entry, { who: '127.0.0.1', route_id: 'r2', service_id: 's1' });
});

test('syslog without any log_format sends nothing (as APISIX); the route with one still logs', async (t: TestContext) => {
  const rs = await startRsyslog(t, { udp: true });
  const up = await echoServer(t);
  const g = await startTestGateway(t, { stream_plugins: ['syslog'] }, { listeners: [{}, {}] });
  const sys = { host: '127.0.0.1', port: rs.udpPort, sock_type: 'udp', batch_max_size: 1 };
  await g.admin('PUT', '/apisix/admin/stream_routes/quiet', { server_port: g.listenerPort(0), plugins: { syslog: sys }, upstream: { nodes: { [up.node]: 1 } } });
  await g.admin('PUT', '/apisix/admin/stream_routes/loud', { server_port: g.listenerPort(1), plugins: { syslog: { ...sys, log_format: { r: '$route_id' } } }, upstream: { nodes: { [up.node]: 1 } } });
  // the same sender conf: both routes share one sender, so the quiet route's record (if one were made) would be
  // queued, and arrive, before the loud one's
  t.assert.equal((await talk(g.listenerPort(0), { send: 'q' })).data.toString(), 'q');
  t.assert.equal((await talk(g.listenerPort(1), { send: 'l' })).data.toString(), 'l');
  const lines = await rs.waitFor(1, 5000);
  t.assert.deepEqual(lines.map((l) => parse(l).entry), [{ r: 'loud', route_id: 'loud' }]);
});

test('syslog to a dead server: sessions are served as usual, records are counted as lost in the metrics', async (t: TestContext) => {
  const dead = await freePort();
  const up = await echoServer(t);
  const g = await startTestGateway(t, {
    stream_plugins: ['syslog', 'prometheus'],
    plugin_attr: { prometheus: { export_addr: { ip: '127.0.0.1', port: 0 } } },
  }, { listeners: [{}] });
  await g.admin('PUT', '/apisix/admin/stream_routes/1', {
    plugins: { syslog: { host: '127.0.0.1', port: dead, timeout: 200, batch_max_size: 1, max_retry_count: 0, log_format: { a: '$remote_addr' } } },
    upstream: { nodes: { [up.node]: 1 } },
  });
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const r = await talk(g.listenerPort(), { send: 'z' });
    t.assert.equal(r.data.toString(), 'z');
    times.push(r.ms);
  }
  times.sort((a, b) => a - b);
  t.assert.ok((times[times.length - 1] ?? 0) < 1000, `slowest session ${times[times.length - 1]} ms with a dead syslog server`);
  const url = `http://127.0.0.1:${g.gw.metricsPort()}/apisix/prometheus/metrics`;
  let lost = 0;
  for (let i = 0; i < 100 && lost < 20; i++) {
    const text = await (await fetch(url)).text();
    lost = Number(/^sluice_syslog_dropped_total (\d+)$/m.exec(text)?.[1] ?? 0);
    if (lost < 20) await new Promise((r) => setTimeout(r, 50));
  }
  t.assert.equal(lost, 20, 'every record that could not be sent is counted');
});
