// Which certificate a `tls: true` listener presents (issue 6, CONTRACT §4): by the ClientHello's SNI, exact name >
// `*.x.com` (exactly one label) > `*`; `status: 0` SSLs ignored; apisix.ssl.fallback_sni for a client without SNI;
// no SNI and no fallback, or no certificate for the name → the handshake fails and nothing reaches the upstream.
// Certificate changes through the Admin API apply to the next handshake, without a restart.
import { test, type TestContext } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { startTestGateway, type TestGateway } from '../fixtures/gateway.ts';
import { sslBody, testCerts, tlsAsk, type Pem } from '../fixtures/certs.ts';
import { put, scriptedUpstream, type Upstream } from '../fixtures/upstream-helpers.ts';

const certs = testCerts();
const S = certs.server;

/** A gateway with one TLS listener, a route to an echo upstream, and the SSLs. */
async function gateway(t: TestContext, over: Record<string, unknown>, ssls: Record<string, Record<string, unknown>>): Promise<{ g: TestGateway; echo: Upstream }> {
  const echo = await scriptedUpstream(t, (s) => { s.pipe(s); });
  const g = await startTestGateway(t, over, { listeners: [{ tls: true }] });
  for (const [id, body] of Object.entries(ssls)) await put(g, `ssls/${id}`, body);
  await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [echo.node]: 1 } } });
  return { g, echo };
}

const NAMES: Record<string, Pem> = { exact: S.exact, a: S.a, wild: S.wild, any: S.any, b: S.b };

/** Which of NAMES the gateway presented for `sni` (and the echo came back), or 'fails'. */
async function served(g: TestGateway, sni: string | undefined): Promise<string> {
  const r = await tlsAsk(g.listenerPort(), { ...(sni !== undefined ? { servername: sni } : {}), send: 'ping', until: 4, timeoutMs: 3000 });
  if (!r.secure) return 'fails';
  const name = Object.entries(NAMES).find(([, p]) => p.fingerprint === r.fingerprint)?.[0] ?? `unknown ${r.fingerprint ?? ''}`;
  return r.data === 'ping' ? name : `${name} without echo`;
}

interface Case { readonly sni: string | undefined; readonly want: string; readonly why: string }

async function runTable(t: TestContext, g: TestGateway, echo: Upstream, cases: readonly Case[]): Promise<void> {
  for (const c of cases) t.assert.strictEqual(await served(g, c.sni), c.want, `${c.sni ?? '(no SNI)'}: ${c.why}`);
  t.assert.strictEqual(echo.accepted(), cases.filter((c) => c.want !== 'fails').length, 'a failed handshake never reaches the upstream');
}

test('certificate by SNI: exact > *.test.com (one label) > *; status 0 ignored; no SNI without fallback fails', async (t: TestContext) => {
  const cases: Case[] = [
    { sni: 'test.com', want: 'exact', why: 'exact name' },
    { sni: 'a.test.com', want: 'a', why: 'exact beats the wildcard' },
    { sni: 'A.Test.COM', want: 'a', why: 'names are case-insensitive' },
    { sni: 'b.test.com', want: 'wild', why: '*.test.com covers one label' },
    { sni: 'a.b.test.com', want: 'any', why: '*.test.com does not cover two labels: the * SSL' },
    { sni: 'other.org', want: 'any', why: 'no other match: the * SSL' },
    { sni: 'c.test.com', want: 'wild', why: 'the exact SSL for c.test.com has status 0' },
    { sni: 'off.org', want: 'any', why: 'the SSL for off.org has status 0' },
    { sni: undefined, want: 'fails', why: 'no SNI and no fallback_sni' },
  ];
  t.plan(cases.length + 1);
  const { g, echo } = await gateway(t, {}, {
    // created in reverse order of precedence, so that creation order cannot be what picks
    any: sslBody(S.any, '*'),
    wild: sslBody(S.wild, '*.test.com'),
    a: sslBody(S.a, 'a.test.com'),
    exact: sslBody(S.exact, 'test.com'),
    off1: sslBody(S.b, 'c.test.com', { status: 0 }),
    off2: sslBody(S.b, 'off.org', { status: 0 }),
  });
  await runTable(t, g, echo, cases);
});

