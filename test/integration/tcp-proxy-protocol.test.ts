// PROXY protocol v1/v2 in (CONTRACT §4: bad bytes close at once, an incomplete header after 5 s, real_ip_from decides
// whose header sets remote_addr) and out (v1, or v2 with proxy_protocol_to_upstream_version: 2).
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { encodeProxyHeader, parseProxyHeader, V2_SIGNATURE } from '../../src/lib/proxy-protocol.ts';
import { startTestGateway, type TestGateway } from '../fixtures/gateway.ts';

/** An upstream that records everything each connection sends and answers `ok`. */
async function recorder(t: TestContext): Promise<{ port: number; got: () => Buffer[] }> {
  const got: Buffer[] = [];
  const srv = createServer((s) => {
    const chunks: Buffer[] = [];
    s.on('error', () => {});
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => { got.push(Buffer.concat(chunks)); s.end('ok'); });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => srv.close());
  return { port: (srv.address() as AddressInfo).port, got: () => got };
}

/** Sends `bytes` then FIN; resolves with what came back and whether the connection was reset/closed early. */
function send(port: number, bytes: Buffer): Promise<{ data: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const c: Socket = connect(port, '127.0.0.1', () => c.end(bytes));
    c.setTimeout(10_000, () => c.destroy()); // a wait is always bounded
    let data = '';
    c.on('data', (d: Buffer) => { data += d.toString(); });
    c.on('close', () => resolve({ data, ms: Date.now() - t0 }));
    c.on('error', () => {});
  });
}

async function reasons(g: TestGateway): Promise<Record<string, number>> {
  const r = await g.admin('GET', '/sluice/v1/status');
  const all = (r.json as { ended_by_reason: Record<string, number> }).ended_by_reason;
  return Object.fromEntries(Object.entries(all).filter(([, n]) => n > 0));
}

const v1 = (src: string): Buffer => Buffer.from(`PROXY TCP4 ${src} 127.0.0.1 40000 9100\r\n`);

test('PROXY in: a trusted peer\'s header sets remote_addr (v1 and v2); the bytes after it are proxied', async (t: TestContext) => {
  t.plan(4);
  const up = await recorder(t);
  const g = await startTestGateway(t, { nginx_config: { stream: { real_ip_from: ['127.0.0.0/8'] } } }, { listeners: [{ proxyProtocol: true }] });
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { remote_addr: '10.1.2.3', upstream: { nodes: { [`127.0.0.1:${up.port}`]: 1 } } });
  const a = await send(g.listenerPort(), Buffer.concat([v1('10.1.2.3'), Buffer.from('hello v1')]));
  t.assert.equal(a.data, 'ok', 'route remote_addr 10.1.2.3 matched the header\'s source');
  const h2 = encodeProxyHeader(2, { srcAddr: '10.1.2.3', dstAddr: '127.0.0.1', srcPort: 5, dstPort: 6 });
  const b = await send(g.listenerPort(), Buffer.concat([h2, Buffer.from('hello v2')]));
  t.assert.equal(b.data, 'ok');
  t.assert.deepStrictEqual(up.got().map((x) => x.toString()).sort(), ['hello v1', 'hello v2'], 'the header is not forwarded');
  const c = await send(g.listenerPort(), Buffer.concat([v1('10.9.9.9'), Buffer.from('x')]));
  t.assert.equal(c.data, '', 'another source does not match the route');
});

test('PROXY in: an untrusted peer\'s header is read and dropped; remote_addr stays the peer', async (t: TestContext) => {
  t.plan(2);
  const up = await recorder(t);
  const g = await startTestGateway(t, {}, { listeners: [{ proxyProtocol: true }] });
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { remote_addr: '10.1.2.3', upstream: { nodes: { [`127.0.0.1:${up.port}`]: 1 } } });
  t.assert.equal((await send(g.listenerPort(), Buffer.concat([v1('10.1.2.3'), Buffer.from('x')]))).data, '', 'no real_ip_from: not trusted');
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { remote_addr: '127.0.0.1', upstream: { nodes: { [`127.0.0.1:${up.port}`]: 1 } } });
  t.assert.equal((await send(g.listenerPort(), Buffer.concat([v1('10.1.2.3'), Buffer.from('y')]))).data, 'ok');
});

