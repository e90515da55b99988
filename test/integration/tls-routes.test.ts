// Stream routes with `sni` / `snis` (issue 6, seed "Accept TLS over TCP connection", CONTRACT §4): matched after the
// handshake, exact > `*.x` at ANY depth (APISIX's route semantics, unlike certificates: one label) > `*`, then the
// address filters inside each group; a group whose routes' filters all fail gives way to the next; routes without
// sni serve TLS connections too, and SNI routes never serve plain TCP.
import { test, type TestContext } from 'node:test';
import { startTestGateway, type TestGateway } from '../fixtures/gateway.ts';
import { sslBody, testCerts, tlsAsk } from '../fixtures/certs.ts';
import { ask, put, scriptedUpstream } from '../fixtures/upstream-helpers.ts';

const certs = testCerts();
const S = certs.server;
const TLS_HOST = '127.0.0.2';

/** Routes (id → fields) each to an upstream that writes the route's id and closes. */
async function routes(t: TestContext, g: TestGateway, defs: Record<string, Record<string, unknown>>): Promise<void> {
  for (const [id, fields] of Object.entries(defs)) {
    const up = await scriptedUpstream(t, (s) => { s.end(id); });
    await put(g, `stream_routes/${id}`, { ...fields, upstream: { type: 'roundrobin', nodes: { [up.node]: 1 } } });
  }
}

interface Case { readonly sni: string | undefined; readonly from?: string; readonly want: string; readonly cert?: string; readonly why: string }

test('SNI routes: exact > *.test.com at any depth > *, then address filters; a group whose filters all fail gives way', async (t: TestContext) => {
  const g = await startTestGateway(t, {}, { listeners: [{ tls: true }] });
  const port = g.listenerPort();
  await put(g, 'ssls/wild', sslBody(S.wild, '*.test.com'));
  await put(g, 'ssls/any', sslBody(S.any, '*'));
  // created in reverse order of precedence, so that creation order cannot be what picks
  await routes(t, g, {
    plain: {},
    any: { sni: '*' },
    wild: { sni: '*.test.com' },
    exact: { sni: 'a.test.com' },
    list: { snis: ['x.org', 'y.org'] },
    'f-any': { sni: 'f.test.com' },
    'f-remote': { sni: 'f.test.com', remote_addr: '127.0.0.2' },
    'g-remote': { sni: 'g.test.com', remote_addr: '127.0.0.9' },
    'p-port': { sni: 'p.test.com', server_port: port },
    'q-port': { sni: 'q.test.com', server_port: port === 65535 ? 1 : port + 1 },
  });
  const cases: Case[] = [
    { sni: 'a.test.com', want: 'exact', cert: S.wild.fingerprint, why: 'exact route' },
    { sni: 'A.TEST.COM', want: 'exact', why: 'names are case-insensitive' },
    { sni: 'b.test.com', want: 'wild', why: '*.test.com, one label' },
    { sni: 'a.b.test.com', want: 'wild', cert: S.any.fingerprint, why: 'routes: *.test.com at any depth (the certificate comes from the * SSL: one label only)' },
    { sni: 'test.com', want: 'any', why: '*.test.com does not cover test.com itself' },
    { sni: 'other.org', want: 'any', why: 'no exact or wildcard route: *' },
    { sni: 'y.org', want: 'list', why: 'one of snis' },
    { sni: 'f.test.com', want: 'f-any', why: 'exact group; the remote_addr route does not match 127.0.0.1' },
    { sni: 'f.test.com', from: '127.0.0.2', want: 'f-remote', why: 'exact group; the route with a matching remote_addr is more specific' },
    { sni: 'g.test.com', want: 'wild', why: 'the only exact route filters remote_addr out: the wildcard group is next' },
    { sni: 'p.test.com', want: 'p-port', why: 'server_port matches' },
    { sni: 'q.test.com', want: 'wild', why: 'server_port does not match: the wildcard group is next' },
  ];
  t.plan(cases.length + cases.filter((c) => c.cert !== undefined).length);
  for (const c of cases) {
    const r = await tlsAsk(port, { ...(c.sni !== undefined ? { servername: c.sni } : {}), ...(c.from !== undefined ? { localAddress: c.from } : {}) });
    t.assert.strictEqual(r.data, c.want, `${c.sni ?? '(no SNI)'} from ${c.from ?? '127.0.0.1'}: ${c.why} (${r.error ?? ''})`);
    if (c.cert !== undefined) t.assert.strictEqual(r.fingerprint, c.cert, `${c.sni ?? ''}: certificate`);
  }
});

test('routes without sni serve TLS connections (with or without SNI); SNI routes never serve plain TCP', async (t: TestContext) => {
  t.plan(5);
  // two port-0 listeners need distinct hosts: the fixture tells listeners apart by proto, host and configured port
  const g = await startTestGateway(t, { apisix: { ssl: { fallback_sni: 'test.com' } } }, { listeners: [{ tls: true, host: TLS_HOST }, {}] });
  await put(g, 'ssls/1', sslBody(S.exact, 'test.com'));
  await put(g, 'ssls/2', sslBody(S.any, '*'));
  await routes(t, g, { exact: { sni: 'a.test.com' }, plain: {} });
  const tlsPort = g.listenerPort(0);
  t.assert.strictEqual((await tlsAsk(tlsPort, { host: TLS_HOST, servername: 'a.test.com' })).data, 'exact');
  t.assert.strictEqual((await tlsAsk(tlsPort, { host: TLS_HOST, servername: 'other.org' })).data, 'plain', 'no SNI route matches: the plain route');
  t.assert.strictEqual((await tlsAsk(tlsPort, { host: TLS_HOST })).data, 'plain', 'no SNI (fallback_sni for the certificate): the plain route');
  t.assert.strictEqual((await ask(g.listenerPort(1))).data, 'plain', 'plain TCP on a plain listener: the plain route');
  await g.admin('DELETE', '/apisix/admin/stream_routes/plain');
  const r = await ask(g.listenerPort(1), { timeoutMs: 3000 });
  t.assert.deepStrictEqual([r.data, r.closed], ['', true], 'plain TCP with only an SNI route: no route, closed with no byte');
});
