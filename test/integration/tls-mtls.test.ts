// mTLS on a `tls: true` listener (issue 6, CONTRACT §4): an SSL with `client: {ca, depth}` requires a client
// certificate from that CA, in the handshake, with at most `depth` intermediate CAs between it and the CA (OpenSSL's
// verify depth, which nginx's ssl_verify_depth and APISIX's client.depth set: default 1, so one intermediate passes);
// a missing, foreign or too deep one fails it and no byte is proxied. SNIs without `client` never ask for one.
// Session resumption must not skip the check: a session from another SNI, or from a handshake that the check
// refused, does not get a client in.
import { test, type TestContext } from 'node:test';
import type { SecureVersion } from 'node:tls';
import { startTestGateway, type TestGateway } from '../fixtures/gateway.ts';
import { sslBody, testCerts, tlsAsk, type Pem, type TlsReply } from '../fixtures/certs.ts';
import { endReasons, put, scriptedUpstream, type Upstream } from '../fixtures/upstream-helpers.ts';

const certs = testCerts();
const S = certs.server;
const C = certs.client;
/** The deep client's leaf alone, without the intermediate that links it to the CA. */
const deepLeafOnly: Pem = { ...C.deep, cert: C.deep.cert.slice(0, C.deep.cert.indexOf('-----END CERTIFICATE-----') + 26) };

/**
 * test.com: no mTLS; mtls.test.com: client CA with the default depth (1); flat.test.com: depth 0 (signed by the CA
 * itself); deep.test.com: depth 2. The clients send their intermediates.
 */
async function mtlsGateway(t: TestContext): Promise<{ g: TestGateway; echo: Upstream }> {
  const echo = await scriptedUpstream(t, (s) => { s.pipe(s); });
  const g = await startTestGateway(t, {}, { listeners: [{ tls: true }] });
  await put(g, 'ssls/plain', sslBody(S.exact, 'test.com'));
  await put(g, 'ssls/mtls', sslBody(S.mtls, 'mtls.test.com', { client: { ca: certs.ca.cert } }));
  await put(g, 'ssls/flat', sslBody(S.mtls, 'flat.test.com', { client: { ca: certs.ca.cert, depth: 0 } }));
  await put(g, 'ssls/deep', sslBody(S.mtls, 'deep.test.com', { client: { ca: certs.ca.cert, depth: 2 } }));
  await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [echo.node]: 1 } } });
  return { g, echo };
}

function ask(g: TestGateway, sni: string, client: Pem | undefined, version: SecureVersion, session?: Buffer): Promise<TlsReply> {
  return tlsAsk(g.listenerPort(), {
    servername: sni, ...(client !== undefined ? { cert: client.cert, key: client.key } : {}), maxVersion: version,
    ...(session !== undefined ? { session } : {}), send: 'ping', until: 4, timeoutMs: 3000,
  });
}

const cases: { sni: string; client: Pem | undefined; ok: boolean; why: string }[] = [
  { sni: 'mtls.test.com', client: C.good, ok: true, why: 'a client certificate from the CA' },
  { sni: 'mtls.test.com', client: undefined, ok: false, why: 'no client certificate' },
  { sni: 'mtls.test.com', client: C.foreign, ok: false, why: 'a client certificate from another CA' },
  { sni: 'mtls.test.com', client: C.deep, ok: true, why: 'one intermediate: within the default depth 1' },
  { sni: 'mtls.test.com', client: C.deeper, ok: false, why: 'two intermediates > depth 1' },
  { sni: 'mtls.test.com', client: deepLeafOnly, ok: false, why: 'a leaf without the intermediate that links it to the CA' },
  { sni: 'flat.test.com', client: C.good, ok: true, why: 'signed by the CA itself: depth 0 is enough' },
  { sni: 'flat.test.com', client: C.deep, ok: false, why: 'one intermediate > depth 0' },
  { sni: 'deep.test.com', client: C.deeper, ok: true, why: 'two intermediates within depth 2' },
  { sni: 'deep.test.com', client: C.good, ok: true, why: 'no intermediate, depth 2' },
  { sni: 'deep.test.com', client: C.foreign, ok: false, why: 'another CA' },
  { sni: 'test.com', client: undefined, ok: true, why: 'an SNI without client.ca asks for nothing' },
  { sni: 'test.com', client: C.foreign, ok: true, why: 'an SNI without client.ca checks nothing' },
];

for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
  test(`mTLS (${version}): client certificates by CA and depth; a refused client gets no byte through`, async (t: TestContext) => {
    t.plan(cases.length + 2);
    const { g, echo } = await mtlsGateway(t);
    for (const c of cases) {
      const r = await ask(g, c.sni, c.client, version);
      t.assert.strictEqual(r.data === 'ping', c.ok, `${c.sni}: ${c.why} (got ${JSON.stringify(r.data)}, ${r.error ?? 'no error'})`);
    }
    const good = cases.filter((c) => c.ok).length;
    t.assert.strictEqual(echo.accepted(), good, 'only accepted clients reach the upstream');
    t.assert.deepStrictEqual(await endReasons(g), { Done: good, HandshakeFailed: cases.length - good });
  });

  test(`mTLS (${version}): a session from a non-mTLS SNI resumes there, but not on the mTLS SNI`, async (t: TestContext) => {
    t.plan(5);
    const { g, echo } = await mtlsGateway(t);
    const first = await ask(g, 'test.com', undefined, version);
    t.assert.ok(first.data === 'ping' && first.session !== undefined, 'a session from test.com');
    const again = await ask(g, 'test.com', undefined, version, first.session);
    t.assert.deepStrictEqual([again.data, again.reused], ['ping', true], 'it resumes on test.com (the ticket is good)');
    const other = await ask(g, 'mtls.test.com', undefined, version, first.session);
    t.assert.strictEqual(other.data, '', `no byte through on mtls.test.com without a client certificate (${other.error ?? ''})`);
    t.assert.strictEqual(other.reused, false, 'the session was not resumed there');
    t.assert.strictEqual(echo.accepted(), 2);
  });

  test(`mTLS (${version}): the mTLS SNI never resumes a session: every connection shows its certificate again`, async (t: TestContext) => {
    // mTLS contexts issue no session tickets (certs.ts), so CA and depth are verified in full on every connection.
    t.plan(4);
    const { g } = await mtlsGateway(t);
    const first = await ask(g, 'mtls.test.com', C.good, version);
    t.assert.strictEqual(first.data, 'ping', 'a good certificate gets through');
    const bare = await ask(g, 'mtls.test.com', undefined, version, first.session);
    t.assert.strictEqual(bare.data, '', `offering the old session without a certificate gets nothing through (${bare.error ?? ''})`);
    const withCert = await ask(g, 'mtls.test.com', C.good, version, first.session);
    t.assert.strictEqual(withCert.data, 'ping', 'with the certificate again it works');
    t.assert.strictEqual(withCert.reused, false, 'by a full handshake');
  });

  test(`mTLS (${version}): a session handed out by a handshake that the depth check refused does not get in later`, async (t: TestContext) => {
    t.plan(3);
    const { g, echo } = await mtlsGateway(t);
    const refused = await ask(g, 'mtls.test.com', C.deeper, version);
    t.assert.strictEqual(refused.data, '', 'two intermediates > depth 1: refused');
    const later = await ask(g, 'mtls.test.com', undefined, version, refused.session);
    t.assert.strictEqual(later.data, '', `resuming ${refused.session === undefined ? '(no session was handed out)' : 'its session'} gets nothing through either`);
    t.assert.strictEqual(echo.accepted(), 0);
  });
}
