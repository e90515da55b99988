// Priorities, retries and timeouts over real connections (issue 5). Upstreams answer with their own `host:port`;
// "dead" nodes are loopback ports with nothing behind them (refused at once); "black holes" are loopback listeners
// whose accept queue is full (a connect to them times out) — never an outside address.
// - priority walk-through: refused high-priority nodes hand over to the next group, within `retries`;
// - `retries: 0`: one refused node closes the client, no retry; the default (nodes − 1) tries every node;
// - no retry once the upstream connected, even if it then fails;
// - `timeout.connect` per attempt, `retry_timeout` over the whole connect phase;
// - the idle timeout, max(timeout.send, timeout.read), against a silent upstream.
import { connect } from 'node:net';
import { test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';
import { ask, askMany, deadPort, endReasons, neverAccepts, put, scriptedUpstream, upstream, type Upstream } from '../fixtures/upstream-helpers.ts';

// ---- priorities and retries -------------------------------------------------------------------------------------

interface Node {
  /** live: answers; dead: refused. */
  readonly kind: 'live' | 'dead';
  readonly priority: number;
}

interface Case {
  readonly name: string;
  readonly nodes: readonly Node[];
  readonly retries?: number;
  readonly conns: number;
  /** Reply per connection, as the index of the node that answered; '-' = closed with no byte. */
  readonly want: string;
  /** Sessions per end reason. */
  readonly reasons: Record<string, number>;
}

const L = (priority = 0): Node => ({ kind: 'live', priority });
const D = (priority = 0): Node => ({ kind: 'dead', priority });

const CASES: readonly Case[] = [
  { name: 'two refused high nodes, then the low group answers', nodes: [D(10), D(10), L(0)], conns: 3, want: '2 2 2', reasons: { Done: 3 } },
  { name: 'a refused high node is retried on the other high node; the low group is never used', nodes: [D(10), L(10), L(0)], conns: 4, want: '1 1 1 1', reasons: { Done: 4 } },
  { name: 'the walk goes down group by group', nodes: [D(20), D(10), D(10), L(-5)], conns: 2, want: '3 3', reasons: { Done: 2 } },
  { name: 'retries: 1 stops after the two high nodes', nodes: [D(10), D(10), L(0)], retries: 1, conns: 2, want: '- -', reasons: { ConnectFailed: 2 } },
  { name: 'retries: 2 reaches the low node', nodes: [D(10), D(10), L(0)], retries: 2, conns: 2, want: '2 2', reasons: { Done: 2 } },
  { name: 'retries: 0: a refused node closes the client, no retry (roundrobin alternates)', nodes: [D(), L()], retries: 0, conns: 4, want: '- 1 - 1', reasons: { ConnectFailed: 2, Done: 2 } },
  { name: 'default retries (nodes − 1): every connection reaches the live node', nodes: [D(), D(), L()], conns: 3, want: '2 2 2', reasons: { Done: 3 } },
  { name: 'every node refused: closed with no byte', nodes: [D(), D()], conns: 2, want: '- -', reasons: { ConnectFailed: 2 } },
];

for (const c of CASES) {
  test(`upstream retries: ${c.name}`, async (t: TestContext) => {
    t.plan(3);
    const live: (Upstream | undefined)[] = await Promise.all(c.nodes.map((n) => (n.kind === 'live' ? upstream(t) : Promise.resolve(undefined))));
    const ports = await Promise.all(c.nodes.map(async (_, i) => live[i]?.port ?? deadPort()));
    const g = await startTestGateway(t, {}, { listeners: [{}] });
    await put(g, 'stream_routes/1', {
      upstream: {
        type: 'roundrobin',
        nodes: c.nodes.map((n, i) => ({ host: '127.0.0.1', port: ports[i], weight: 1, priority: n.priority })),
        ...(c.retries !== undefined ? { retries: c.retries } : {}),
      },
    });
    const replies = await askMany(g.listenerPort(), c.conns);
    t.assert.equal(replies.map((r) => (r === '' ? '-' : String(ports.findIndex((p) => r === `127.0.0.1:${p}`)))).join(' '), c.want);
    // each live node that was not in the answer saw no connection at all
    const answered = new Set(c.want.split(' '));
    t.assert.deepStrictEqual(live.flatMap((u, i) => (u !== undefined && !answered.has(String(i)) ? [u.accepted()] : [])).filter((n) => n > 0), []);
    t.assert.deepStrictEqual(await endReasons(g), c.reasons);
  });
}

test('upstream retries: no retry once bytes flowed, even if the upstream then resets', async (t: TestContext) => {
  t.plan(3);
  // writes its name, then resets the connection 50 ms later
  const resetter = await scriptedUpstream(t, (s, node) => {
    s.write(node);
    setTimeout(() => s.resetAndDestroy(), 50);
  });
  const good = await upstream(t);
  const g = await startTestGateway(t, {}, { listeners: [{}] });
  await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: [{ host: '127.0.0.1', port: resetter.port, weight: 1 }, { host: '127.0.0.1', port: good.port, weight: 1 }] } });
  const r = await ask(g.listenerPort());
  t.assert.deepStrictEqual([r.data, r.closed], [resetter.node, true]);
  t.assert.equal(good.accepted(), 0, 'the session went nowhere else');
  t.assert.deepStrictEqual(await endReasons(g), { UpstreamReset: 1 });
});

