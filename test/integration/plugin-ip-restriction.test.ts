// ip-restriction on the wire (issue 12, CONTRACT §6): whitelist and blacklist of IPv4/IPv6 addresses and CIDRs on
// the client address — after PROXY protocol and real_ip_from — for TCP and UDP; a refusal closes with no bytes and
// status 403 (access log, end reason Forbidden); `_meta.disable`, service plugins, and changes under traffic.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { encodeProxyHeader } from '../../src/lib/proxy-protocol.ts';
import { startTestGateway } from '../fixtures/gateway.ts';
import { echoServer, endReasons, talk, delay } from '../fixtures/servers.ts';
import { udpClient, udpEcho } from '../fixtures/udp.ts';

const ipr = (conf: Record<string, unknown>): Record<string, unknown> => ({ 'ip-restriction': conf });

const cases = [
  { name: 'whitelist 127.0.0.1: 127.0.0.1 passes, 127.0.1.1 is refused', conf: { whitelist: ['127.0.0.1'] }, from: ['127.0.0.1', '127.0.1.1'], pass: [true, false] },
  { name: 'whitelist CIDR 127.0.1.0/24', conf: { whitelist: ['127.0.1.0/24'] }, from: ['127.0.0.1', '127.0.1.1'], pass: [false, true] },
  { name: 'blacklist 127.0.1.1', conf: { blacklist: ['127.0.1.1'] }, from: ['127.0.0.1', '127.0.1.1'], pass: [true, false] },
  { name: 'blacklist an IPv6 entry does not catch IPv4 clients', conf: { blacklist: ['::1'] }, from: ['127.0.0.1'], pass: [true] },
  { name: 'whitelist 10.0.0.0/8 (the seed example): loopback clients are refused', conf: { whitelist: ['10.0.0.0/8'] }, from: ['127.0.0.1', '127.0.1.1'], pass: [false, false] },
];

for (const c of cases) {
  test(`ip-restriction TCP: ${c.name}`, async (t: TestContext) => {
    t.plan(c.from.length * 2 + 1);
    const up = await echoServer(t);
    const g = await startTestGateway(t, {}, { listeners: [{}] });
    const put = await g.admin('PUT', '/apisix/admin/stream_routes/1', { plugins: ipr(c.conf), upstream: { nodes: { [up.node]: 1 } } });
    t.assert.equal(put.status, 201, put.text);
    for (const [i, from] of c.from.entries()) {
      const r = await talk(g.listenerPort(), { localAddress: from, send: 'ping' });
      t.assert.ok(r.closed, 'the gateway closed the connection');
      t.assert.equal(r.data.toString(), c.pass[i] ? 'ping' : '', `${from} ${c.pass[i] ? 'proxied' : 'closed with no bytes'}`);
    }
  });
}

test('ip-restriction TCP over IPv6: ::1 whitelisted passes; a blacklisted ::1 is refused (403 in the access log)', async (t: TestContext) => {
  t.plan(4);
  const up = await echoServer(t);
  const g = await startTestGateway(t, { nginx_config: { stream: { enable_access_log: true, access_log: 'logs/a.log' } } }, { listeners: [{ host: '::1' }] });
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { plugins: ipr({ whitelist: ['::1/128'] }), upstream: { nodes: { [up.node]: 1 } } });
  t.assert.equal((await talk(g.listenerPort(), { host: '::1', send: 'six' })).data.toString(), 'six');
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { plugins: ipr({ blacklist: ['::1'] }), upstream: { nodes: { [up.node]: 1 } } });
  t.assert.equal((await talk(g.listenerPort(), { host: '::1', send: 'six' })).data.toString(), '');
  t.assert.deepStrictEqual(await endReasons(g), { Done: 1, Forbidden: 1 });
  const file = path.join(g.prefix, 'logs/a.log');
  let lines: string[] = [];
  for (let i = 0; i < 100 && lines.length < 2; i++) {
    await delay(20);
    try { lines = readFileSync(file, 'utf8').trim().split('\n'); } catch { /* not yet written */ }
  }
  t.assert.deepStrictEqual(lines.map((l) => l.split(' ')[4]), ['200', '403'], lines.join('\n'));
});

