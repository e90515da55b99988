// UDP with several workers (issue 7): every worker binds the listener with SO_REUSEPORT and the kernel hashes each
// client's 4-tuple to one of them, so all datagrams of a client reach the worker that holds its session. 50 clients
// (50 source ports) send 3 datagrams each at once: each gets its 3 replies, all through one upstream socket, and the
// sessions are spread over both workers (the per-worker counts of ended sessions say so).
import { test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';
import { put, waitFor } from '../fixtures/upstream-helpers.ts';
import { parseEcho, udpClient, udpCounters, udpEcho } from '../fixtures/udp.ts';

const CLIENTS = 50;
const PER_CLIENT = 3;

test('udp workers: 2 workers, 50 clients, 3 datagrams each: every reply arrives, one session per client', async (t: TestContext) => {
  t.plan(4);
  const echo = await udpEcho(t);
  const g = await startTestGateway(t, { sluice: { workers: 2, udp_session_timeout: 1 } }, { listeners: [{ proto: 'udp' }] });
  await put(g, 'stream_routes/1', { upstream: { nodes: { [echo.node]: 1 } } });
  const port = g.listenerPort();
  const clients = await Promise.all(Array.from({ length: CLIENTS }, () => udpClient(t)));
  for (const [i, c] of clients.entries()) for (let k = 0; k < PER_CLIENT; k++) c.send(`c${i}-${k}`, port);
  const results = await Promise.all(clients.map(async (c, i) => {
    const got: string[] = [];
    const vias = new Set<string>();
    for (let k = 0; k < PER_CLIENT; k++) {
      const m = await c.next(3000);
      if (m === undefined) break;
      const r = parseEcho(m.msg, m.rinfo);
      got.push(r.data);
      vias.add(r.via);
    }
    return { i, got: got.sort(), vias: vias.size };
  }));
  const missing = results.filter((r) => r.got.join() !== Array.from({ length: PER_CLIENT }, (_, k) => `c${r.i}-${k}`).join());
  t.assert.deepStrictEqual(missing, []);
  // each client's datagrams went through one session (one upstream source port), so through one worker
  t.assert.deepStrictEqual(results.filter((r) => r.vias !== 1), []);
  // once idle the sessions end (udp_session_timeout 1); then every worker's count of ended sessions is known
  const ended = await waitFor(async () => (await udpCounters(g)).sessions === CLIENTS, 4000);
  t.assert.ok(ended.ok, `${(await udpCounters(g)).sessions} of ${CLIENTS} sessions ended`);
  const perWorker = (await g.gw.pool.stats()).map((s) => s.udpSessions);
  t.assert.ok(perWorker.length === 2 && perWorker.every((n) => n > 0), `sessions per worker: ${perWorker.join(', ')}`);
});