test('fallback_sni serves clients without SNI; without a * SSL an unknown name fails', async (t: TestContext) => {
  const cases: Case[] = [
    { sni: undefined, want: 'exact', why: 'fallback_sni test.com' },
    { sni: 'test.com', want: 'exact', why: 'exact name' },
    { sni: 'x.test.com', want: 'wild', why: 'one label under *.test.com' },
    { sni: 'a.b.test.com', want: 'fails', why: 'two labels, and no * SSL' },
    { sni: 'other.org', want: 'fails', why: 'no certificate for the name' },
  ];
  t.plan(cases.length + 1);
  const { g, echo } = await gateway(t, { apisix: { ssl: { fallback_sni: 'test.com' } } }, {
    1: sslBody(S.exact, 'test.com'),
    2: sslBody(S.wild, '*.test.com'),
  });
  await runTable(t, g, echo, cases);
});

test('a wildcard SSL does not serve the bare domain; fallback_sni is looked up like an SNI; a * SSL with status 0 serves nothing', async (t: TestContext) => {
  const cases: Case[] = [
    { sni: 'test.com', want: 'fails', why: '*.test.com does not match test.com' },
    { sni: 'x.test.com', want: 'wild', why: 'one label' },
    { sni: undefined, want: 'wild', why: 'fallback_sni fb.test.com matches *.test.com' },
    { sni: 'other.org', want: 'fails', why: 'the * SSL has status 0' },
  ];
  t.plan(cases.length + 1);
  const { g, echo } = await gateway(t, { apisix: { ssl: { fallback_sni: 'fb.test.com' } } }, {
    1: sslBody(S.wild, '*.test.com'),
    2: sslBody(S.any, '*', { status: 0 }),
  });
  await runTable(t, g, echo, cases);
});

test('certificate changes through the Admin API apply to new handshakes; an open connection keeps going', async (t: TestContext) => {
  t.plan(10);
  const { g } = await gateway(t, {}, { 1: sslBody(S.exact, 'test.com') });
  const port = g.listenerPort();
  const fp = async (sni: string): Promise<string | undefined> => (await tlsAsk(port, { servername: sni, send: 'x', until: 1, timeoutMs: 3000 })).fingerprint;
  t.assert.strictEqual(await fp('test.com'), S.exact.fingerprint, 'the first certificate');

  // a connection made before the change
  const held = tlsConnect({ port, host: '127.0.0.1', servername: 'test.com', rejectUnauthorized: false });
  held.setEncoding('utf8');
  held.on('error', () => { /* checked through the echo below */ });
  t.after(() => { held.destroy(); });
  await new Promise((r) => held.once('secureConnect', r));

  await put(g, 'ssls/1', sslBody(S.exact2, 'test.com'));
  t.assert.strictEqual(await fp('test.com'), S.exact2.fingerprint, 'PUT: the new certificate, no restart');
  const echoed = new Promise<string>((r) => held.once('data', r));
  held.write('still here');
  t.assert.strictEqual(await echoed, 'still here', 'the connection made before the change still relays');

  await put(g, 'ssls/2', sslBody(S.b, 'b.test.com'));
  t.assert.strictEqual(await fp('b.test.com'), S.b.fingerprint, 'a new SSL serves its name at once');

  t.assert.strictEqual((await g.admin('PATCH', '/apisix/admin/ssls/1', { status: 0 })).status, 200);
  t.assert.strictEqual(await fp('test.com'), undefined, 'status 0: no certificate for test.com any more');
  await g.admin('PATCH', '/apisix/admin/ssls/1', { status: 1 });
  t.assert.strictEqual(await fp('test.com'), S.exact2.fingerprint, 'status 1 again');

  await put(g, 'ssls/1', sslBody(S.exact2, 'www.test.com'));
  t.assert.strictEqual(await fp('test.com'), undefined, 'the SSL no longer names test.com');

  t.assert.strictEqual((await g.admin('DELETE', '/apisix/admin/ssls/2')).status, 200);
  t.assert.strictEqual(await fp('b.test.com'), undefined, 'deleted SSL: b.test.com fails');
});
