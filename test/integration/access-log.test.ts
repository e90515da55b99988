// The stream access log (CONTRACT §4): APISIX's default line, on disk within 1 s of the session's end, TCP and UDP.
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { compileFormat, timeLocal } from '../../src/observe/access-log.ts';
import { startTestGateway } from '../fixtures/gateway.ts';

const LINE = /^127\.0\.0\.1 \[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] (TCP|UDP) (\d{3}) (\d+) (\d+) (\d+\.\d{3})$/;

async function waitForLines(file: string, n: number, ms: number): Promise<string[]> {
  const until = Date.now() + ms;
  for (;;) {
    let lines: string[] = [];
    try { lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== ''); } catch { /* not yet */ }
    if (lines.length >= n || Date.now() > until) return lines;
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('access log: one APISIX-format line per TCP session, with status and byte counts, within 1 s', async (t: TestContext) => {
  t.plan(6);
  const echo = createServer((s) => { s.on('error', () => {}); s.pipe(s); });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  t.after(() => echo.close());
  const g = await startTestGateway(t, { nginx_config: { stream: { enable_access_log: true, access_log: 'logs/access_stream.log' } } }, { listeners: [{}] });
  const file = path.join(g.prefix, 'logs', 'access_stream.log');
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { remote_addr: '127.0.0.1', upstream: { nodes: { [`127.0.0.1:${(echo.address() as AddressInfo).port}`]: 1 } } });
  await new Promise<void>((resolve, reject) => {
    const c = connect(g.listenerPort(), '127.0.0.1', () => c.end('hello'));
    c.setTimeout(10_000, () => c.destroy()); // a wait is always bounded
    c.on('data', () => {});
    c.on('close', () => resolve());
    c.on('error', reject);
  });
  const ended = Date.now();
  const lines = await waitForLines(file, 1, 1000);
  t.assert.ok(Date.now() - ended <= 1000, 'on disk within 1 s');
  const m = LINE.exec(lines[0] ?? '');
  t.assert.ok(m !== null, `APISIX's default format: ${lines[0] ?? '(none)'}`);
  t.assert.deepStrictEqual([m?.[1], m?.[2], m?.[3], m?.[4]], ['TCP', '200', '5', '5']);
  // no route: 500, nothing sent
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { remote_addr: '192.168.5.3', upstream: { nodes: { '127.0.0.1:1': 1 } } });
  await new Promise<void>((resolve) => {
    const c = connect(g.listenerPort(), '127.0.0.1');
    c.setTimeout(10_000, () => c.destroy());
    c.on('close', () => resolve());
    c.on('error', () => {});
  });
  const two = await waitForLines(file, 2, 1500);
  const m2 = LINE.exec(two[1] ?? '');
  t.assert.deepStrictEqual([m2?.[1], m2?.[2], m2?.[3]], ['TCP', '500', '0']);
  t.assert.equal(two.length, 2);
  t.assert.match(timeLocal(Date.UTC(2026, 10, 25, 10, 0, 0)), /^\d{2}\/Nov\/2026:\d{2}:\d{2}:00 [+-]\d{4}$/);
});

test('access log: a UDP session is logged when it ends', async (t: TestContext) => {
  t.plan(2);
  const echo = createSocket('udp4');
  echo.on('message', (m, r) => echo.send(m, r.port, r.address));
  await new Promise<void>((r) => echo.bind(0, '127.0.0.1', r));
  t.after(() => echo.close());
  const g = await startTestGateway(t, { sluice: { udp_session_timeout: 1 }, nginx_config: { stream: { enable_access_log: true } } }, { listeners: [{ proto: 'udp' }] });
  const file = path.join(g.prefix, 'logs', 'access_stream.log');
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { upstream: { nodes: { [`127.0.0.1:${echo.address().port}`]: 1 } } });
  const c = createSocket('udp4');
  t.after(() => c.close());
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no UDP reply within 5 s')), 5000);
    c.on('message', () => { clearTimeout(timer); resolve(); });
    c.send('ping!', g.listenerPort(), '127.0.0.1');
  });
  const lines = await waitForLines(file, 1, 4000);
  const m = LINE.exec(lines[0] ?? '');
  t.assert.ok(m !== null, lines[0] ?? '(none)');
  t.assert.deepStrictEqual([m?.[1], m?.[2], m?.[3], m?.[4]], ['UDP', '200', '5', '5']);
});

test('access log: templates escape as nginx (default) or JSON, unknown variables render as -', (t: TestContext) => {
  t.plan(3);
  const rec = { protocol: 'TCP' as const, remoteAddr: '1.2.3.4', remotePort: 5, serverAddr: '6.7.8.9', serverPort: 10, status: 200, bytesSent: 1, bytesReceived: 2, sessionTime: 0.0042, upstreamAddr: undefined, routeId: 'r"1', serviceId: undefined, realipRemoteAddr: '1.2.3.4', mqttClientId: undefined, sni: 'a\tb', endReason: 'Done', endedAt: 0 };
  t.assert.equal(compileFormat('$route_id $ssl_server_name $session_time', 'default').render(rec), 'r\\x221 a\\x09b 0.004');
  t.assert.equal(compileFormat('{"r":"$route_id"}', 'json').render(rec), '{"r":"r\\"1"}');
  const c = compileFormat('$nope ${remote_addr}', 'default');
  t.assert.deepStrictEqual([c.render(rec), c.unknown], ['- 1.2.3.4', ['nope']]);
});
