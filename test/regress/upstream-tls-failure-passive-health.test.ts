// Regression (issue 14): with `scheme: tls`, a node that accepts TCP but fails the TLS handshake was never reported
// to passive health (the TCP connect had already counted as a success, which also reset its failure count), so it
// stayed healthy and kept getting sessions. A failed upstream handshake is now the node's failure: with
// tcp_failures: 2, two failed sessions mark it unhealthy and new sessions go to the node that speaks TLS.
import { createServer } from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';
import { testCerts, tlsServer } from '../fixtures/certs.ts';
import { askMany, nodeStatus, put, tally, upstream, waitFor, WITH_CONTROL } from '../fixtures/upstream-helpers.ts';

test('upstream TLS: a node whose handshake fails counts as failed for passive health and is then avoided', async (t: TestContext) => {
  const certs = testCerts();
  const good = await tlsServer(t, certs.server.exact, { onSecure: (s) => { s.resume(); s.end('tls node'); } });
  // accepts TCP, answers the ClientHello with bytes that are not TLS, and closes
  const plain = createServer((s) => { s.on('error', () => { /* reset by the gateway */ }); s.end('not tls at all\r\n'); });
  plain.listen(0, '127.0.0.1');
  await once(plain, 'listening');
  t.after(() => plain.close());
  const plainPort = (plain.address() as AddressInfo).port;
  const probe = await upstream(t); // active probes (tcp) go here and succeed: only traffic can mark a node
  const g = await startTestGateway(t, WITH_CONTROL, { listeners: [{}] });
  await put(g, 'upstreams/u', {
    type: 'roundrobin', scheme: 'tls', retries: 0,
    nodes: { [good.node]: 1, [`127.0.0.1:${plainPort}`]: 1 },
    checks: {
      active: { type: 'tcp', port: probe.port, healthy: { interval: 60 }, unhealthy: { interval: 60 } },
      passive: { unhealthy: { tcp_failures: 2 } },
    },
  });
  await put(g, 'stream_routes/1', { upstream_id: 'u' });
  t.assert.equal(await nodeStatus(g, 'u', plainPort), 'healthy');
  // roundrobin alternates: the plain node's sessions fail at the handshake (retries: 0), the TLS node answers
  const first = await askMany(g.listenerPort(), 4);
  t.assert.deepStrictEqual(tally(first), { 'tls node': 2, '': 2 });
  const down = await waitFor(async () => (await nodeStatus(g, 'u', plainPort)) === 'unhealthy', 2000);
  t.assert.ok(down.ok, `the plain node is ${await nodeStatus(g, 'u', plainPort)}`);
  t.assert.deepStrictEqual(tally(await askMany(g.listenerPort(), 6)), { 'tls node': 6 });
  t.assert.equal(await nodeStatus(g, 'u', good.port), 'healthy');
});
