// TLS termination on a `tls: true` listener (issue 6, seed "Accept TLS over TCP connection"): `openssl s_client`
// and Node's tls.connect through the gateway to an echo upstream, verifying the gateway's certificate against the
// test CA; TLS 1.2 and 1.3; an SSL with an RSA and an ECDSA certificate (APISIX's certs/keys) serves each to the
// client that asks for it.
import { test, type TestContext } from 'node:test';
import { startTestGateway, type TestGateway } from '../fixtures/gateway.ts';
import { sClient, sslBody, testCerts, tlsAsk } from '../fixtures/certs.ts';
import { endReasons, put, scriptedUpstream, type Upstream } from '../fixtures/upstream-helpers.ts';

const certs = testCerts();
const S = certs.server;

async function echoUpstream(t: TestContext): Promise<Upstream> {
  return scriptedUpstream(t, (s) => { s.pipe(s); });
}

/** A TLS gateway with a route (no sni) to `up` and the given SSLs. */
async function tlsGateway(t: TestContext, up: Upstream, ssls: readonly Record<string, unknown>[]): Promise<TestGateway> {
  const g = await startTestGateway(t, {}, { listeners: [{ tls: true }] });
  for (const [i, body] of ssls.entries()) await put(g, `ssls/${i + 1}`, body);
  await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [up.node]: 1 } } });
  return g;
}

test('openssl s_client -servername test.com through the gateway: verified certificate, a line echoed back', async (t: TestContext) => {
  t.plan(5);
  const echo = await echoUpstream(t);
  const g = await tlsGateway(t, echo, [sslBody(S.exact, 'test.com')]);
  const r = await sClient(g.listenerPort(), ['-servername', 'test.com', '-CAfile', certs.ca.certFile, '-verify_return_error', '-verify_hostname', 'test.com', '-brief'], 'hello through sluice\n');
  t.assert.strictEqual(r.code, 0, r.stderr);
  t.assert.ok(r.stdout.includes('hello through sluice\n'), `echoed: ${JSON.stringify(r.stdout)}`);
  t.assert.match(r.stderr, /Verification: OK/);
  t.assert.match(r.stderr, /Peer certificate: CN ?= ?test\.com/);
  t.assert.deepStrictEqual(await endReasons(g), { Done: 1 });
});

test('openssl s_client with an SNI no SSL serves: the handshake fails, nothing reaches the upstream', async (t: TestContext) => {
  t.plan(3);
  const echo = await echoUpstream(t);
  const g = await tlsGateway(t, echo, [sslBody(S.exact, 'test.com')]);
  const r = await sClient(g.listenerPort(), ['-servername', 'nope.example', '-brief'], 'x\n');
  t.assert.notStrictEqual(r.code, 0);
  t.assert.strictEqual(echo.accepted(), 0);
  t.assert.deepStrictEqual(await endReasons(g), { HandshakeFailed: 1 });
});

for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
  test(`node tls.connect (${version}, SNI test.com) through the gateway: authorized against the CA, echoed`, async (t: TestContext) => {
    t.plan(4);
    const echo = await echoUpstream(t);
    const g = await tlsGateway(t, echo, [sslBody(S.exact, 'test.com')]);
    const r = await tlsAsk(g.listenerPort(), { servername: 'test.com', ca: certs.ca.cert, maxVersion: version, send: 'ping\n', end: true });
    t.assert.strictEqual(r.error, undefined);
    t.assert.strictEqual(r.authorized, true);
    t.assert.strictEqual(r.data, 'ping\n');
    t.assert.strictEqual(r.closed, true, 'the FIN went through the upstream and back');
  });
}

test('an SSL with an ECDSA cert and an RSA one in certs/keys: each client gets the certificate it can verify', async (t: TestContext) => {
  const cases = [
    { sigalgs: 'ecdsa_secp256r1_sha256', want: S.exact.fingerprint },
    { sigalgs: 'rsa_pss_rsae_sha256', want: S.rsa.fingerprint },
    { sigalgs: 'rsa_pkcs1_sha256', maxVersion: 'TLSv1.2' as const, want: S.rsa.fingerprint },
  ];
  t.plan(cases.length * 2);
  const echo = await echoUpstream(t);
  const g = await tlsGateway(t, echo, [sslBody(S.exact, 'test.com', { certs: [S.rsa.cert], keys: [S.rsa.key] })]);
  for (const c of cases) {
    const r = await tlsAsk(g.listenerPort(), { servername: 'test.com', ca: certs.ca.cert, sigalgs: c.sigalgs, ...(c.maxVersion ? { maxVersion: c.maxVersion } : {}), send: 'x', end: true });
    t.assert.strictEqual(r.fingerprint, c.want, `${c.sigalgs}: ${r.error ?? ""}`);
    t.assert.strictEqual(r.data, 'x');
  }
});

test('two certificates of the same key type in one SSL: the later one is served (APISIX), the SSL is not dropped', async (t: TestContext) => {
  t.plan(2);
  const echo = await echoUpstream(t);
  const g = await tlsGateway(t, echo, [sslBody(S.exact, 'test.com', { certs: [S.exact2.cert], keys: [S.exact2.key] })]);
  const r = await tlsAsk(g.listenerPort(), { servername: 'test.com', ca: certs.ca.cert, send: 'x', end: true });
  t.assert.strictEqual(r.fingerprint, S.exact2.fingerprint);
  t.assert.strictEqual(r.data, 'x');
});
