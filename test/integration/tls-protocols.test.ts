// ssls[].ssl_protocols (issue 14): each SSL's handshakes use only the TLS versions it lists; without the key,
// APISIX's default (TLSv1.2, TLSv1.3). Driven with `openssl s_client -tls1_x`; a refused version is the gateway's
// doing (the client offers only that version) and never reaches the upstream. A change applies to the next handshake.
import { test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';
import { sClient, sslBody, testCerts } from '../fixtures/certs.ts';
import { endReasons, put, scriptedUpstream } from '../fixtures/upstream-helpers.ts';

const certs = testCerts();
const S = certs.server;
// TLSv1.1 signs with SHA-1: the client side, too, must allow it (OpenSSL 3 security level 0)
const FLAG = { 'TLSv1.1': ['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0'], 'TLSv1.2': ['-tls1_2'], 'TLSv1.3': ['-tls1_3'] } as const;
type Version = keyof typeof FLAG;

test('ssl_protocols: each SSL accepts exactly the versions it lists; the default is TLSv1.2 and TLSv1.3; a change applies live', { timeout: 60_000 }, async (t: TestContext) => {
  const echo = await scriptedUpstream(t, (s) => { s.pipe(s); });
  const g = await startTestGateway(t, {}, { listeners: [{ tls: true }] });
  await put(g, 'ssls/only13', sslBody(S.a, 'a.test.com', { ssl_protocols: ['TLSv1.3'] }));
  await put(g, 'ssls/only12', sslBody(S.b, 'b.test.com', { ssl_protocols: ['TLSv1.2'] }));
  await put(g, 'ssls/default', sslBody(S.exact, 'test.com'));
  await put(g, 'ssls/gap', sslBody(S.wild, '*.test.com', { ssl_protocols: ['TLSv1.1', 'TLSv1.3'] }));
  await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [echo.node]: 1 } } });

  const tries = async (sni: string): Promise<Record<Version, boolean>> => {
    const out = {} as Record<Version, boolean>;
    for (const v of Object.keys(FLAG) as Version[]) {
      const line = `${sni} over ${v}\n`;
      const r = await sClient(g.listenerPort(), ['-servername', sni, '-brief', ...FLAG[v]], line);
      out[v] = r.code === 0 && r.stdout.includes(line);
    }
    return out;
  };
  t.assert.deepStrictEqual(await tries('a.test.com'), { 'TLSv1.1': false, 'TLSv1.2': false, 'TLSv1.3': true });
  t.assert.deepStrictEqual(await tries('b.test.com'), { 'TLSv1.1': false, 'TLSv1.2': true, 'TLSv1.3': false });
  t.assert.deepStrictEqual(await tries('test.com'), { 'TLSv1.1': false, 'TLSv1.2': true, 'TLSv1.3': true });
  // a version left out between two listed ones is off too
  t.assert.deepStrictEqual(await tries('c.test.com'), { 'TLSv1.1': true, 'TLSv1.2': false, 'TLSv1.3': true });
  // 12 tries, 6 refused at the handshake: none of those reached the upstream
  t.assert.deepStrictEqual(await endReasons(g), { Done: 6, HandshakeFailed: 6 });
  t.assert.equal(echo.accepted(), 6);

  await put(g, 'ssls/only13', sslBody(S.a, 'a.test.com', { ssl_protocols: ['TLSv1.2'] }));
  t.assert.deepStrictEqual(await tries('a.test.com'), { 'TLSv1.1': false, 'TLSv1.2': true, 'TLSv1.3': false });
});
