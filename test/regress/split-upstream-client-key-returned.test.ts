// Regression (issue 15, found by the OpenAPI answer checks): a traffic-split inline upstream's tls.client_key was
// returned in full by the Admin API (PUT and GET answers) and stored in plain text, because only a resource's own
// `upstream` had its key encrypted and hidden. Now every upstream a stream route or service carries is treated alike.
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { testCerts } from '../fixtures/certs.ts';
import { rawFiles } from '../fixtures/data-dir.ts';
import { startTestGateway } from '../fixtures/gateway.ts';

test('a traffic-split inline upstream\'s client_key is never returned and not on disk in plain text', async (t: TestContext) => {
  const certs = testCerts();
  const pem = certs.client.good;
  const body = (pem.key.split('\n').find((l) => l !== '' && !l.startsWith('-----')) ?? '').slice(0, 40);
  const split = {
    'traffic-split': { rules: [{ weighted_upstreams: [
      { upstream: { type: 'roundrobin', scheme: 'tls', nodes: { '127.0.0.1:1995': 1 }, tls: { client_cert: pem.cert, client_key: pem.key } }, weight: 1 },
      { weight: 1 },
    ] }] },
  };
  const g = await startTestGateway(t);
  const up = { nodes: { '127.0.0.1:1996': 1 } };
  const answers = [
    await g.admin('PUT', '/apisix/admin/stream_routes/1', { plugins: split, upstream: up }),
    await g.admin('PUT', '/apisix/admin/services/1', { plugins: split, upstream: up }),
    await g.admin('PATCH', '/apisix/admin/services/1', { desc: 'patched' }),
    await g.admin('GET', '/apisix/admin/stream_routes/1'),
    await g.admin('GET', '/apisix/admin/stream_routes'),
    await g.admin('GET', '/apisix/admin/services/1'),
  ];
  for (const a of answers) {
    t.assert.ok(a.status === 200 || a.status === 201, `${a.status} ${a.text.slice(0, 200)}`);
    t.assert.ok(!a.text.includes('PRIVATE KEY') && !a.text.includes(body), `no key in ${a.text.slice(0, 160)}`);
  }
  const got = (answers[3]?.json as { value: { plugins: typeof split } }).value.plugins['traffic-split'].rules[0]?.weighted_upstreams[0]?.upstream?.tls;
  t.assert.deepStrictEqual([got?.client_cert, 'client_key' in (got ?? {})], [pem.cert, false], 'the certificate is there, its key is not');
  const raw = rawFiles(path.join(g.prefix, 'data'));
  t.assert.ok(raw.includes('traffic-split'), 'the store files were read and hold the route');
  t.assert.ok(!raw.includes('PRIVATE KEY') && !raw.includes(body), 'no private key under the data dir');
});
