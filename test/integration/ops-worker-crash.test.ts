// A data-plane worker that dies (issue 8): in a gateway with 2 workers, worker 0 dies of an uncaught exception.
// New connections succeed throughout (the kernel sends them to the live worker's listener, then to both again); the
// dead worker is restarted (`workers_restarted: 1`); exactly the sessions it held when it died are cut and counted as
// lost; and the restarted worker has the latest config: a write after the restart is in force on every connection,
// over both workers. The dead worker's sessions also leave the per-node counts that least_conn reads.
import { test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';
import { openSession, type EchoSession } from '../fixtures/load.ts';
import { delay, echoServer, talk } from '../fixtures/servers.ts';
import { put, waitFor } from '../fixtures/upstream-helpers.ts';

const HELD = 20;
/** Client connections running at once during the crash, and the bound on the whole traffic loop. */
const PARALLEL = 4;
const MAX_ROUNDS = 20_000;
const AFTER = 60;

interface Status { workers: number; workers_restarted: number; sessions_lost_with_a_worker: number; tcp: { active: number }; ended_by_reason: Record<string, number> }

test('worker crash: the other worker serves, the dead one restarts with the latest config, its sessions count as lost', { timeout: 30_000 }, async (t: TestContext) => {
  t.plan(7);
  const e1 = await echoServer(t);
  const e2 = await echoServer(t);
  const g = await startTestGateway(t, { sluice: { workers: 2 } }, { listeners: [{}] });
  const port = g.listenerPort();
  await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [e1.node]: 1 } } });
  const status = async (): Promise<Status> => (await g.admin('GET', '/sluice/v1/status')).json as Status;

  // Sessions held open across the crash: the kernel spreads them over both workers' listeners.
  const held: EchoSession[] = [];
  for (let i = 0; i < HELD; i++) held.push(await openSession(t, port));
  const hello = await Promise.all(held.map((s, i) => s.say(`held-${i}`)));
  t.assert.deepStrictEqual(hello, held.map((_, i) => `held-${i}`));

  // Traffic that runs through the crash and the restart: PARALLEL clients, one short echo session after another.
  let stop = false;
  const failures: string[] = [];
  /** When each failure's connection was started (performance.now()). */
  const failedAt: number[] = [];
  let ok = 0;
  let rounds = 0;
  const client = async (k: number): Promise<void> => {
    while (!stop && rounds < MAX_ROUNDS) {
      rounds++;
      const want = `c${k}-${rounds}`;
      const began = performance.now();
      const r = await talk(port, { send: want, timeoutMs: 3000 });
      if (r.data.toString() === want && r.closed && r.error === undefined) ok++;
      else {
        failures.push(`${want}: got ${JSON.stringify(r.data.toString())} closed=${r.closed} error=${r.error ?? '-'}`);
        failedAt.push(began);
      }
    }
  };
  const clients = Array.from({ length: PARALLEL }, (_, k) => client(k));
  await delay(200);
  const crashAt = performance.now();
  g.gw.pool.crashForTest(0);
  const restarted = await waitFor(async () => (await status()).workers_restarted === 1, 5000);
  await delay(300);
  stop = true;
  await Promise.all(clients);
  t.assert.ok(restarted.ok, `the dead worker was restarted (${restarted.ms.toFixed(0)} ms)`);
  t.assert.ok(ok >= 50, `${ok} connections made through the crash and the restart`);

  // The sessions cut are exactly the ones counted as lost: the held ones that were on the dead worker, and the short
  // ones it was serving when it died (at most one per client); every other connection succeeded, the other held
  // sessions go on, and no connection met a worker without the config (NoRoute).
  for (let i = 0; i < 100 && held.filter((s) => s.state().closed).length === 0; i++) await delay(10);
  const cut = held.filter((s) => s.state().closed).length;
  const live = held.filter((s) => !s.state().closed);
  const answers = await Promise.all(live.map((s) => s.say('still here')));
  const st = await status();
  // Bounds on lost: every held session cut counts, and so does every short one closed with a FIN and no echo (an
  // accepted socket the dying thread closed); a reset short one may instead have waited in the dead worker's accept
  // queue (never a session). A short session whose client already had its echo and FIN may still have been open in
  // the worker: lost counts it too. So: cut + FIN-closed ≤ lost ≤ cut + one per client. The resets are not bounded
  // per client (a client's next connection can land in the dying listener's queue too; seen: two for one client),
  // but they happen only at the crash: every failed connection was started within 2 s of it.
  const lost = st.sessions_lost_with_a_worker;
  const finClosed = failures.filter((f) => f.endsWith('error=-')).length;
  t.assert.deepStrictEqual(
    {
      workers: st.workers, lostCoversTheCut: lost >= cut + finClosed && lost <= cut + PARALLEL,
      cutAtMostOnePerClient: finClosed <= PARALLEL, failedOnlyAtTheCrash: failedAt.every((a) => a >= crashAt - 3000 && a <= crashAt + 2000),
      noRoute: st.ended_by_reason.NoRoute, liveAnswers: answers.filter((a) => a !== 'still here'),
    },
    { workers: 2, lostCoversTheCut: true, cutAtMostOnePerClient: true, failedOnlyAtTheCrash: true, noRoute: 0, liveAnswers: [] },
    `lost ${lost}; ${cut} of ${HELD} held sessions and ${failures.length} of ${ok + failures.length} short ones were cut: ${failures.join('; ')}`,
  );
  await Promise.all(live.map((s) => s.end()));
  const drained = await waitFor(async () => (await status()).tcp.active === 0, 3000);
  t.assert.ok(drained.ok, 'the gateway-wide active count is back to 0 (the dead worker\'s sessions were taken out)');

  // A write after the restart is in force on every worker: every new connection goes to e2, through both workers.
  const before = await g.gw.pool.stats();
  await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [e2.node]: 1 } } });
  const e1Before = e1.connections();
  const replies: string[] = [];
  for (let i = 0; i < AFTER; i++) replies.push((await talk(port, { send: `after-${i}` })).data.toString());
  const after = await g.gw.pool.stats();
  t.assert.deepStrictEqual(
    { replies, e2: e2.connections(), e1: e1.connections() - e1Before },
    { replies: Array.from({ length: AFTER }, (_, i) => `after-${i}`), e2: AFTER, e1: 0 },
  );
  const perWorker = after.map((s, i) => s.sessions - (before[i]?.sessions ?? 0));
  t.assert.ok(perWorker.length === 2 && perWorker.every((n) => n > 0), `new sessions per worker: ${perWorker.join(', ')}`);
});

