// Issue 9, etcd killed for 10 s under traffic, two gateways on it (deployment.etcd.timeout: 2):
// - sessions streaming through both gateways are not cut, and every byte comes back intact;
// - new connections keep being proxied with the last snapshot;
// - Admin API writes get a clear 503 within the timeout and write nothing (reads go to etcd too: 503);
// - after etcd returns (same data dir, same ports), a new write on A is in force on B within 2 s of the return.
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { test, type TestContext } from 'node:test';
import { startEtcd, startEtcdGateway } from '../fixtures/etcd.ts';
import { ask, scriptedUpstream, sleep, upstream, waitFor } from '../fixtures/upstream-helpers.ts';

const OUTAGE_MS = 10_000;

interface Stream {
  /** Bytes echoed back so far. */
  received(): number;
  /** Half-closes, waits for the echo to finish, and reports both digests and whether the session ended early. */
  finish(): Promise<{ sent: string; got: string; sentBytes: number; gotBytes: number; cutEarly: boolean }>;
}

/** A client that writes 1 KiB of random bytes every 20 ms through `port` (to an echo upstream) and hashes both ways. */
function stream(t: TestContext, port: number): Stream {
  const c = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.1', allowHalfOpen: true });
  const sent = createHash('sha256');
  const got = createHash('sha256');
  let sentBytes = 0;
  let gotBytes = 0;
  let ending = false;
  let cutEarly = false;
  const timer = setInterval(() => {
    const chunk = randomBytes(1024);
    sent.update(chunk);
    sentBytes += chunk.length;
    c.write(chunk);
  }, 20);
  const closed = new Promise<void>((resolve) => c.on('close', () => { clearInterval(timer); if (!ending) cutEarly = true; resolve(); }));
  c.on('data', (d: Buffer) => { got.update(d); gotBytes += d.length; });
  c.on('error', () => { /* reported through cutEarly */ });
  t.after(() => { clearInterval(timer); c.destroy(); });
  return {
    received: () => gotBytes,
    async finish() {
      ending = true;
      clearInterval(timer);
      c.end();
      let giveUp: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise((r) => { giveUp = setTimeout(r, 5000); })]);
      clearTimeout(giveUp);
      return { sent: sent.digest('hex'), got: got.digest('hex'), sentBytes, gotBytes, cutEarly };
    },
  };
}

test('etcd killed for 10 s under traffic: sessions survive, writes get 503, both gateways converge on its return', async (t: TestContext) => {
  t.plan(18);
  const etcd = await startEtcd(t);
  const echo = await scriptedUpstream(t, (s) => { s.pipe(s); });
  const [named, later] = [await upstream(t), await upstream(t)];
  const a = await startEtcdGateway(t, etcd, { timeout: 2 });
  const b = await startEtcdGateway(t, etcd, { timeout: 2 });
  await a.admin('PUT', '/apisix/admin/stream_routes/1', { remote_addr: '127.0.0.1', upstream: { nodes: { [echo.node]: 1 } } });
  await a.admin('PUT', '/apisix/admin/stream_routes/2', { remote_addr: '127.0.0.2', upstream: { nodes: { [named.node]: 1 } } });
  const ready = await waitFor(async () => (await ask(b.listenerPort(), { localAddress: '127.0.0.2' })).data === named.node, 2000);
  if (!ready.ok) throw new Error('B never saw the routes written through A');

  const streams = [stream(t, a.listenerPort()), stream(t, b.listenerPort())];
  await waitFor(() => streams.every((s) => s.received() > 0), 2000);
  const before = streams.map((s) => s.received());
  await etcd.kill();
  const killedAt = performance.now();

  // New connections on both gateways, served from the last snapshot.
  for (const g of [a, b]) t.assert.equal((await ask(g.listenerPort(), { localAddress: '127.0.0.2' })).data, named.node);

  // Writes: a clear 503 within deployment.etcd.timeout (2 s), whatever the method.
  const t0 = performance.now();
  const put = await a.admin('PUT', '/apisix/admin/stream_routes/9', { remote_addr: '127.0.0.9', upstream: { nodes: { [named.node]: 1 } } });
  const putMs = performance.now() - t0;
  t.assert.equal(put.status, 503);
  t.assert.match((put.json as { error_msg?: string } | undefined)?.error_msg ?? '', /etcd is unreachable/);
  t.assert.ok(putMs < 2000, `503 after ${Math.round(putMs)} ms`);
  const post = await b.admin('POST', '/apisix/admin/upstreams', { nodes: { [named.node]: 1 } });
  const del = await b.admin('DELETE', '/apisix/admin/stream_routes/2');
  t.assert.deepEqual([post.status, del.status], [503, 503]);
  // Reads are not served from the snapshot: they go to etcd and fail the same way (docs/etcd.md says so).
  t.assert.equal((await a.admin('GET', '/apisix/admin/stream_routes/1')).status, 503);

  await sleep(OUTAGE_MS - (performance.now() - killedAt));
  const during = streams.map((s, i) => s.received() - (before[i] ?? 0));
  t.assert.ok(during.every((n) => n > 100_000), `bytes kept flowing through both gateways while etcd was down: ${during.join(', ')}`);
  await etcd.start();
  const back = performance.now();

  // Nothing of the refused writes reached etcd.
  t.assert.equal(await etcd.kv('/apisix/stream_routes/9'), undefined);
  t.assert.ok(await etcd.kv('/apisix/stream_routes/2'), 'the refused DELETE deleted nothing');

  // A new write on A, in force on A and on B within 2 s of etcd's return.
  const again = await a.admin('PUT', '/apisix/admin/stream_routes/3', { remote_addr: '127.0.0.3', upstream: { nodes: { [later.node]: 1 } } });
  const putAnswered = performance.now() - back;
  t.assert.equal(again.status, 201, again.text);
  const onB = await waitFor(async () => (await ask(b.listenerPort(), { localAddress: '127.0.0.3', timeoutMs: 1000 })).data === later.node, 3000);
  const fromReturn = performance.now() - back - (onB.ok ? 0 : Infinity);
  t.assert.ok(onB.ok && fromReturn < 2000, `B in step ${Math.round(fromReturn)} ms after etcd's return`);
  t.diagnostic(`etcd back → new write on A in force on B: ${fromReturn.toFixed(0)} ms (A's PUT answered after ${Math.round(putAnswered)} ms)`);
  t.assert.equal((await ask(a.listenerPort(), { localAddress: '127.0.0.3' })).data, later.node);
  t.assert.equal((await b.admin('GET', '/apisix/admin/stream_routes/9')).status, 404);

  // The sessions that lived through the outage: never cut, every byte echoed back unchanged.
  const [ra, rb] = await Promise.all(streams.map((s) => s.finish()));
  for (const r of [ra, rb]) {
    t.assert.ok(r !== undefined && !r.cutEarly && r.gotBytes === r.sentBytes, `session kept: sent ${r?.sentBytes}, got ${r?.gotBytes}, cut early: ${r?.cutEarly}`);
    t.assert.equal(r?.got, r?.sent, 'bytes intact');
  }
});
