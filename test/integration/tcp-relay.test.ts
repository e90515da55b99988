// The relay (CONTRACT §4): a FIN is passed on in each direction while the other keeps flowing, and the session ends
// when both sides are done; an upstream reset closes the client; max(timeout.send, timeout.read) is the idle
// timeout; timeout.connect bounds each connect attempt (against a loopback listener whose accept queue is full).
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { startTestGateway, type TestGateway } from '../fixtures/gateway.ts';
import {
  delay, echoServer, endReasons, neverAcceptServer, scriptedServer, silentServer, talk, type TestServer,
} from '../fixtures/servers.ts';

async function route(g: TestGateway, upstream: Record<string, unknown>): Promise<void> {
  const r = await g.admin('PUT', '/apisix/admin/stream_routes/1', { upstream: { type: 'roundrobin', ...upstream } });
  if (r.status !== 201) throw new Error(`PUT route: ${r.status} ${r.text}`);
}

function nodes(...servers: TestServer[]): Record<string, number> {
  return Object.fromEntries(servers.map((s) => [s.node, 1]));
}

/** A client socket that records everything it gets and when the other side's FIN and the close came. */
function client(port: number): { sock: Socket; data: () => string; endAt: Promise<number>; closeAt: Promise<number> } {
  const sock = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  let got = '';
  sock.setEncoding('utf8');
  sock.on('data', (s: string) => { got += s; });
  sock.on('error', () => { /* seen as the close */ });
  // never rejects: an 'error' before the event counts as the event
  const at = (ev: string): Promise<number> => once(sock, ev).then(() => performance.now(), () => performance.now());
  const endAt = at('end');
  const closeAt = at('close');
  return { sock, data: () => got, endAt, closeAt };
}

test('relay: the client FIN reaches the upstream, which keeps sending after it; the session ends when both are done', { timeout: 20_000 }, async (t: TestContext) => {
  t.plan(5);
  let upstreamGot = '';
  let upstreamEndAt = 0;
  const up = await scriptedServer(t, (s) => {
    s.setEncoding('utf8');
    s.on('data', (d: string) => { upstreamGot += d; });
    s.on('end', () => {
      upstreamEndAt = performance.now();
      // the client has half-closed: answer, then keep sending for a while before closing our side
      s.write(`got ${upstreamGot.length}`);
      setTimeout(() => s.write(' still here'), 150);
      setTimeout(() => s.end(' bye'), 300);
    });
  });
  const g = await startTestGateway(t, {}, { listeners: [{}] });
  await route(g, { nodes: nodes(up) });
  const c = client(g.listenerPort());
  await once(c.sock, 'connect');
  c.sock.end('x'.repeat(100_000));
  const closeAt = await c.closeAt;
  t.assert.equal(c.data(), 'got 100000 still here bye');
  t.assert.equal(upstreamGot.length, 100_000);
  t.assert.ok(upstreamEndAt > 0, 'the upstream saw the FIN');
  t.assert.ok(closeAt - upstreamEndAt >= 250, `the session outlived the client FIN by ${Math.round(closeAt - upstreamEndAt)} ms`);
  t.assert.deepStrictEqual(await endReasons(g), { Done: 1 });
});

test('relay: the upstream FIN reaches the client, which keeps sending after it', { timeout: 20_000 }, async (t: TestContext) => {
  t.plan(4);
  let upstreamGot = '';
  const upstreamEnd = Promise.withResolvers<void>();
  const up = await scriptedServer(t, (s) => {
    s.setEncoding('utf8');
    s.end('greeting then FIN');
    s.on('data', (d: string) => { upstreamGot += d; });
    s.on('end', () => upstreamEnd.resolve());
  });
  const g = await startTestGateway(t, {}, { listeners: [{}] });
  await route(g, { nodes: nodes(up) });
  const c = client(g.listenerPort());
  await c.endAt;
  t.assert.equal(c.data(), 'greeting then FIN');
  // half-open now: the client's writes must still get through
  for (let i = 0; i < 3; i++) {
    c.sock.write(`part${i};`);
    await delay(50);
  }
  c.sock.end('last');
  await Promise.all([upstreamEnd.promise, c.closeAt]);
  t.assert.equal(upstreamGot, 'part0;part1;part2;last');
  t.assert.equal(c.sock.destroyed, true);
  t.assert.deepStrictEqual(await endReasons(g), { Done: 1 });
});

const RESETS: readonly { name: string; before: string; want: string }[] = [
  { name: 'before any byte', before: '', want: '' },
  { name: 'mid-stream', before: 'partial answer', want: 'partial answer' },
];

