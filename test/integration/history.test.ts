// GET /sluice/v1/history (issue 16, CONTRACT §7) on the embedded store: the revisions of one resource, newest first,
// with action, time and value as the Admin API shows it (private keys never); without `key`, the latest revisions of
// every resource; bad queries are 400s that say why; a store that keeps no history says so.
import { test, type TestContext } from 'node:test';
import { testCerts } from '../fixtures/certs.ts';
import { startTestGateway, VIEWER_KEY } from '../fixtures/gateway.ts';
import { put } from '../fixtures/upstream-helpers.ts';

interface Entry { revision: number; key: string; action: string; time: number; value: Record<string, unknown> | null }

test('history: a resource\'s revisions newest first (put, put, delete), values without private keys; every resource\'s latest; limits', async (t: TestContext) => {
  const g = await startTestGateway(t);
  const pem = testCerts().client.good;
  const t0 = Date.now();
  await put(g, 'stream_routes/1', { upstream: { nodes: { '127.0.0.1:1995': 1 } } });
  await put(g, 'stream_routes/1', { upstream: { nodes: { '127.0.0.1:1996': 1 } }, desc: 'second' });
  await put(g, 'upstreams/u', { scheme: 'tls', nodes: { '127.0.0.1:1997': 1 }, tls: { client_cert: pem.cert, client_key: pem.key } });
  t.assert.equal((await g.admin('DELETE', '/apisix/admin/stream_routes/1')).status, 200);

  const one = await g.admin('GET', '/sluice/v1/history?key=/apisix/stream_routes/1', undefined, { 'X-API-KEY': VIEWER_KEY });
  t.assert.equal(one.status, 200, one.text);
  const list = (one.json as { list: Entry[] }).list;
  t.assert.deepStrictEqual(list.map((e) => [e.key, e.action]), [['/apisix/stream_routes/1', 'delete'], ['/apisix/stream_routes/1', 'put'], ['/apisix/stream_routes/1', 'put']]);
  t.assert.ok((list[0]?.revision ?? 0) > (list[1]?.revision ?? 0) && (list[1]?.revision ?? 0) > (list[2]?.revision ?? 0), 'newest first');
  t.assert.equal(list[0]?.value, null, 'a delete has no value');
  t.assert.equal(list[1]?.value?.desc, 'second');
  t.assert.deepStrictEqual(list[2]?.value?.upstream, { nodes: { '127.0.0.1:1995': 1 }, type: 'roundrobin', hash_on: 'vars', scheme: 'http', pass_host: 'pass' });
  t.assert.ok(list.every((e) => e.time >= t0 - 1000 && e.time <= Date.now()), JSON.stringify(list.map((e) => e.time)));

  const all = await g.admin('GET', '/sluice/v1/history?limit=2');
  const latest = (all.json as { list: Entry[] }).list;
  t.assert.deepStrictEqual(latest.map((e) => [e.key, e.action]), [['/apisix/stream_routes/1', 'delete'], ['/apisix/upstreams/u', 'put']]);
  t.assert.ok(!all.text.includes('PRIVATE KEY') && !JSON.stringify(latest[1]?.value).includes('client_key'), 'no private key in the history');
  t.assert.equal((latest[1]?.value?.tls as { client_cert?: string } | undefined)?.client_cert, pem.cert);

  for (const q of ['?key=/apisix/nope/1', '?key=/other/stream_routes/1', '?key=/apisix/stream_routes', '?limit=0', '?limit=x', '?kye=/apisix/stream_routes/1']) {
    const r = await g.admin('GET', `/sluice/v1/history${q}`);
    t.assert.equal(r.status, 400, q);
    t.assert.match(String((r.json as { error_msg?: string }).error_msg), /^invalid history request: /, q);
  }
  const none = await g.admin('GET', '/sluice/v1/history?key=/apisix/stream_routes/never');
  t.assert.deepStrictEqual([none.status, none.json], [200, { list: [] }]);
});

test('history: the yaml store keeps none and says so', async (t: TestContext) => {
  const g = await startTestGateway(t, { deployment: { role: 'data_plane', role_data_plane: { config_provider: 'yaml' } } });
  const r = await g.admin('GET', '/sluice/v1/history');
  t.assert.deepStrictEqual([r.status, r.json], [400, { error_msg: 'the yaml store keeps no history here (only the embedded store does, so far)' }]);
});
