// Bounded UDP state (issue 7, CONTRACT §4 UDP): an idle session ends after
//   min(udp_session_timeout, max(timeout.send, timeout.read))   when the upstream sets `timeout`,
//   udp_session_timeout                                         otherwise,
// checked by a sweep once a second (so it ends between that limit and one second later); the next datagram of the
// same client then opens a new session with a new upstream socket (a new source port at the node). At
// sluice.udp_max_sessions the oldest session is evicted (ended as LimitReached) to make room for the new one.
import { test, type TestContext } from 'node:test';
import { SHARED } from '../../src/dataplane/state/stats.ts';
import { startTestGateway, type TestGateway } from '../fixtures/gateway.ts';
import { put, sleep, waitFor } from '../fixtures/upstream-helpers.ts';
import { udpClient, udpCounters, udpEcho } from '../fixtures/udp.ts';

function openSessions(g: TestGateway): number {
  return g.gw.pool.sharedCounters[SHARED.udpSessions] ?? -1;
}

const EXPIRY: readonly {
  name: string;
  sessionTimeout: number;
  timeout: { connect: number; send: number; read: number } | undefined;
  /** The idle limit the formula gives, seconds. */
  idle: number;
}[] = [
  { name: 'udp_session_timeout 1 s', sessionTimeout: 1, timeout: undefined, idle: 1 },
  { name: 'upstream timeout send 1 / read 1 under udp_session_timeout 600', sessionTimeout: 600, timeout: { connect: 1, send: 1, read: 1 }, idle: 1 },
  // max(send, read), not min: 2 s; a gateway that took min(send, read) would end it after 1 s, one that ignored the
  // upstream's timeout after 5 s
  { name: 'upstream timeout send 2 / read 1 under udp_session_timeout 5: max(send, read)', sessionTimeout: 5, timeout: { connect: 1, send: 2, read: 1 }, idle: 2 },
];

for (const c of EXPIRY) {
  test(`udp expiry: ${c.name}`, async (t: TestContext) => {
    t.plan(5);
    const echo = await udpEcho(t);
    const g = await startTestGateway(t, { sluice: { udp_session_timeout: c.sessionTimeout } }, { listeners: [{ proto: 'udp' }] });
    await put(g, 'stream_routes/1', { upstream: { nodes: { [echo.node]: 1 }, ...(c.timeout !== undefined ? { timeout: c.timeout } : {}) } });
    const port = g.listenerPort();
    const client = await udpClient(t);
    const first = await client.ask('one', port);
    const t0 = performance.now();
    // idle from here on: the session ends within [idle, idle + one sweep]
    const ended = await waitFor(() => openSessions(g) === 0, c.idle * 1000 + 2000);
    const ms = performance.now() - t0;
    t.assert.ok(ended.ok && ms >= c.idle * 1000 - 100 && ms <= c.idle * 1000 + 1400, `session ended after ${Math.round(ms)} ms (ok: ${ended.ok}), want ${c.idle} s plus at most one sweep`);
    t.assert.equal((await udpCounters(g)).byReason.Done, 1);
    // the same client again: a new session, so a new upstream socket
    const second = await client.ask('two', port);
    t.assert.equal(second?.data, 'two');
    t.assert.notEqual(second?.via, first?.via);
    t.assert.equal(openSessions(g), 1);
  });
}

test('udp expiry: a session in use does not expire', async (t: TestContext) => {
  t.plan(2);
  const echo = await udpEcho(t);
  const g = await startTestGateway(t, { sluice: { udp_session_timeout: 1 } }, { listeners: [{ proto: 'udp' }] });
  await put(g, 'stream_routes/1', { upstream: { nodes: { [echo.node]: 1 } } });
  const port = g.listenerPort();
  const client = await udpClient(t);
  const vias = new Set<string | undefined>();
  // a datagram every 400 ms for 2.4 s: never idle for 1 s, so always the same session
  for (let i = 0; i < 7; i++) {
    vias.add((await client.ask(`n${i}`, port))?.via);
    await sleep(400);
  }
  t.assert.equal(vias.size, 1);
  t.assert.equal((await udpCounters(g)).byReason.Done, undefined);
});

test('udp table cap: at udp_max_sessions the oldest session is evicted and counted', async (t: TestContext) => {
  t.plan(7);
  const echo = await udpEcho(t);
  const g = await startTestGateway(t, { sluice: { udp_max_sessions: 2 } }, { listeners: [{ proto: 'udp' }] });
  await put(g, 'stream_routes/1', { upstream: { nodes: { [echo.node]: 1 } } });
  const port = g.listenerPort();
  const [a, b, c] = [await udpClient(t), await udpClient(t), await udpClient(t)];
  const a1 = await a.ask('a1', port);
  const b1 = await b.ask('b1', port);
  // the third client: a's session (the oldest) makes room
  const c1 = await c.ask('c1', port);
  t.assert.equal(c1?.data, 'c1');
  t.assert.equal(openSessions(g), 2);
  t.assert.equal((await udpCounters(g)).byReason.LimitReached, 1);
  // b's session survived: same upstream socket as before, and no eviction for it
  const b2 = await b.ask('b2', port);
  t.assert.deepStrictEqual([b2?.data, b2?.via], ['b2', b1?.via]);
  t.assert.equal((await udpCounters(g)).byReason.LimitReached, 1);
  // a's did not: it comes back as a new session (evicting b, now the oldest)
  const a2 = await a.ask('a2', port);
  t.assert.deepStrictEqual([a2?.data, a2?.via === a1?.via], ['a2', false]);
  t.assert.deepStrictEqual({ evicted: (await udpCounters(g)).byReason.LimitReached, open: openSessions(g), dropped: (await udpCounters(g)).drops.table_full }, { evicted: 2, open: 2, dropped: 0 });
});
