// Issue 9, APISIX interoperability: APISIX-shaped JSON written straight into etcd (etcdctl, the way APISIX or an
// operator writes it) is proxied; an invalid value and APISIX's other keys under the prefix are skipped and logged while
// the rest applies; the Admin API reports etcd's own revisions; what Sluice writes is APISIX-shaped in etcd.
import { test, type TestContext } from 'node:test';
import { captureLogger, freePort, startEtcd, startEtcdGateway } from '../fixtures/etcd.ts';
import { item, listOf } from '../fixtures/admin-helpers.ts';
import { ask, upstream, waitFor } from '../fixtures/upstream-helpers.ts';

/** A stream route as APISIX 3.x stores it (defaults filled, timestamps inside). */
function apisixRoute(id: string, node: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    id, create_time: 1764000000, update_time: 1764000000, ...extra,
    upstream: { nodes: { [node]: 1 }, type: 'roundrobin', hash_on: 'vars', scheme: 'http', pass_host: 'pass' },
  });
}

test('etcd interop: APISIX-shaped values written with etcdctl are proxied; bad and foreign keys are skipped and logged', async (t: TestContext) => {
  t.plan(9);
  const etcd = await startEtcd(t);
  const [one, two] = [await upstream(t), await upstream(t)];
  // What an APISIX etcd holds besides stream routes: its init_dir placeholders, HTTP routes, and a broken stream route.
  await etcd.ctl(['put', '/apisix/stream_routes/', 'init_dir']);
  await etcd.ctl(['put', '/apisix/routes/1', JSON.stringify({ id: '1', uri: '/hello', upstream: { nodes: { [one.node]: 1 }, type: 'roundrobin' } })]);
  await etcd.ctl(['put', '/apisix/stream_routes/1', apisixRoute('1', one.node, { remote_addr: '127.0.0.1' })]);
  await etcd.ctl(['put', '/apisix/stream_routes/bad', JSON.stringify({ id: 'bad', remote_addr: '127.0.0.5', upstream: { nodes: 'nope' } })]);
  await etcd.ctl(['put', '/apisix/stream_routes/junk', '{not json']);
  const { log, lines } = captureLogger();
  const g = await startEtcdGateway(t, etcd, { log });

  t.assert.equal((await ask(g.listenerPort(), { localAddress: '127.0.0.1' })).data, one.node, 'the route listed at start proxies');
  // A value written after the start arrives through the watch.
  await etcd.ctl(['put', '/apisix/stream_routes/2', apisixRoute('2', two.node, { remote_addr: '127.0.0.2' })]);
  const live = await waitFor(async () => (await ask(g.listenerPort(), { localAddress: '127.0.0.2' })).data === two.node, 2000);
  t.assert.ok(live.ok, `a route put with etcdctl proxies within 2 s (${Math.round(live.ms)} ms)`);
  t.assert.equal((await ask(g.listenerPort(), { localAddress: '127.0.0.5', timeoutMs: 2000 })).data, '', 'the invalid route is not in force');

  const msgs = (): string[] => lines.map((l) => `${String(l.msg)} ${JSON.stringify(l.item ?? l.key ?? '')}`);
  t.assert.ok(msgs().some((m) => /skipped invalid stream_routes item/.test(m) && m.includes('/apisix/stream_routes/bad')), msgs().join('\n'));
  t.assert.ok(msgs().some((m) => /not a JSON object/.test(m) && m.includes('/apisix/stream_routes/junk')), msgs().join('\n'));
  t.assert.ok(msgs().some((m) => /\/apisix\/routes\/ is not a stream resource/.test(m)), msgs().join('\n'));
  t.assert.ok(!msgs().some((m) => m.includes('init_dir') || /stream_routes\/ .*not a JSON object/.test(m)), 'init_dir is not an error');

  // The Admin API lists only the stream routes that are JSON objects (the bad one is stored, so it is listed).
  const list = await g.admin('GET', '/apisix/admin/stream_routes');
  t.assert.deepEqual(listOf(list).list.map((i) => i.value.id).sort(), ['1', '2', 'bad']);
  const routes = await g.admin('GET', '/apisix/admin/routes');
  t.assert.equal(routes.status, 404, 'HTTP routes are not a Sluice resource');
});

