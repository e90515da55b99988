// Graceful stop (CONTRACT §1, issue 8) of a real gateway child with 2 workers: SIGTERM closes the listeners at once
// (new connections are refused) while open sessions keep flowing, and the process exits 0 as soon as the last one
// ends; a session that never ends is closed after sluice.shutdown_timeout and the exit is still 0; a second signal
// exits 1 at once; a SIGHUP while draining binds nothing again.
import { test, type TestContext } from 'node:test';
import type { GatewayChild } from '../fixtures/child.ts';
import { makePrefix } from '../fixtures/gateway.ts';
import { childAdmin, openSession, opsYaml, startOpsChild, waitForLog } from '../fixtures/load.ts';
import { delay, echoServer, talk, type TestServer } from '../fixtures/servers.ts';

/** A child with one listener and route 1 to `echo`; returns it and the listener's port. */
async function gateway(t: TestContext, echo: TestServer, shutdownTimeout: number): Promise<{ child: GatewayChild; port: number }> {
  const prefix = makePrefix(t);
  const { child, ports } = await startOpsChild(t, prefix, 1, ([p]) => opsYaml({ tcp: [`127.0.0.1:${p ?? 0}`], sluice: { shutdown_timeout: shutdownTimeout } }));
  const r = await childAdmin(child, 'PUT', '/apisix/admin/stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [echo.node]: 1 } } });
  if (r.status !== 201) throw new Error(`PUT route: ${r.status} ${r.text}`);
  return { child, port: ports[0] ?? 0 };
}

/** Resolves with the ms until the child exits, or undefined if it is still running after `ms`. */
async function exitWithin(child: GatewayChild, ms: number): Promise<number | undefined> {
  const t0 = performance.now();
  const done = await Promise.race([child.exited.then(() => true), delay(ms).then(() => false)]);
  return done ? performance.now() - t0 : undefined;
}

test('SIGTERM: new connections refused at once, the open session keeps flowing, exit 0 when it ends', { timeout: 30_000 }, async (t: TestContext) => {
  t.plan(7);
  const echo = await echoServer(t);
  const { child, port } = await gateway(t, echo, 30);
  const s = await openSession(t, port);
  t.assert.strictEqual(await s.say('before'), 'before');

  const t0 = performance.now();
  child.kill('SIGTERM');
  let refusedAfter: number | undefined;
  for (let i = 0; i < 100 && refusedAfter === undefined; i++) {
    const r = await talk(port, { send: 'new', timeoutMs: 1000 });
    if (r.error === 'ECONNREFUSED') refusedAfter = performance.now() - t0;
    else await delay(10);
  }
  t.assert.ok(refusedAfter !== undefined && refusedAfter < 1000, `new connections refused ${refusedAfter?.toFixed(0) ?? 'never'} ms after SIGTERM`);

  // The session goes on for another second, both ways, while the gateway waits for it.
  const echoed: string[] = [];
  for (let i = 0; i < 10; i++) {
    echoed.push(await s.say(`during-${i}`));
    await delay(100);
  }
  t.assert.deepStrictEqual(echoed, Array.from({ length: 10 }, (_, i) => `during-${i}`));
  t.assert.strictEqual(await exitWithin(child, 0), undefined, 'still running while the session is open');

  const tEnd = performance.now();
  t.assert.deepStrictEqual(await s.end(), { clean: true, error: undefined });
  t.assert.deepStrictEqual(await child.exited, { code: 0, signal: null }, child.stderr());
  const after = performance.now() - tEnd;
  t.assert.ok(after < 2000, `exited ${after.toFixed(0)} ms after the last session ended (shutdown_timeout is 30 s)`);
});

test('SIGTERM with shutdown_timeout 1 and a session that never ends: closed, exit 0 after about 1 s', { timeout: 30_000 }, async (t: TestContext) => {
  t.plan(4);
  const echo = await echoServer(t);
  const { child, port } = await gateway(t, echo, 1);
  const s = await openSession(t, port);
  t.assert.strictEqual(await s.say('idle from now on'), 'idle from now on');
  const t0 = performance.now();
  child.kill('SIGTERM');
  const exit = await child.exited;
  const ms = performance.now() - t0;
  t.assert.deepStrictEqual(exit, { code: 0, signal: null }, child.stderr());
  t.assert.ok(ms >= 900 && ms < 3000, `exited ${ms.toFixed(0)} ms after SIGTERM`);
  for (let i = 0; i < 100 && !s.state().closed; i++) await delay(10);
  t.assert.strictEqual(s.state().closed, true, 'the session was closed');
});

test('a second SIGTERM while draining exits 1 at once', { timeout: 30_000 }, async (t: TestContext) => {
  t.plan(4);
  const echo = await echoServer(t);
  const { child, port } = await gateway(t, echo, 30);
  const s = await openSession(t, port);
  t.assert.strictEqual(await s.say('hold'), 'hold');
  const from = child.stderr().length;
  child.kill('SIGTERM');
  t.assert.ok(await waitForLog(child, from, (r) => r.msg === 'stopping', 3000), 'the first SIGTERM started the drain');
  t.assert.strictEqual(await exitWithin(child, 300), undefined, 'draining: the session is open');
  const t0 = performance.now();
  child.kill('SIGTERM');
  const exit = await child.exited;
  const ms = performance.now() - t0;
  t.assert.ok(exit.code === 1 && exit.signal === null && ms < 1000, `exit ${JSON.stringify(exit)} ${ms.toFixed(0)} ms after the second SIGTERM`);
});

test('a SIGHUP while draining is ignored: the listeners stay closed', { timeout: 30_000 }, async (t: TestContext) => {
  t.plan(4);
  const echo = await echoServer(t);
  const { child, port } = await gateway(t, echo, 30);
  const s = await openSession(t, port);
  t.assert.strictEqual(await s.say('hold'), 'hold');
  const from = child.stderr().length;
  child.kill('SIGTERM');
  t.assert.ok(await waitForLog(child, from, (r) => r.msg === 'stopping', 3000), 'the drain started');
  child.kill('SIGHUP');
  t.assert.ok(await waitForLog(child, from, (r) => r.msg === 'SIGHUP ignored: the gateway is stopping', 3000), 'the SIGHUP was seen and ignored');
  const r = await talk(port, { send: 'new', timeoutMs: 1000 });
  t.assert.strictEqual(r.error, 'ECONNREFUSED', 'the listener was not bound again');
});