for (const c of RESETS) {
  test(`relay: an upstream reset ${c.name} closes the client`, { timeout: 20_000 }, async (t: TestContext) => {
    t.plan(3);
    const up = await scriptedServer(t, (s) => {
      if (c.before !== '') s.write(c.before);
      s.once('data', () => setTimeout(() => s.resetAndDestroy(), 50));
    });
    const g = await startTestGateway(t, {}, { listeners: [{}] });
    await route(g, { nodes: nodes(up) });
    // The client never half-closes: only the gateway can end this connection.
    const r = await talk(g.listenerPort(), { send: 'hello', end: false, timeoutMs: 3000 });
    t.assert.equal(r.closed, true, `closed after ${Math.round(r.ms)} ms`);
    t.assert.equal(r.data.toString(), c.want);
    t.assert.deepStrictEqual(await endReasons(g), { UpstreamReset: 1 });
  });
}

test('relay: a silent upstream is closed after the idle timeout, max(send, read)', { timeout: 20_000 }, async (t: TestContext) => {
  t.plan(4);
  const up = await silentServer(t);
  const g = await startTestGateway(t, {}, { listeners: [{}] });
  await route(g, { nodes: nodes(up), timeout: { connect: 1, send: 1, read: 0.5 } });
  const r = await talk(g.listenerPort(), { send: 'anyone there?', end: false, timeoutMs: 5000 });
  t.assert.equal(r.closed, true);
  t.assert.equal(r.data.length, 0);
  t.assert.ok(r.ms >= 900 && r.ms < 2500, `closed after ${Math.round(r.ms)} ms (want ~1000)`);
  t.assert.deepStrictEqual(await endReasons(g), { IdleTimeout: 1 });
});

test('relay: traffic resets the idle timer; the session is closed ~1 s after it stops', { timeout: 20_000 }, async (t: TestContext) => {
  t.plan(4);
  const up = await echoServer(t);
  const g = await startTestGateway(t, {}, { listeners: [{}] });
  await route(g, { nodes: nodes(up), timeout: { connect: 1, send: 1, read: 1 } });
  const c = client(g.listenerPort());
  await once(c.sock, 'connect');
  let closedEarly = false;
  void c.endAt.then(() => { closedEarly = true; });
  // 8 bytes over 2.4 s: longer than the idle timeout in total, never idle for 1 s
  for (let i = 0; i < 8; i++) {
    c.sock.write(String(i));
    await delay(300);
  }
  const stoppedAt = performance.now();
  t.assert.equal(closedEarly, false, 'open while traffic flows');
  t.assert.equal(c.data(), '01234567');
  // the gateway's close arrives as a FIN (this client is half-open aware and has not ended its side)
  const idle = (await c.endAt) - stoppedAt;
  c.sock.end();
  t.assert.ok(idle >= 600 && idle < 2500, `closed ${Math.round(idle)} ms after the last byte (want ~1000 − 300)`);
  t.assert.deepStrictEqual(await endReasons(g), { IdleTimeout: 1 });
});

test('relay: timeout.connect 0.5 against a listener that never accepts', { timeout: 20_000 }, async (t: TestContext) => {
  t.plan(4);
  const never = await neverAcceptServer(t);
  const g = await startTestGateway(t, {}, { listeners: [{}] });
  await route(g, { nodes: nodes(never), timeout: { connect: 0.5, send: 5, read: 5 } });
  const r = await talk(g.listenerPort(), { send: 'hello', end: false, timeoutMs: 5000 });
  t.assert.equal(r.closed, true);
  t.assert.equal(r.data.length, 0);
  t.assert.ok(r.ms >= 450 && r.ms < 1500, `closed after ${Math.round(r.ms)} ms (want ~500)`);
  t.assert.deepStrictEqual(await endReasons(g), { ConnectTimeout: 1 });
});

test('relay: after a connect timeout the next node is tried (retries 1)', { timeout: 20_000 }, async (t: TestContext) => {
  t.plan(3);
  const never = await neverAcceptServer(t);
  const echo = await echoServer(t);
  const g = await startTestGateway(t, {}, { listeners: [{}] });
  // equal weights: the first pick is the first node, the one that never accepts
  await route(g, { nodes: nodes(never, echo), retries: 1, timeout: { connect: 0.5, send: 5, read: 5 } });
  const r = await talk(g.listenerPort(), { send: 'hello', timeoutMs: 5000 });
  t.assert.equal(r.data.toString(), 'hello');
  t.assert.ok(r.ms >= 450 && r.ms < 2000, `answered after ${Math.round(r.ms)} ms (want ~500: one timed-out attempt first)`);
  t.assert.deepStrictEqual(await endReasons(g), { Done: 1 });
});
