// TLS passthrough (issue 6, CONTRACT §4): on a plain listener, a route with `tls_passthrough: true` is matched by the
// SNI of the client's ClientHello, read without terminating, and the bytes (ClientHello included) go to the node
// untouched: the client verifies the backend's own certificate end to end. A first packet that is not TLS, a
// malformed or an unfinished ClientHello (past the peek's time bound), or an SNI no passthrough route names, falls
// through to the non-SNI routes with its bytes.
import { once } from 'node:events';
import { connect } from 'node:net';
import { test, type TestContext } from 'node:test';
import { startTestGateway, type TestGateway } from '../fixtures/gateway.ts';
import { testCerts, tlsAsk, tlsServer, type TlsServer } from '../fixtures/certs.ts';
import { put, scriptedUpstream, type Upstream } from '../fixtures/upstream-helpers.ts';

const certs = testCerts();
const S = certs.server;

interface Setup { g: TestGateway; a: TlsServer; b: TlsServer; echo: Upstream }

/** A plain listener; a.test.com and b.test.com pass through to two TLS backends; everything else to an echo. */
async function setup(t: TestContext): Promise<Setup> {
  const a = await tlsServer(t, S.a);
  const b = await tlsServer(t, S.b);
  const echo = await scriptedUpstream(t, (s) => { s.pipe(s); });
  // a 1 s handshake timeout bounds the peek too, so the unfinished-ClientHello case is quick
  const g = await startTestGateway(t, { sluice: { tls_handshake_timeout: 1 } }, { listeners: [{}] });
  const up = (n: { node: string }): Record<string, unknown> => ({ type: 'roundrobin', nodes: { [n.node]: 1 } });
  await put(g, 'stream_routes/plain', { upstream: up(echo) });
  await put(g, 'stream_routes/a', { sni: 'a.test.com', tls_passthrough: true, upstream: up(a) });
  await put(g, 'stream_routes/b', { sni: 'b.test.com', tls_passthrough: true, upstream: up(b) });
  // an SNI route without tls_passthrough is for terminated TLS only: never matched by a peek
  await put(g, 'stream_routes/c', { sni: 'c.test.com', upstream: up(a) });
  return { g, a, b, echo };
}

/**
 * Plain TCP: writes `bytes` and half-closes, at once or (`hold`) only once they have all come back; returns
 * everything read until the close (given up after 5 s).
 */
async function plainTalk(port: number, bytes: Buffer, hold = false): Promise<{ data: Buffer; ms: number }> {
  const t0 = performance.now();
  const c = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const chunks: Buffer[] = [];
  let got = 0;
  c.on('data', (d: Buffer) => {
    chunks.push(d);
    got += d.length;
    if (hold && got >= bytes.length) c.end();
  });
  c.on('error', () => { /* seen as the close */ });
  c.on('end', () => c.end());
  await once(c, 'connect');
  c.write(bytes);
  if (!hold) c.end();
  const kill = setTimeout(() => c.destroy(), 5000);
  await once(c, 'close');
  clearTimeout(kill);
  return { data: Buffer.concat(chunks), ms: performance.now() - t0 };
}

test('passthrough by SNI to two TLS backends: each client verifies its backend\'s own certificate end to end', async (t: TestContext) => {
  const cases = [
    { sni: 'a.test.com', pem: S.a, want: 'hello a.test.com' },
    { sni: 'b.test.com', pem: S.b, want: 'hello b.test.com' },
    { sni: 'a.test.com', pem: S.a, want: 'hello a.test.com', maxVersion: 'TLSv1.2' as const },
  ];
  t.plan(cases.length * 3 + 2);
  const { g, a, b, echo } = await setup(t);
  for (const c of cases) {
    const r = await tlsAsk(g.listenerPort(), { servername: c.sni, ca: certs.ca.cert, ...(c.maxVersion ? { maxVersion: c.maxVersion } : {}) });
    t.assert.strictEqual(r.authorized, true, `${c.sni}: the backend's certificate verified for ${c.sni} (${r.error ?? ''})`);
    t.assert.strictEqual(r.fingerprint, c.pem.fingerprint, `${c.sni}: the backend's own certificate, not one of the gateway's`);
    t.assert.strictEqual(r.data, c.want);
  }
  t.assert.deepStrictEqual([a.servernames, b.servernames], [['a.test.com', 'a.test.com'], ['b.test.com']]);
  t.assert.strictEqual(echo.accepted(), 0);
});

test('passthrough listener: what is not a ClientHello for a passthrough SNI falls through to the non-SNI route, bytes and all', async (t: TestContext) => {
  const big = Buffer.alloc(17 * 1024, 0x41);
  big.set([0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0xff, 0xff, 0xff], 0); // a handshake record announcing a 16 MiB ClientHello
  const cases = [
    { name: 'plain text', bytes: Buffer.from('plain text\n') },
    { name: 'a TLS record of length 0 (malformed)', bytes: Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00, 0x42]) },
    { name: 'a handshake that is not a ClientHello', bytes: Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00]) },
    { name: 'a ClientHello over the 16 KiB bound', bytes: big },
  ];
  t.plan(cases.length + 2);
  const { g, a, b, echo } = await setup(t);
  for (const c of cases) {
    const r = await plainTalk(g.listenerPort(), c.bytes);
    t.assert.ok(r.data.equals(c.bytes), `${c.name}: echoed by the non-SNI route (${r.data.length} of ${c.bytes.length} bytes)`);
  }
  t.assert.strictEqual(echo.accepted(), cases.length);
  t.assert.strictEqual(a.accepted() + b.accepted(), 0);
});

test('passthrough listener: an unfinished ClientHello falls through after the peek\'s time bound; an SNI with no passthrough route too', async (t: TestContext) => {
  t.plan(5);
  const { g, a, echo } = await setup(t);
  // the first 20 bytes of a ClientHello announcing 512 bytes: the peek waits for the rest until its deadline (1 s)
  const partial = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x04, 0x01, 0x00, 0x02, 0x00, 0x03, 0x03, ...Array<number>(9).fill(7)]);
  const r = await plainTalk(g.listenerPort(), partial, true);
  t.assert.ok(r.data.equals(partial), `the partial ClientHello reached the non-SNI route (${r.data.length} bytes)`);
  t.assert.ok(r.ms >= 900 && r.ms < 2500, `after the bound, not much later: ${Math.round(r.ms)} ms`);
  const before = echo.accepted();
  const c = await tlsAsk(g.listenerPort(), { servername: 'c.test.com', timeoutMs: 3000 });
  t.assert.strictEqual(c.secure, false, 'c.test.com has an SNI route without tls_passthrough: the echo answered, no TLS server');
  t.assert.strictEqual(echo.accepted(), before + 1, 'it went to the non-SNI route');
  t.assert.strictEqual(a.accepted(), 0, 'not to the terminated-TLS route c.test.com');
});