test('PROXY in: bytes that cannot start a header close at once (400); an incomplete header after 5 s', async (t: TestContext) => {
  t.plan(4);
  const up = await recorder(t);
  const g = await startTestGateway(t, {}, { listeners: [{ proxyProtocol: true }] });
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { upstream: { nodes: { [`127.0.0.1:${up.port}`]: 1 } } });
  const bad = await send(g.listenerPort(), Buffer.from('GET / HTTP/1.1\r\n\r\n'));
  t.assert.ok(bad.data === '' && bad.ms < 1000, `closed at once with no bytes (${bad.ms} ms)`);
  // an incomplete header, and the client keeps the connection open
  const partial = await new Promise<number>((resolve) => {
    const t0 = Date.now();
    const c = connect(g.listenerPort(), '127.0.0.1', () => c.write('PROXY TCP4 1.2.3.4'));
    c.setTimeout(10_000, () => c.destroy());
    c.on('close', () => resolve(Date.now() - t0));
    c.on('error', () => {});
  });
  t.assert.ok(partial >= 4500 && partial < 7000, `closed after ~5 s (${partial} ms)`);
  t.assert.deepStrictEqual(await reasons(g), { BadClientData: 2 });
  t.assert.equal(up.got().length, 0, 'nothing reached the upstream');
});

test('PROXY out: v1 and v2 headers carry the client and the listener address, before the client\'s bytes', async (t: TestContext) => {
  t.plan(6);
  const up = await recorder(t);
  const g = await startTestGateway(t, {}, {
    listeners: [{ proxyProtocolToUpstream: true }, { host: '127.0.0.2', proxyProtocolToUpstream: true, proxyProtocolToUpstreamVersion: 2 }],
  });
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { upstream: { nodes: { [`127.0.0.1:${up.port}`]: 1 } } });
  t.assert.equal((await send(g.listenerPort(0), Buffer.from('one'))).data, 'ok');
  const first = up.got()[0] ?? Buffer.alloc(0);
  const h1 = parseProxyHeader(first);
  t.assert.ok(h1.kind === 'ok' && h1.version === 1 && h1.addresses?.srcAddr === '127.0.0.1' && h1.addresses.dstPort === g.listenerPort(0), first.toString());
  t.assert.equal(h1.kind === 'ok' ? first.subarray(h1.length).toString() : '', 'one');
  const c = await new Promise<string>((resolve) => {
    const s = connect({ port: g.listenerPort(1), host: '127.0.0.2' }, () => s.end('two'));
    s.setTimeout(10_000, () => s.destroy());
    let d = '';
    s.on('data', (x: Buffer) => { d += x.toString(); });
    s.on('close', () => resolve(d));
    s.on('error', () => {});
  });
  t.assert.equal(c, 'ok');
  const second = up.got()[1] ?? Buffer.alloc(0);
  t.assert.ok(second.subarray(0, 12).equals(V2_SIGNATURE), 'v2 signature');
  const h2 = parseProxyHeader(second);
  t.assert.deepStrictEqual(h2.kind === 'ok' ? [h2.addresses?.dstAddr, h2.addresses?.dstPort, second.subarray(h2.length).toString()] : [], ['127.0.0.2', g.listenerPort(1), 'two']);
});

test('PROXY codec: v1/v2 round trips, IPv6, LOCAL/UNKNOWN, and invalid or oversized input never throws', (t: TestContext) => {
  const cases: [string, Buffer, string][] = [
    ['v1 tcp6', Buffer.from('PROXY TCP6 2001:db8::1 ::1 1 2\r\n'), 'ok'],
    ['v1 unknown', Buffer.from('PROXY UNKNOWN\r\n'), 'ok'],
    ['v1 partial', Buffer.from('PROXY TCP4 1.2'), 'need_more'],
    ['v1 too long', Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}`), 'invalid'],
    ['v1 bad port', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n'), 'invalid'],
    ['v2 partial signature', V2_SIGNATURE.subarray(0, 5), 'need_more'],
    ['v2 bad version', Buffer.concat([V2_SIGNATURE, Buffer.from([0x11, 0x11, 0, 0])]), 'invalid'],
    ['v2 local', Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0, 0])]), 'ok'],
    ['v2 too long', Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0xff, 0xff])]), 'invalid'],
    ['random', Buffer.from([0x16, 0x03, 0x01]), 'invalid'],
  ];
  t.plan(cases.length + 2);
  for (const [name, buf, want] of cases) t.assert.equal(parseProxyHeader(buf).kind, want, name);
  const six = parseProxyHeader(encodeProxyHeader(2, { srcAddr: '2001:db8::5', dstAddr: '::1', srcPort: 1, dstPort: 2 }));
  t.assert.deepStrictEqual(six.kind === 'ok' ? six.addresses : undefined, { family: 'tcp6', srcAddr: '2001:db8::5', dstAddr: '::1', srcPort: 1, dstPort: 2 });
  let threw = 0;
  let seed = 7;
  for (let i = 0; i < 5000; i++) {
    const len = (seed = (seed * 1103515245 + 12345) >>> 0) % 64;
    const b = Buffer.alloc(len);
    for (let j = 0; j < len; j++) b[j] = (seed = (seed * 1103515245 + 12345) >>> 0) & 0xff;
    if (i % 3 === 0) V2_SIGNATURE.copy(b, 0, 0, Math.min(12, len));
    try { parseProxyHeader(b); } catch { threw++; }
  }
  t.assert.equal(threw, 0, 'random input never throws');
});
