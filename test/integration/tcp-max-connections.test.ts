// sluice.max_connections (CONTRACT §4): beyond it a new connection is accepted and closed at once with no bytes, and
// counted; once a session ends, a new connection is proxied again.
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { SHARED } from '../../src/dataplane/state/stats.ts';
import { startTestGateway } from '../fixtures/gateway.ts';
import { delay, echoServer, talk } from '../fixtures/servers.ts';

/** An open proxied session: connected, and one echo round trip done (so the gateway counts it). */
async function openSession(port: number): Promise<Socket> {
  const s = connect({ port, host: '127.0.0.1' });
  s.on('error', () => { /* closed by the test */ });
  await once(s, 'connect');
  s.write('ping');
  let onClose = (): void => {};
  const closed = new Promise<never>((_, reject) => { onClose = () => reject(new Error('closed by the gateway')); });
  s.once('close', onClose);
  const [d] = await Promise.race([once(s, 'data') as Promise<[Buffer]>, closed]);
  s.off('close', onClose);
  if (d.toString() !== 'ping') throw new Error(`echo: ${d.toString()}`);
  return s;
}

test('max_connections 2: the third concurrent connection is closed with no bytes; after one ends, a new one is proxied', { timeout: 20_000 }, async (t: TestContext) => {
  t.plan(6);
  const echo = await echoServer(t);
  const g = await startTestGateway(t, { sluice: { max_connections: 2 } }, { listeners: [{}] });
  const r = await g.admin('PUT', '/apisix/admin/stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [echo.node]: 1 } } });
  t.assert.equal(r.status, 201, r.text);
  const port = g.listenerPort();
  const one = await openSession(port);
  const two = await openSession(port);
  t.after(() => { one.destroy(); two.destroy(); });

  // The client never half-closes: a close can only come from the gateway, and must come at once.
  const third = await talk(port, { send: 'ping', end: false, timeoutMs: 3000 });
  t.assert.deepStrictEqual([third.closed, third.data.toString(), third.ms < 1000], [true, '', true], `third: ${JSON.stringify(third)}`);
  t.assert.equal(echo.connections(), 2, 'the refused connection never reached the upstream');
  t.assert.equal(g.gw.pool.sharedCounters[SHARED.rejected], 1, 'the refusal is counted');

  // The gateway-wide count of open sessions (the session's end is accounted just after the client sees the close).
  const active = g.gw.pool.sharedCounters;
  const settle = async (n: number): Promise<void> => {
    for (let i = 0; i < 100 && Atomics.load(active, SHARED.active) !== n; i++) await delay(10);
  };
  // End one session; once the gateway has let go of it, a new connection is proxied.
  one.end();
  await once(one, 'close');
  await settle(1);
  const after = await talk(port, { send: 'again' });
  t.assert.equal(after.data.toString(), 'again');
  // still capped: with `two` and nothing else open, one more fits and a second one does not
  await settle(1);
  const four = await openSession(port);
  t.after(() => four.destroy());
  const five = await talk(port, { send: 'ping', end: false, timeoutMs: 3000 });
  t.assert.deepStrictEqual([five.closed, five.data.toString()], [true, ''], `fifth: ${JSON.stringify(five)}`);
});
