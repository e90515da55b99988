// Regression (issue 14, found by ops-worker-crash.test.ts failing 1 run in 4): a connection the addon accepted in a
// worker that was dying (its isolate terminating after an uncaught exception, before the cleanup hook closed the
// listener) was handed to a JavaScript call that could no longer run, and nobody closed it: its client waited for
// good. Now such an fd is closed and the dying worker accepts no more. Five crashes under traffic: every connection
// is answered or closed, none waits for its timeout.
import { test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';
import { delay, echoServer, talk } from '../fixtures/servers.ts';
import { put, waitFor } from '../fixtures/upstream-helpers.ts';

const CRASHES = 5;
const TIMEOUT_MS = 2000;

test('a worker dying under traffic leaves no accepted connection unanswered and open', { timeout: 60_000 }, async (t: TestContext) => {
  const echo = await echoServer(t);
  const g = await startTestGateway(t, { sluice: { workers: 2 } }, { listeners: [{}] });
  const port = g.listenerPort();
  await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [echo.node]: 1 } } });
  const restarts = async (): Promise<number> => ((await g.admin('GET', '/sluice/v1/status')).json as { workers_restarted: number }).workers_restarted;
  const hung: string[] = [];
  let answered = 0;
  for (let c = 0; c < CRASHES; c++) {
    let stop = false;
    const client = async (k: number): Promise<void> => {
      for (let i = 0; !stop && i < 5000; i++) {
        const r = await talk(port, { send: `${c}-${k}-${i}`, timeoutMs: TIMEOUT_MS });
        if (r.data.toString() === `${c}-${k}-${i}`) answered++;
        else if (!r.closed) hung.push(`crash ${c}, client ${k}, #${i}: neither answered nor closed within ${TIMEOUT_MS} ms`);
      }
    };
    const clients = Array.from({ length: 4 }, (_, k) => client(k));
    await delay(100);
    g.gw.pool.crashForTest(c % 2);
    t.assert.ok((await waitFor(async () => (await restarts()) === c + 1, 5000)).ok, `restart ${c + 1}`);
    await delay(200);
    stop = true;
    await Promise.all(clients);
  }
  t.assert.deepStrictEqual(hung, []);
  t.assert.ok(answered > 100, `${answered} connections answered around the crashes`);
});
