// `scheme: tls` upstreams (issue 6, seed "Proxy to TLS over TCP upstream", CONTRACT §4): the gateway speaks TLS to
// the node with SNI = the client's SNI when the client spoke TLS, else `apisix_backend`; a client certificate inline
// (tls.client_cert/client_key) or by client_cert_id (a `type: client` SSL); the node's certificate is not verified
// unless tls.verify, then against apisix.ssl.ssl_trusted_certificate.
import { test, type TestContext } from 'node:test';
import { startTestGateway, type TestGateway } from '../fixtures/gateway.ts';
import { sslBody, testCerts, tlsAsk, tlsServer, type TlsServer } from '../fixtures/certs.ts';
import { ask, put } from '../fixtures/upstream-helpers.ts';

const certs = testCerts();
const S = certs.server;
const C = certs.client;
/** Two port-0 listeners need distinct hosts: the fixture tells listeners apart by proto, host and configured port. */
const TLS_HOST = '127.0.0.2';

/** listener 0: TLS on TLS_HOST (test.com, and fallback_sni test.com); listener 1: plain TCP on 127.0.0.1. */
async function gateway(t: TestContext, over: Record<string, unknown> = {}): Promise<TestGateway> {
  const g = await startTestGateway(t, { apisix: { ssl: { fallback_sni: 'test.com', ...((over.ssl as object | undefined) ?? {}) } } }, {
    listeners: [{ tls: true, host: TLS_HOST }, {}],
  });
  await put(g, 'ssls/1', sslBody(S.exact, 'test.com'));
  await put(g, 'ssls/2', sslBody(S.any, '*'));
  return g;
}

function tlsUpstream(node: TlsServer, tls?: Record<string, unknown>): Record<string, unknown> {
  return { type: 'roundrobin', scheme: 'tls', nodes: { [node.node]: 1 }, ...(tls !== undefined ? { tls } : {}) };
}

/** What a client gets through the gateway: plain TCP on listener 1, or TLS with `sni` on listener 0. */
async function through(g: TestGateway, client: 'plain' | { sni: string | undefined }): Promise<string> {
  if (client === 'plain') return (await ask(g.listenerPort(1), { timeoutMs: 3000 })).data;
  return (await tlsAsk(g.listenerPort(0), { host: TLS_HOST, ...(client.sni !== undefined ? { servername: client.sni } : {}), timeoutMs: 3000 })).data;
}

test('scheme tls: SNI to the node is the client\'s SNI, else apisix_backend', async (t: TestContext) => {
  const cases = [
    { client: 'plain' as const, want: 'hello apisix_backend', why: 'a plain TCP client' },
    { client: { sni: 'test.com' }, want: 'hello test.com', why: 'a TLS client with SNI test.com' },
    { client: { sni: 'Other.ORG' }, want: 'hello other.org', why: 'a TLS client with another SNI (as the gateway read it)' },
    { client: { sni: undefined }, want: 'hello apisix_backend', why: 'a TLS client without SNI (served by fallback_sni)' },
  ];
  t.plan(cases.length + 1);
  const node = await tlsServer(t, S.exact);
  const g = await gateway(t);
  await put(g, 'stream_routes/1', { upstream: tlsUpstream(node) });
  for (const c of cases) t.assert.strictEqual(await through(g, c.client), c.want, c.why);
  t.assert.deepStrictEqual(node.servernames, ['apisix_backend', 'test.com', 'other.org', 'apisix_backend']);
});

test('scheme tls: a node that requires a client certificate gets one inline or by client_cert_id, and refuses none or a foreign one', async (t: TestContext) => {
  const cases = [
    { tls: { client_cert: C.good.cert, client_key: C.good.key }, want: 'hello apisix_backend', why: 'inline client_cert/client_key' },
    { tls: { client_cert_id: 'client' }, want: 'hello apisix_backend', why: 'client_cert_id of a type client SSL' },
    { tls: undefined, want: '', why: 'no client certificate: the node refuses, the client gets nothing' },
    { tls: { client_cert: C.foreign.cert, client_key: C.foreign.key }, want: '', why: 'a client certificate from another CA: refused' },
  ];
  t.plan(cases.length * 2 + 1);
  const node = await tlsServer(t, S.exact, { clientCa: certs.ca.cert });
  const g = await gateway(t);
  await put(g, 'ssls/client', { type: 'client', cert: C.good.cert, key: C.good.key });
  let handshakes = 0;
  for (const c of cases) {
    await put(g, 'stream_routes/1', { upstream: tlsUpstream(node, c.tls) });
    t.assert.strictEqual(await through(g, 'plain'), c.want, `plain client: ${c.why}`);
    t.assert.strictEqual(await through(g, { sni: 'test.com' }), c.want.replace('apisix_backend', 'test.com'), `TLS client: ${c.why}`);
    if (c.want !== '') handshakes += 2;
  }
  t.assert.strictEqual(node.servernames.length, handshakes, 'the node completed a handshake only with a good client certificate');
});

test('scheme tls: the node\'s certificate is checked only with tls.verify, against ssl_trusted_certificate', async (t: TestContext) => {
  const cases = [
    { node: 'trusted', verify: true, want: 'hello test.com', why: 'signed by the trusted CA, for test.com' },
    { node: 'foreign', verify: true, want: '', why: 'signed by another CA: refused' },
    { node: 'foreign', verify: false, want: 'hello test.com', why: 'verify off (APISIX\'s default): not checked' },
    { node: 'foreign', verify: undefined, want: 'hello test.com', why: 'verify absent: off' },
  ];
  t.plan(cases.length + 1);
  const nodes: Record<string, TlsServer> = { trusted: await tlsServer(t, S.exact), foreign: await tlsServer(t, S.foreign) };
  // an absolute path (a relative one resolves against the prefix, which the fixture makes when it starts)
  const g = await gateway(t, { ssl: { ssl_trusted_certificate: certs.ca.certFile } });
  for (const c of cases) {
    const node = nodes[c.node] as TlsServer;
    await put(g, 'stream_routes/1', { upstream: tlsUpstream(node, c.verify !== undefined ? { verify: c.verify } : undefined) });
    t.assert.strictEqual(await through(g, { sni: 'test.com' }), c.want, `${c.node} node, verify ${String(c.verify)}: ${c.why}`);
  }
  t.assert.deepStrictEqual([nodes.trusted?.servernames.length, nodes.foreign?.servernames.length], [1, 2], 'the refused node never completed a handshake');
});
