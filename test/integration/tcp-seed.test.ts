// The seed's Stream Proxy examples (seeds/000_*.txt), over real connections: the remote_addr filter, the
// server_addr + server_port filter, and the MySQL example with a real MariaDB behind two gateway listeners.
import { test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';
import { mariadbQuery, startMariaDb } from '../fixtures/mariadb.ts';
import { echoServer, explain, freePortRange, namedServer, retryAddrInUse, talk } from '../fixtures/servers.ts';

test('seed: remote_addr 192.168.5.3 — a client from 127.0.0.1 is closed with no bytes', { timeout: 20_000 }, async (t: TestContext) => {
  t.plan(7);
  const echo = await echoServer(t);
  const g = await startTestGateway(t, {}, { listeners: [{}] });
  // The seed's body; only the node is an echo server here, so that a wrong match would show as echoed bytes.
  const r = await g.admin('PUT', '/apisix/admin/stream_routes/1', {
    remote_addr: '192.168.5.3',
    upstream: { nodes: { [echo.node]: 1 }, type: 'roundrobin' },
  });
  t.assert.equal(r.status, 201, r.text);
  const res = await talk(g.listenerPort(), { send: 'select 1' });
  t.assert.equal(res.closed, true, 'the gateway closes the connection');
  t.assert.equal(res.data.length, 0, `no bytes: got ${JSON.stringify(res.data.toString())}`);
  t.assert.equal(echo.connections(), 0, 'the upstream is never dialled');
  // The route is there and does match its own client.
  const port = g.listenerPort();
  t.assert.equal((await explain(g, '192.168.5.3', '127.0.0.1', port)).route_id, '1');
  const no = await explain(g, '127.0.0.1', '127.0.0.1', port);
  t.assert.equal(no.route_id, null);
  t.assert.equal(no.candidates[0]?.matched, false);
});

test('seed: server_addr 127.0.0.1 + server_port matches only that listener', { timeout: 20_000 }, async (t: TestContext) => {
  t.plan(5);
  const named = await namedServer(t, 'matched');
  // L0 127.0.0.1:P (the route's), L1 127.0.0.10:P (same port, other address), L2 127.0.0.1:other (same address).
  const g = await retryAddrInUse(async () => {
    const p = await freePortRange(['127.0.0.1', '127.0.0.10'], 1);
    return startTestGateway(t, {}, { listeners: [{ host: '127.0.0.1', port: p }, { host: '127.0.0.10', port: p }, { host: '127.0.0.1' }] });
  });
  const p = g.listenerPort(0);
  t.assert.equal(g.listenerPort(1), p);
  const r = await g.admin('PUT', '/apisix/admin/stream_routes/1', {
    server_addr: '127.0.0.1',
    server_port: p,
    upstream: { nodes: { [named.node]: 1 }, type: 'roundrobin' },
  });
  t.assert.equal(r.status, 201, r.text);
  const hits = await Promise.all([
    talk(p, { host: '127.0.0.1' }),
    talk(p, { host: '127.0.0.10' }),
    talk(g.listenerPort(2), { host: '127.0.0.1' }),
  ]);
  t.assert.deepStrictEqual(hits.map((h) => [h.closed, h.data.toString()]), [[true, 'matched'], [true, ''], [true, '']]);
  t.assert.equal(named.connections(), 1);
  const again = await talk(p, { host: '127.0.0.1' });
  t.assert.equal(again.data.toString(), 'matched');
});

test('seed: the MySQL example with a real MariaDB behind 127.0.0.10', { timeout: 90_000 }, async (t: TestContext) => {
  t.plan(7);
  const db = await startMariaDb(t);
  // The seed's config.yaml has `9100` (all interfaces) and "127.0.0.10:9101"; here 127.0.0.1 and 127.0.0.10 on port 0.
  const g = await startTestGateway(t, {}, { listeners: [{ host: '127.0.0.1' }, { host: '127.0.0.10' }] });
  const other = g.listenerPort(0);
  const port = g.listenerPort(1);
  const r = await g.admin('PUT', '/apisix/admin/stream_routes/1', {
    server_addr: '127.0.0.10',
    server_port: port,
    upstream: { nodes: { [`127.0.0.1:${db.port}`]: 1 }, type: 'roundrobin' },
  });
  t.assert.equal(r.status, 201, r.text);

  const ok = await mariadbQuery('127.0.0.10', port, 'select 1');
  t.assert.equal(ok.code, 0, ok.stderr);
  t.assert.equal(ok.stdout.trim(), '1');
  // More than a greeting: a round trip that needs the server's answer to a query sent through the proxy.
  const ver = await mariadbQuery('127.0.0.10', port, 'select @@port, 6 * 7');
  t.assert.equal(ver.stdout.trim(), `${db.port}\t42`, ver.stderr);

  const bad = await mariadbQuery('127.0.0.1', other, 'select 1');
  t.assert.notEqual(bad.code, 0);
  // The seed: ERROR 2013 (HY000): Lost connection to MySQL server at 'reading initial communication packet'
  t.assert.match(bad.stderr, /ERROR 2013 .*Lost connection/);
  t.assert.equal(bad.stdout, '');
});
