// sluice.tls_handshake_timeout (CONTRACT §4): a TLS handshake not completed within it, counted from accept, is closed
// (status 400, HandshakeFailed) whatever stage it stalls at; once the handshake is done the timeout no longer applies.
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { startTestGateway, type TestGateway } from '../fixtures/gateway.ts';
import { sslBody, testCerts } from '../fixtures/certs.ts';
import { endReasons, put, scriptedUpstream, type Upstream } from '../fixtures/upstream-helpers.ts';

const certs = testCerts();

async function gateway(t: TestContext): Promise<{ g: TestGateway; echo: Upstream }> {
  const echo = await scriptedUpstream(t, (s) => { s.pipe(s); });
  const g = await startTestGateway(t, { sluice: { tls_handshake_timeout: 1 } }, { listeners: [{ tls: true }] });
  await put(g, 'ssls/1', sslBody(certs.server.exact, 'test.com'));
  await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [echo.node]: 1 } } });
  return { g, echo };
}

/** The first bytes Node's TLS client sends for SNI test.com (its whole ClientHello), caught by a plain server. */
async function captureClientHello(t: TestContext): Promise<Buffer> {
  const srv = createServer((s) => { s.once('data', (d: Buffer) => { srv.emit('hello', d); s.destroy(); }); });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(() => { srv.close(); });
  const c = tlsConnect({ port: (srv.address() as AddressInfo).port, host: '127.0.0.1', servername: 'test.com' });
  c.on('error', () => { /* the capture server hangs up */ });
  const [hello] = await once(srv, 'hello') as [Buffer];
  c.destroy();
  return hello;
}

/** Connects, writes `bytes` (if any), then waits: how long until the gateway closed, and what it sent. */
async function stall(port: number, bytes: Buffer | undefined): Promise<{ ms: number; data: number }> {
  const c: Socket = connect({ port, host: '127.0.0.1' });
  let data = 0;
  c.on('data', (d: Buffer) => { data += d.length; });
  c.on('error', () => { /* a reset is a close too */ });
  await once(c, 'connect');
  const t0 = performance.now();
  if (bytes !== undefined) c.write(bytes);
  const kill = setTimeout(() => c.destroy(), 4000);
  await once(c, 'close');
  clearTimeout(kill);
  return { ms: performance.now() - t0, data };
}

test('tls_handshake_timeout 1: a client that sends nothing, part of a ClientHello, or only a ClientHello is closed after ~1 s', async (t: TestContext) => {
  const hello = await captureClientHello(t);
  const cases = [
    { name: 'nothing', bytes: undefined, answered: false },
    { name: 'the first 20 bytes of a ClientHello', bytes: hello.subarray(0, 20), answered: false },
    { name: 'a whole ClientHello, and then nothing', bytes: hello, answered: true },
  ];
  t.plan(cases.length * 2 + 2);
  const { g, echo } = await gateway(t);
  const results = await Promise.all(cases.map((c) => stall(g.listenerPort(), c.bytes)));
  for (const [i, c] of cases.entries()) {
    const r = results[i] as { ms: number; data: number };
    t.assert.ok(r.ms >= 900 && r.ms < 2500, `${c.name}: closed after ${Math.round(r.ms)} ms`);
    // a whole ClientHello gets the server's first flight; the handshake then never completes
    t.assert.strictEqual(r.data > 0, c.answered, `${c.name}: ${r.data} bytes from the gateway`);
  }
  t.assert.strictEqual(echo.accepted(), 0, 'nothing reached the upstream');
  t.assert.deepStrictEqual(await endReasons(g), { HandshakeFailed: cases.length });
});

test('tls_handshake_timeout 1: a connection idle for longer than that after its handshake is not closed by it', async (t: TestContext) => {
  t.plan(2);
  const { g } = await gateway(t);
  const c = tlsConnect({ port: g.listenerPort(), host: '127.0.0.1', servername: 'test.com', rejectUnauthorized: false });
  c.setEncoding('utf8');
  c.on('error', () => { /* checked through the echo */ });
  t.after(() => { c.destroy(); });
  await once(c, 'secureConnect');
  await new Promise((r) => setTimeout(r, 1500));
  const echoed = once(c, 'data') as Promise<[string]>;
  c.write('still here');
  t.assert.deepStrictEqual(await echoed, ['still here']);
  c.end();
  await once(c, 'close');
  t.assert.deepStrictEqual(await endReasons(g), { Done: 1 });
});
