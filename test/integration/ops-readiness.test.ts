// Readiness (CONTRACT §1, issue 8): every listener in config.yaml accepts before the Admin API answers. A gateway
// child with 2 workers and two TCP listeners is started over a store that already holds a route (from a first run);
// clients try to connect from the moment it is spawned. Right after the Admin API opens, both listeners accept and
// proxy; and every connection the gateway accepted earlier was served with the stored route (a listener never
// accepts before its worker has the config).
import { test, type TestContext } from 'node:test';
import { startTestChild } from '../fixtures/child.ts';
import { makePrefix } from '../fixtures/gateway.ts';
import { childAdmin, opsYaml, startOpsChild, writeConfig } from '../fixtures/load.ts';
import { delay, echoServer, retryAddrInUse, talk, type TalkResult } from '../fixtures/servers.ts';

/** Connection attempts per early client, at most (each refused one is retried after 2 ms). */
const MAX_TRIES = 5000;
const EARLY_CLIENTS = 4;

test('readiness: every listener accepts, with the stored config, before the Admin API answers', { timeout: 30_000 }, async (t: TestContext) => {
  t.plan(5);
  const echo = await echoServer(t);
  const prefix = makePrefix(t);
  const first = await startOpsChild(t, prefix, 2, (p) => opsYaml({ tcp: p.map((x) => `127.0.0.1:${x}`) }));
  const put = await childAdmin(first.child, 'PUT', '/apisix/admin/stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [echo.node]: 1 } } });
  first.child.kill('SIGTERM');
  t.assert.deepStrictEqual([put.status, await first.child.exited], [201, { code: 0, signal: null }]);
  const [a = 0, b = 0] = first.ports;
  writeConfig(prefix, opsYaml({ tcp: [`127.0.0.1:${a}`, `127.0.0.1:${b}`] }));

  // Early clients: from the spawn on, connect (refused until the listeners are bound) and record what the
  // connections that were accepted got back.
  let ready = false;
  let stop = false;
  const early: { result: TalkResult; want: string; beforeReady: boolean }[] = [];
  const client = async (k: number): Promise<void> => {
    for (let i = 0; i < MAX_TRIES && !stop; i++) {
      const want = `early-${k}-${i}`;
      const beforeReady = !ready;
      const result = await talk(k % 2 === 0 ? a : b, { send: want, timeoutMs: 3000 });
      if (result.error === 'ECONNREFUSED') await delay(2);
      else early.push({ result, want, beforeReady });
    }
  };
  const clients = Array.from({ length: EARLY_CLIENTS }, (_, k) => client(k));
  t.after(async () => {
    stop = true;
    await Promise.all(clients);
  });
  const child = await retryAddrInUse(() => startTestChild(t, prefix, { cwd: prefix }));
  // The Admin API has just opened: connect to both listeners at once.
  const now = await Promise.all([talk(a, { send: 'ready-a' }), talk(b, { send: 'ready-b' })]);
  ready = true;
  t.assert.deepStrictEqual(now.map((r) => [r.error, r.data.toString()]), [[undefined, 'ready-a'], [undefined, 'ready-b']]);
  const admin = await childAdmin(child, 'GET', '/apisix/admin/stream_routes/1');
  t.assert.strictEqual(admin.status, 200, 'the Admin API answers, with the stored route');
  await delay(100);
  stop = true;
  await Promise.all(clients);
  const wrong = early.filter((e) => e.result.error !== undefined || e.result.data.toString() !== e.want)
    .map((e) => `${e.want}${e.beforeReady ? ' (before ready)' : ''}: ${e.result.error ?? JSON.stringify(e.result.data.toString())}`);
  const beforeReady = early.filter((e) => e.beforeReady).length;
  t.assert.ok(beforeReady > 0, `the scenario ran: connections were accepted before the Admin API opened (${early.length} early in all)`);
  t.assert.deepStrictEqual(wrong, [], `${early.length} early connections accepted, ${beforeReady} of them before the Admin API opened`);
});