test('worker crash: the dead worker\'s sessions leave the per-node counts too (least_conn is not skewed after it)', { timeout: 30_000 }, async (t: TestContext) => {
  t.plan(4);
  const a = await echoServer(t);
  const b = await echoServer(t);
  const g = await startTestGateway(t, { sluice: { workers: 2 } }, { listeners: [{}] });
  const port = g.listenerPort();
  await put(g, 'upstreams/1', { type: 'least_conn', nodes: { [a.node]: 1 } });
  await put(g, 'stream_routes/1', { upstream_id: '1' });
  // HELD sessions on node a, spread by the kernel over both workers; worker 0 dies with its share.
  const held: EchoSession[] = [];
  for (let i = 0; i < HELD; i++) held.push(await openSession(t, port));
  t.assert.deepStrictEqual((await Promise.all(held.map((s) => s.say('x')))).join(''), 'x'.repeat(HELD));
  g.gw.pool.crashForTest(0);
  const restarted = await waitFor(async () => ((await g.admin('GET', '/sluice/v1/status')).json as Status).workers_restarted === 1, 5000);
  t.assert.ok(restarted.ok, 'restarted');
  await Promise.all(held.filter((s) => !s.state().closed).map((s) => s.end()));
  await waitFor(async () => ((await g.admin('GET', '/sluice/v1/status')).json as Status).tcp.active === 0, 3000);
  // Nothing is open now: with node b added, least_conn must share new held sessions evenly between a and b.
  const r = await g.admin('PATCH', '/apisix/admin/upstreams/1/nodes', { [a.node]: 1, [b.node]: 1 });
  t.assert.strictEqual(r.status, 200, r.text);
  const a0 = a.connections();
  const b0 = b.connections();
  const next: EchoSession[] = [];
  for (let i = 0; i < 10; i++) {
    const s = await openSession(t, port);
    await s.say('y');
    next.push(s);
  }
  t.assert.deepStrictEqual([a.connections() - a0, b.connections() - b0], [5, 5], 'least_conn sees no session of the dead worker');
  await Promise.all(next.map((s) => s.end()));
});
