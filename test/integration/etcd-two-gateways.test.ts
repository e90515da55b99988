// Issue 9, two gateways sharing one etcd: a write through A's Admin API is in force on B within 2 s (CONTRACT §3),
// measured from A's answer; POST ids from both never collide (they are revisions of <prefix>/gen_id, as APISIX);
// every item one gateway writes, the other one reads back with the same revisions.
import { test, type TestContext } from 'node:test';
import { startEtcd, startEtcdGateway } from '../fixtures/etcd.ts';
import { item } from '../fixtures/admin-helpers.ts';
import { ask, upstream, waitFor } from '../fixtures/upstream-helpers.ts';

test('two gateways: a route written through A proxies on B within 2 s, and a delete on B stops it on A', async (t: TestContext) => {
  t.plan(5);
  const etcd = await startEtcd(t);
  const up = await upstream(t);
  const [a, b] = [await startEtcdGateway(t, etcd), await startEtcdGateway(t, etcd)];
  t.assert.equal((await ask(b.listenerPort(), { timeoutMs: 2000 })).data, '', 'B has no route yet');
  const put = await a.admin('PUT', '/apisix/admin/stream_routes/1', { upstream: { nodes: { [up.node]: 1 } } });
  t.assert.equal(put.status, 201);
  const onB = await waitFor(async () => (await ask(b.listenerPort())).data === up.node, 2000);
  t.assert.ok(onB.ok, `in force on B ${Math.round(onB.ms)} ms after A answered`);
  t.diagnostic(`A→B propagation: ${onB.ms.toFixed(1)} ms`);
  const del = await b.admin('DELETE', '/apisix/admin/stream_routes/1');
  t.assert.equal(del.status, 200);
  const offA = await waitFor(async () => (await ask(a.listenerPort(), { timeoutMs: 1000 })).data === '', 2000);
  t.assert.ok(offA.ok, `B's delete is in force on A (${Math.round(offA.ms)} ms)`);
});

test('two gateways: concurrent POSTs on A and B get distinct ids, each readable on the other gateway', async (t: TestContext) => {
  t.plan(4);
  const etcd = await startEtcd(t);
  const [a, b] = [await startEtcdGateway(t, etcd), await startEtcdGateway(t, etcd)];
  const posts = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b)
    .admin('POST', '/apisix/admin/upstreams', { nodes: { '127.0.0.1:1980': 1 }, desc: `from ${i % 2 === 0 ? 'A' : 'B'}` })));
  t.assert.deepEqual([...new Set(posts.map((p) => p.status))], [201]);
  const ids = posts.map((p) => item(p).value.id);
  t.assert.equal(new Set(ids).size, 40, 'no id handed out twice');
  t.assert.ok(ids.every((id) => /^\d{20}$/.test(id)), '20-digit ids');
  // Read each one back through the gateway that did not write it, with the revisions etcd holds.
  let same = 0;
  for (let i = 0; i < ids.length; i++) {
    const other = i % 2 === 0 ? b : a;
    const got = await other.admin('GET', `/apisix/admin/upstreams/${ids[i] ?? ''}`);
    const kv = await etcd.kv(`/apisix/upstreams/${ids[i] ?? ''}`);
    const posted = posts[i];
    if (got.status === 200 && posted !== undefined && item(got).modifiedIndex === kv?.modRevision && item(got).value.desc === item(posted).value.desc) same++;
  }
  t.assert.equal(same, 40);
});
