// Issue 9, compaction while a gateway is away: gateway B reaches etcd through a TCP link the test can cut. With B's
// link cut (its watch broken, its data plane serving the last snapshot), A changes a route, deletes one and adds one;
// etcd is compacted past B's revision; the link comes back. B's watch cannot resume from its revision, so B must list
// everything again: it ends up with exactly A's config (the delete included), which a resumed watch could not give.
// And a gateway that was stopped meanwhile starts from a full list.
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { captureLogger, startEtcd, startEtcdGateway } from '../fixtures/etcd.ts';
import { ask, upstream, waitFor } from '../fixtures/upstream-helpers.ts';

interface Link {
  readonly url: string;
  /** Destroys every open connection and refuses (accept + destroy) new ones until restore(). */
  cut(): void;
  restore(): void;
}

/** A TCP relay on 127.0.0.1:0 to `target`, closed in t.after. */
async function link(t: TestContext, target: number): Promise<Link> {
  const socks = new Set<Socket>();
  let up = true;
  const srv = createServer((c) => {
    if (!up) { c.destroy(); return; }
    const u = connect(target, '127.0.0.1');
    for (const s of [c, u]) {
      socks.add(s);
      s.on('error', () => { /* a cut resets both sides */ });
      s.on('close', () => { socks.delete(s); c.destroy(); u.destroy(); });
    }
    c.pipe(u);
    u.pipe(c);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(async () => {
    for (const s of socks) s.destroy();
    srv.close();
    await once(srv, 'close');
  });
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    cut: () => { up = false; for (const s of socks) s.destroy(); },
    restore: () => { up = true; },
  };
}

const route = (addr: string, node: string): Record<string, unknown> => ({ remote_addr: addr, upstream: { nodes: { [node]: 1 } } });

test('compaction while B is cut off: B lists everything again on its return and runs exactly A\'s config', async (t: TestContext) => {
  t.plan(8);
  const etcd = await startEtcd(t);
  const [x, y, z] = [await upstream(t), await upstream(t), await upstream(t)];
  const l = await link(t, etcd.clientPort);
  const a = await startEtcdGateway(t, etcd);
  const { log, lines } = captureLogger();
  const b = await startEtcdGateway(t, { url: l.url }, { log });
  await a.admin('PUT', '/apisix/admin/stream_routes/1', route('127.0.0.1', x.node));
  await a.admin('PUT', '/apisix/admin/stream_routes/2', route('127.0.0.2', x.node));
  const synced = await waitFor(async () => (await ask(b.listenerPort(), { localAddress: '127.0.0.2' })).data === x.node, 2000);
  if (!synced.ok) throw new Error('B never saw the first routes');

  l.cut();
  await a.admin('PUT', '/apisix/admin/stream_routes/1', route('127.0.0.1', y.node));
  await a.admin('DELETE', '/apisix/admin/stream_routes/2');
  await a.admin('PUT', '/apisix/admin/stream_routes/3', route('127.0.0.3', z.node));
  for (let i = 0; i < 20; i++) await a.admin('PUT', '/apisix/admin/upstreams/churn', { nodes: { [x.node]: i + 1 } });
  const rev = await etcd.revision();
  await etcd.compact(rev);
  // B is cut off: it keeps proxying what it had, and cannot write.
  t.assert.equal((await ask(b.listenerPort(), { localAddress: '127.0.0.1' })).data, x.node, 'B serves its last snapshot');
  t.assert.equal((await b.admin('PUT', '/apisix/admin/stream_routes/4', route('127.0.0.4', x.node))).status, 503);

  l.restore();
  const back = await waitFor(async () => (await ask(b.listenerPort(), { localAddress: '127.0.0.3', timeoutMs: 1000 })).data === z.node, 4000);
  t.assert.ok(back.ok, `B resynced within ${Math.round(back.ms)} ms of the link's return`);
  const resync = lines.find((r) => r.msg === 'config watch lost its place; listing the store again');
  t.assert.match(String(resync?.reason), new RegExp(`compacted up to revision ${rev}`), 'through a resync, not a resumed watch');
  t.assert.equal((await ask(b.listenerPort(), { localAddress: '127.0.0.1' })).data, y.node, 'the changed route');
  t.assert.equal((await ask(b.listenerPort(), { localAddress: '127.0.0.2', timeoutMs: 1000 })).data, '', 'the deleted route is gone');
  // B follows the store again after its resync: a new write on A arrives through B's new watch.
  await a.admin('PUT', '/apisix/admin/stream_routes/1', route('127.0.0.1', z.node));
  const live = await waitFor(async () => (await ask(b.listenerPort(), { localAddress: '127.0.0.1' })).data === z.node, 2000);
  t.assert.ok(live.ok, 'B watches again after the resync');
  t.assert.equal(b.gw.builder.current?.version, await etcd.revision(), 'B\'s snapshot is at etcd\'s revision');
});

test('compaction while B is stopped: B starts from a full list and proxies the latest config', async (t: TestContext) => {
  t.plan(3);
  const etcd = await startEtcd(t);
  const [x, y] = [await upstream(t), await upstream(t)];
  const a = await startEtcdGateway(t, etcd);
  let b = await startEtcdGateway(t, etcd);
  await a.admin('PUT', '/apisix/admin/stream_routes/1', route('127.0.0.1', x.node));
  await waitFor(async () => (await ask(b.listenerPort())).data === x.node, 2000);
  await b.close();
  await a.admin('PUT', '/apisix/admin/stream_routes/1', route('127.0.0.1', y.node));
  await a.admin('PUT', '/apisix/admin/stream_routes/2', route('127.0.0.2', y.node));
  await etcd.compact(await etcd.revision());
  b = await startEtcdGateway(t, etcd);
  t.assert.equal((await ask(b.listenerPort(), { localAddress: '127.0.0.1' })).data, y.node);
  t.assert.equal((await ask(b.listenerPort(), { localAddress: '127.0.0.2' })).data, y.node);
  t.assert.equal(b.gw.builder.current?.version, await etcd.revision());
});