test('ip-restriction after PROXY protocol: the trusted header\'s source is the client checked', async (t: TestContext) => {
  t.plan(3);
  const up = await echoServer(t);
  const g = await startTestGateway(t, { nginx_config: { stream: { real_ip_from: ['127.0.0.1'] } } }, { listeners: [{ proxyProtocol: true }] });
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { plugins: ipr({ whitelist: ['10.0.0.0/8'] }), upstream: { nodes: { [up.node]: 1 } } });
  const hdr = (src: string): Buffer => encodeProxyHeader(1, { srcAddr: src, srcPort: 1000, dstAddr: '127.0.0.1', dstPort: 9100 });
  t.assert.equal((await talk(g.listenerPort(), { send: Buffer.concat([hdr('10.1.2.3'), Buffer.from('in')]) })).data.toString(), 'in', 'a whitelisted source via a trusted peer');
  t.assert.equal((await talk(g.listenerPort(), { send: Buffer.concat([hdr('192.168.1.1'), Buffer.from('out')]) })).data.toString(), '', 'a source outside the list');
  // an untrusted peer's header does not set the client: 127.0.1.1 itself is checked (and refused)
  t.assert.equal((await talk(g.listenerPort(), { localAddress: '127.0.1.1', send: Buffer.concat([hdr('10.1.2.3'), Buffer.from('x')]) })).data.toString(), '');
});

test('ip-restriction: _meta.disable skips it; a service\'s conf applies and the route\'s own conf wins', async (t: TestContext) => {
  t.plan(4);
  const up = await echoServer(t);
  const g = await startTestGateway(t, {}, { listeners: [{}] });
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { plugins: ipr({ whitelist: ['10.0.0.0/8'], _meta: { disable: true } }), upstream: { nodes: { [up.node]: 1 } } });
  t.assert.equal((await talk(g.listenerPort(), { send: 'a' })).data.toString(), 'a', 'disabled: not enforced');
  await g.admin('PUT', '/apisix/admin/services/s1', { plugins: ipr({ whitelist: ['10.0.0.0/8'] }), upstream: { nodes: { [up.node]: 1 } } });
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { service_id: 's1' });
  t.assert.equal((await talk(g.listenerPort(), { send: 'b' })).data.toString(), '', 'the service\'s whitelist refuses');
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { service_id: 's1', plugins: ipr({ whitelist: ['127.0.0.0/8'] }) });
  t.assert.equal((await talk(g.listenerPort(), { send: 'c' })).data.toString(), 'c', 'the route\'s conf wins over the service\'s');
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { service_id: 's1', plugins: {} });
  t.assert.equal((await talk(g.listenerPort(), { send: 'd' })).data.toString(), '', 'no route conf: the service\'s applies again');
});

test('ip-restriction on UDP: a refused client\'s datagrams are dropped (counted as Forbidden), an allowed one is answered', async (t: TestContext) => {
  t.plan(3);
  const up = await udpEcho(t);
  const g = await startTestGateway(t, {}, { listeners: [{ proto: 'udp' }] });
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { plugins: ipr({ blacklist: ['127.0.1.1'] }), upstream: { nodes: { [up.node]: 1 } } });
  const bad = await udpClient(t, '127.0.1.1');
  bad.send('hi', g.listenerPort());
  let forbidden = 0;
  for (let i = 0; i < 150 && forbidden === 0; i++) {
    await delay(20);
    forbidden = (await g.gw.pool.stats()).reduce((n, s) => n + (s.byReason.Forbidden ?? 0), 0);
  }
  t.assert.equal(forbidden, 1, 'the blacklisted client\'s session was refused');
  const good = await udpClient(t, '127.0.0.1');
  t.assert.equal((await good.ask('hi', g.listenerPort()))?.data, 'hi');
  t.assert.equal(up.seen.filter((x) => x.data === 'hi').length, 1, 'only the allowed datagram reached the upstream');
});

test('ip-restriction changed under traffic: an open session is kept, new sessions follow the new rule', async (t: TestContext) => {
  t.plan(3);
  const up = await echoServer(t);
  const g = await startTestGateway(t, {}, { listeners: [{}] });
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { plugins: ipr({ whitelist: ['127.0.0.1'] }), upstream: { nodes: { [up.node]: 1 } } });
  const { connect } = await import('node:net');
  const open = connect(g.listenerPort(), '127.0.0.1');
  open.on('error', () => {});
  await new Promise<void>((r) => open.once('connect', () => r()));
  open.write('before');
  await new Promise<void>((r) => open.once('data', () => r()));
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { plugins: ipr({ blacklist: ['127.0.0.1'] }), upstream: { nodes: { [up.node]: 1 } } });
  t.assert.equal((await talk(g.listenerPort(), { send: 'new' })).data.toString(), '', 'a new session is refused');
  open.write('after');
  const echoed = await new Promise<string>((r) => { open.once('data', (d: Buffer) => r(d.toString())); setTimeout(() => r('timeout'), 3000); });
  t.assert.equal(echoed, 'after', 'the open session goes on');
  open.destroy();
  await g.admin('DELETE', '/apisix/admin/stream_routes/1');
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { upstream: { nodes: { [up.node]: 1 } } });
  t.assert.equal((await talk(g.listenerPort(), { send: 'free' })).data.toString(), 'free', 'the plugin removed: proxied');
});