test('etcd interop: createdIndex / modifiedIndex are etcd\'s create_revision / mod_revision', async (t: TestContext) => {
  t.plan(6);
  const etcd = await startEtcd(t);
  const up = await upstream(t);
  const g = await startEtcdGateway(t, etcd);
  await etcd.ctl(['put', '/apisix/stream_routes/7', apisixRoute('7', up.node)]);
  await etcd.ctl(['put', '/apisix/upstreams/u', JSON.stringify({ id: 'u', nodes: { [up.node]: 1 }, type: 'roundrobin' })]);
  await etcd.ctl(['put', '/apisix/stream_routes/7', apisixRoute('7', up.node, { desc: 'changed' })]);
  const kv = await etcd.kv('/apisix/stream_routes/7');
  const got = await g.admin('GET', '/apisix/admin/stream_routes/7');
  t.assert.equal(got.status, 200);
  t.assert.deepEqual([item(got).createdIndex, item(got).modifiedIndex], [kv?.createRevision, kv?.modRevision]);
  t.assert.ok((kv?.modRevision ?? 0) > (kv?.createRevision ?? 0), 'the second put moved mod_revision only');
  t.assert.equal(item(got).value.desc, 'changed');

  // And the other way: what the Admin API writes is APISIX's shape at APISIX's key, with the revisions it reported.
  const put = await g.admin('PUT', '/apisix/admin/stream_routes/8', { upstream_id: 'u', server_port: 9100 });
  const raw = await etcd.kv('/apisix/stream_routes/8');
  const value = JSON.parse(raw?.value ?? '{}') as Record<string, unknown>;
  t.assert.deepEqual(Object.keys(value).sort(), ['create_time', 'id', 'server_port', 'update_time', 'upstream_id']);
  const again = await g.admin('GET', '/apisix/admin/stream_routes/8');
  t.assert.deepEqual([put.status, item(again).createdIndex, item(again).modifiedIndex], [201, raw?.createRevision, raw?.modRevision]);
});

test('etcd interop: ?ttl=2 is an etcd lease: the route leaves etcd and the data plane', async (t: TestContext) => {
  t.plan(5);
  const etcd = await startEtcd(t);
  const up = await upstream(t);
  const g = await startEtcdGateway(t, etcd);
  const put = await g.admin('PUT', '/apisix/admin/stream_routes/t?ttl=2', { upstream: { nodes: { [up.node]: 1 } } });
  t.assert.equal(put.status, 201);
  const lease = await etcd.call<{ kvs?: { lease?: string }[] }>('/v3/kv/range', { key: Buffer.from('/apisix/stream_routes/t').toString('base64') });
  t.assert.ok(Number(lease.kvs?.[0]?.lease ?? 0) !== 0, 'the key is attached to a lease');
  t.assert.equal((await ask(g.listenerPort())).data, up.node, 'in force while the lease lives');
  const t0 = performance.now();
  const gone = await waitFor(async () => (await etcd.kv('/apisix/stream_routes/t')) === undefined, 5000);
  t.assert.ok(gone.ok && performance.now() - t0 > 1000, `gone from etcd after the ttl (${Math.round(gone.ms)} ms)`);
  const off = await waitFor(async () => (await ask(g.listenerPort(), { timeoutMs: 1000 })).data === '', 1000);
  t.assert.ok(off.ok, 'and no longer proxied');
});

test('etcd interop: a dead first endpoint fails over to the live one (start, writes, watch)', async (t: TestContext) => {
  t.plan(3);
  const etcd = await startEtcd(t);
  const [one, two] = [await upstream(t), await upstream(t)];
  const dead = `http://127.0.0.1:${await freePort()}`;
  const g = await startEtcdGateway(t, etcd, { hosts: [dead, etcd.url] });
  const put = await g.admin('PUT', '/apisix/admin/stream_routes/1', { remote_addr: '127.0.0.1', upstream: { nodes: { [one.node]: 1 } } });
  t.assert.equal(put.status, 201);
  t.assert.equal((await ask(g.listenerPort(), { localAddress: '127.0.0.1' })).data, one.node);
  await etcd.ctl(['put', '/apisix/stream_routes/2', apisixRoute('2', two.node, { remote_addr: '127.0.0.2' })]);
  const live = await waitFor(async () => (await ask(g.listenerPort(), { localAddress: '127.0.0.2' })).data === two.node, 2000);
  t.assert.ok(live.ok, 'the watch follows the live endpoint');
});
