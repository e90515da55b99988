// A data-plane worker stuck in a runaway loop (issue 14), not dead: its event loop stops turning, so its heartbeat
// (a counter it bumps every 250 ms in shared memory) stops too. The primary notices after WORKER_STUCK_MS (5 s),
// terminates it and starts a new one; the sessions it held are cut and counted as lost; new connections are served
// by the other worker meanwhile and by both after.
import { test, type TestContext } from 'node:test';
import { HEARTBEAT_MS, WORKER_STUCK_MS } from '../../src/dataplane/state/stats.ts';
import { startTestGateway } from '../fixtures/gateway.ts';
import { openSession, type EchoSession } from '../fixtures/load.ts';
import { echoServer, talk } from '../fixtures/servers.ts';
import { put, waitFor } from '../fixtures/upstream-helpers.ts';

interface Status { workers_restarted: number; sessions_lost_with_a_worker: number }

test('worker stuck in a loop: replaced after its heartbeat stops for 5 s, its sessions cut and counted as lost, the gateway serving throughout', { timeout: 40_000 }, async (t: TestContext) => {
  const echo = await echoServer(t);
  const g = await startTestGateway(t, { sluice: { workers: 2 } }, { listeners: [{}] });
  const port = g.listenerPort();
  await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [echo.node]: 1 } } });
  const status = async (): Promise<Status> => (await g.admin('GET', '/sluice/v1/status')).json as Status;

  // sessions held open over both workers (the kernel spreads them)
  const held: EchoSession[] = [];
  for (let i = 0; i < 20; i++) held.push(await openSession(t, port));
  t.assert.deepStrictEqual(await Promise.all(held.map((s, i) => s.say(`h${i}`))), held.map((_, i) => `h${i}`));

  const t0 = performance.now();
  g.gw.pool.hangForTest(0);
  // still stuck well before the bound: nothing replaced it for another reason
  t.assert.ok((await waitFor(async () => (await status()).workers_restarted === 1, WORKER_STUCK_MS - 1500)).ok === false, 'not replaced before its heartbeat was silent long enough');
  const replaced = await waitFor(async () => (await status()).workers_restarted === 1, WORKER_STUCK_MS + 5000);
  const ms = performance.now() - t0;
  t.assert.ok(replaced.ok, `replaced after ${ms.toFixed(0)} ms`);
  // its last beat can be up to one heartbeat before the hang began (t0 is taken before the hang is asked for)
  t.assert.ok(ms >= WORKER_STUCK_MS - HEARTBEAT_MS, `replaced after ${ms.toFixed(0)} ms, not before its heartbeat had been silent ${WORKER_STUCK_MS} ms`);

  // the stuck worker's sessions are cut, the other worker's go on; the cut ones are the ones counted as lost (the
  // clients see their closes one by one: wait until as many have closed as were counted)
  const closed = (): number => held.filter((s) => s.state().closed).length;
  const settled = await waitFor(async () => { const lost = (await status()).sessions_lost_with_a_worker; return lost > 0 && closed() === lost; }, 5000);
  const cut = closed();
  t.assert.ok(settled.ok, `the stuck worker's sessions were closed and counted as lost: ${cut} closed, ${(await status()).sessions_lost_with_a_worker} counted`);
  t.assert.ok(cut > 0 && cut < held.length, `${cut} of ${held.length} sessions were on the stuck worker`);
  const alive = held.filter((s) => !s.state().closed);
  t.assert.deepStrictEqual(await Promise.all(alive.map((s, i) => s.say(`a${i}`))), alive.map((_, i) => `a${i}`));

  // every new connection is served again, over both workers
  const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => talk(port, { send: `n${i}`, timeoutMs: 5000 })));
  t.assert.deepStrictEqual(answers.map((r) => r.data.toString()), answers.map((_, i) => `n${i}`));
});