// ---- timeouts -----------------------------------------------------------------------------------------------------

interface TimeoutCase {
  readonly name: string;
  /** Black-hole nodes (connects time out). */
  readonly holes: number;
  readonly connect: number;
  readonly retryTimeout?: number;
  /** The client must be closed within [min, max] ms. */
  readonly min: number;
  readonly max: number;
}

const TIMEOUTS: readonly TimeoutCase[] = [
  { name: 'timeout.connect 0.3 s on a listener that never accepts', holes: 1, connect: 0.3, min: 280, max: 1000 },
  { name: 'each of 3 attempts gets timeout.connect 0.3 s', holes: 3, connect: 0.3, min: 880, max: 1700 },
  { name: 'retry_timeout 0.5 s cuts the third attempt short (0.3 + 0.2)', holes: 3, connect: 0.3, retryTimeout: 0.5, min: 480, max: 1100 },
  { name: 'retry_timeout 0.2 s shortens even the first attempt', holes: 3, connect: 0.3, retryTimeout: 0.2, min: 180, max: 800 },
  { name: 'retry_timeout 0 means no overall deadline', holes: 2, connect: 0.3, retryTimeout: 0, min: 580, max: 1400 },
];

for (const c of TIMEOUTS) {
  test(`upstream timeouts: ${c.name}`, async (t: TestContext) => {
    t.plan(3);
    const holes = await neverAccepts(t, c.holes);
    const g = await startTestGateway(t, {}, { listeners: [{}] });
    await put(g, 'stream_routes/1', {
      upstream: {
        type: 'roundrobin',
        nodes: holes.map((port) => ({ host: '127.0.0.1', port, weight: 1 })),
        timeout: { connect: c.connect, send: 5, read: 5 },
        ...(c.retryTimeout !== undefined ? { retry_timeout: c.retryTimeout } : {}),
      },
    });
    const r = await ask(g.listenerPort(), { timeoutMs: 4000 });
    t.assert.deepStrictEqual([r.closed, r.data], [true, '']);
    t.assert.ok(r.ms >= c.min && r.ms <= c.max, `closed after ${r.ms.toFixed(0)} ms, want ${c.min}-${c.max}`);
    t.assert.deepStrictEqual(await endReasons(g), { ConnectTimeout: 1 });
  });
}

const IDLE: readonly { name: string; send: number; read: number; want: number }[] = [
  { name: 'send 0.5 s, read 0.5 s', send: 0.5, read: 0.5, want: 500 },
  { name: 'the larger of the two: send 0.2 s, read 0.8 s', send: 0.2, read: 0.8, want: 800 },
  { name: 'the larger of the two: send 0.8 s, read 0.2 s', send: 0.8, read: 0.2, want: 800 },
];

for (const c of IDLE) {
  test(`upstream idle timeout against a silent upstream: ${c.name}`, async (t: TestContext) => {
    t.plan(4);
    const silent = await upstream(t, { silent: true });
    const g = await startTestGateway(t, {}, { listeners: [{}] });
    await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [silent.node]: 1 }, timeout: { connect: 1, send: c.send, read: c.read } } });
    const r = await ask(g.listenerPort(), { timeoutMs: 4000 });
    t.assert.deepStrictEqual([r.closed, r.data], [true, '']);
    t.assert.ok(r.ms >= c.want - 30 && r.ms <= c.want + 700, `closed after ${r.ms.toFixed(0)} ms, want about ${c.want}`);
    t.assert.equal(silent.accepted(), 1);
    t.assert.deepStrictEqual(await endReasons(g), { IdleTimeout: 1 });
  });
}

test('upstream idle timeout: traffic keeps a session alive past the timeout; silence then ends it', async (t: TestContext) => {
  t.plan(2);
  const silent = await upstream(t, { silent: true });
  const g = await startTestGateway(t, {}, { listeners: [{}] });
  await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [silent.node]: 1 }, timeout: { connect: 1, send: 0.4, read: 0.4 } } });
  const c = connect(g.listenerPort(), '127.0.0.1');
  c.on('error', () => undefined);
  t.after(() => { c.destroy(); });
  const t0 = performance.now();
  const closed = new Promise<number>((resolve) => c.on('close', () => resolve(performance.now() - t0)));
  // a byte every 150 ms for 1.2 s: three times the idle timeout
  for (let i = 0; i < 8; i++) {
    c.write('x');
    await new Promise((r) => setTimeout(r, 150));
  }
  const lastWrite = performance.now() - t0;
  const ms = await closed;
  t.assert.ok(lastWrite >= 1100 && ms > lastWrite, `closed at ${ms.toFixed(0)} ms, before the last write at ${lastWrite.toFixed(0)} ms`);
  t.assert.ok(ms - lastWrite >= 200 && ms - lastWrite <= 1100, `closed ${(ms - lastWrite).toFixed(0)} ms after the last write, want about 400`);
});
