// Health checks over real connections (issue 5), read through the Control API and through where traffic goes.
// Upstreams answer with their own `host:port`. Intervals are 1 s (the schema's minimum).
// - active tcp: a dead node is unhealthy within 2 intervals of the upstream's creation (before any connection), traffic
//   avoids it, the snapshot is not rebuilt for it; a server started on its port brings it back after `successes`;
// - active http: 500 → unhealthy (http_failure counted), 200 → healthy again;
// - passive: connect failures of real traffic mark a node (probes succeed all along, on another port);
// - every node unhealthy: traffic still uses them all (APISIX's rule).
import { createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { test, type TestContext } from 'node:test';
import { startTestGateway, type TestGateway } from '../fixtures/gateway.ts';
import {
  askMany, control, deadPort, nodeStatus, put, tally, upstream, upstreams, waitFor, WITH_CONTROL, type Upstream,
} from '../fixtures/upstream-helpers.ts';

const SLACK_MS = 400;

function gateway(t: TestContext): Promise<TestGateway> {
  return startTestGateway(t, WITH_CONTROL, { listeners: [{}] });
}

test('health active tcp: a dead node is unhealthy within 2 intervals, avoided, and back after a server returns', async (t: TestContext) => {
  t.plan(8);
  const live = await upstream(t);
  const deadP = await deadPort();
  const g = await gateway(t);
  const t0 = performance.now();
  await put(g, 'upstreams/u1', {
    type: 'roundrobin', retries: 0,
    nodes: { [live.node]: 1, [`127.0.0.1:${deadP}`]: 1 },
    checks: { active: { type: 'tcp', healthy: { interval: 1, successes: 2 }, unhealthy: { interval: 1, tcp_failures: 2 } } },
  });
  await put(g, 'stream_routes/1', { upstream_id: 'u1' });
  const version = g.gw.builder.current?.version;
  // the checker runs before any connection was made
  const down = await waitFor(async () => (await nodeStatus(g, 'u1', deadP)) === 'unhealthy', 2000 + SLACK_MS);
  t.assert.ok(down.ok, `still ${await nodeStatus(g, 'u1', deadP)} after ${down.ms.toFixed(0)} ms`);
  t.assert.ok(performance.now() - t0 <= 2000 + SLACK_MS, `unhealthy after ${(performance.now() - t0).toFixed(0)} ms`);
  t.assert.equal(g.gw.builder.current?.version, version, 'a health change does not rebuild the snapshot');
  // retries: 0, so a pick of the dead node would close a client with no byte
  t.assert.deepStrictEqual(tally(await askMany(g.listenerPort(), 6)), { [live.node]: 6 });
  // a server on the dead port: healthy again after 2 successes, one interval apart
  const back = await upstream(t, { port: deadP });
  const t1 = performance.now();
  const up = await waitFor(async () => (await nodeStatus(g, 'u1', deadP)) === 'healthy', 3000 + SLACK_MS);
  t.assert.ok(up.ok, `still ${await nodeStatus(g, 'u1', deadP)} after ${up.ms.toFixed(0)} ms`);
  t.assert.ok(performance.now() - t1 <= 3000 + SLACK_MS);
  const replies = await askMany(g.listenerPort(), 6);
  t.assert.deepStrictEqual(tally(replies), { [live.node]: 3, [back.node]: 3 });
  // counters are not cleared by the move (lua-resty-healthcheck): the 2 successes that brought it back
  const node = ((await control(g, '/v1/healthcheck/upstreams/u1')).json as { nodes: { port: number; counter: Record<string, number> }[] }).nodes.find((n) => n.port === deadP);
  t.assert.deepStrictEqual(node?.counter, { success: 2, tcp_failure: 0, timeout_failure: 0, http_failure: 0 });
});

/**
 * A node that answers health probes and traffic on one port: a connection whose first bytes are `GET ` gets an HTTP
 * response with the current status; one that sends nothing for 100 ms gets the node's `host:port`.
 */
async function httpNode(t: TestContext, status: { code: number }): Promise<Upstream & { probes(): number }> {
  let probes = 0;
  const socks = new Set<Socket>();
  const srv = createServer((s) => {
    socks.add(s);
    s.on('close', () => socks.delete(s));
    s.on('error', () => undefined);
    const timer = setTimeout(() => s.end(node), 100);
    s.once('data', (d: Buffer) => {
      clearTimeout(timer);
      if (d.subarray(0, 4).toString() === 'GET ') {
        probes++;
        s.end(`HTTP/1.1 ${status.code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      } else s.end(node);
    });
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  const node = `127.0.0.1:${port}`;
  let accepted = 0;
  srv.on('connection', () => { accepted++; });
  const close = async (): Promise<void> => {
    for (const s of socks) s.destroy();
    srv.close();
    await once(srv, 'close');
  };
  t.after(close);
  return { host: '127.0.0.1', port, node, accepted: () => accepted, open: () => socks.size, close, probes: () => probes };
}

test('health active http: 500 → unhealthy with http_failure counted, traffic avoids it; 200 → healthy again', async (t: TestContext) => {
  t.plan(6);
  const okStatus = { code: 200 };
  const flaky = { code: 500 };
  const a = await httpNode(t, okStatus);
  const h = await httpNode(t, flaky);
  const g = await gateway(t);
  await put(g, 'upstreams/web', {
    type: 'roundrobin',
    nodes: { [a.node]: 1, [h.node]: 1 },
    checks: { active: { type: 'http', http_path: '/healthz', healthy: { interval: 1, successes: 2 }, unhealthy: { interval: 1, http_failures: 2 } } },
  });
  await put(g, 'stream_routes/1', { upstream_id: 'web' });
  const down = await waitFor(async () => (await nodeStatus(g, 'web', h.port)) === 'unhealthy', 2000 + SLACK_MS);
  t.assert.ok(down.ok, `after ${down.ms.toFixed(0)} ms: ${await nodeStatus(g, 'web', h.port)}`);
  const node = ((await control(g, '/v1/healthcheck/upstreams/web')).json as { nodes: { port: number; counter: Record<string, number> }[] }).nodes.find((n) => n.port === h.port);
  t.assert.deepStrictEqual(node?.counter, { success: 0, tcp_failure: 0, timeout_failure: 0, http_failure: 2 });
  t.assert.deepStrictEqual(tally(await askMany(g.listenerPort(), 4)), { [a.node]: 4 });
  flaky.code = 200;
  const up = await waitFor(async () => (await nodeStatus(g, 'web', h.port)) === 'healthy', 3000 + SLACK_MS);
  t.assert.ok(up.ok, `after ${up.ms.toFixed(0)} ms: ${await nodeStatus(g, 'web', h.port)}`);
  t.assert.deepStrictEqual(tally(await askMany(g.listenerPort(), 4)), { [a.node]: 2, [h.node]: 2 });
  t.assert.ok(h.probes() >= 4, `${h.probes()} probes`);
});

test('health passive: connect failures of real traffic mark a node unhealthy; traffic then avoids it', async (t: TestContext) => {
  t.plan(5);
  const live = await upstream(t);
  const probeTarget = await upstream(t); // active probes of both nodes go here (checks.active.port) and succeed
  const deadP = await deadPort();
  const g = await gateway(t);
  await put(g, 'upstreams/p', {
    type: 'roundrobin', retries: 0,
    nodes: { [live.node]: 1, [`127.0.0.1:${deadP}`]: 1 },
    checks: {
      active: { type: 'tcp', port: probeTarget.port, healthy: { interval: 60 }, unhealthy: { interval: 60 } },
      passive: { unhealthy: { tcp_failures: 2 } },
    },
  });
  await put(g, 'stream_routes/1', { upstream_id: 'p' });
  // the first probes (successes) have run: both nodes' probes go to probeTarget
  t.assert.ok((await waitFor(() => probeTarget.accepted() >= 2, 3000)).ok, 'both nodes were probed');
  t.assert.equal(await nodeStatus(g, 'p', deadP), 'healthy');
  // roundrobin alternates: the dead node's picks fail (retries: 0) and are reported
  t.assert.deepStrictEqual(await askMany(g.listenerPort(), 4), [live.node, '', live.node, '']);
  const down = await waitFor(async () => (await nodeStatus(g, 'p', deadP)) === 'unhealthy', 1000);
  t.assert.ok(down.ok, `after ${down.ms.toFixed(0)} ms: ${await nodeStatus(g, 'p', deadP)}`);
  t.assert.deepStrictEqual(tally(await askMany(g.listenerPort(), 6)), { [live.node]: 6 });
});

test('health: every node unhealthy → traffic still uses all of them (APISIX\'s rule)', async (t: TestContext) => {
  t.plan(4);
  const [a, b] = await upstreams(t, 2);
  if (a === undefined || b === undefined) throw new Error('no upstreams');
  const deadP = await deadPort();
  const g = await gateway(t);
  await put(g, 'upstreams/all', {
    type: 'roundrobin',
    nodes: { [a.node]: 1, [b.node]: 1 },
    // probes go to a port where nothing listens: both nodes fail them
    checks: { active: { type: 'tcp', port: deadP, healthy: { interval: 1 }, unhealthy: { interval: 1, tcp_failures: 1 } } },
  });
  await put(g, 'stream_routes/1', { upstream_id: 'all' });
  const down = await waitFor(async () => (await nodeStatus(g, 'all', a.port)) === 'unhealthy' && (await nodeStatus(g, 'all', b.port)) === 'unhealthy', 2000);
  t.assert.ok(down.ok);
  t.assert.deepStrictEqual(tally(await askMany(g.listenerPort(), 4)), { [a.node]: 2, [b.node]: 2 });
  t.assert.deepStrictEqual([a.accepted(), b.accepted()], [2, 2]);
  // and it is counted (issue 5: "all unhealthy → use all nodes anyway, and count it")
  const status = await g.admin('GET', '/sluice/v1/status');
  t.assert.equal((status.json as { picks_with_every_node_unhealthy: number }).picks_with_every_node_unhealthy, 4);
});
