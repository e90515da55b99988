// limit-conn on the wire (issue 12, CONTRACT §6): concurrent sessions per key, gateway-wide across workers; up to
// conn pass, up to conn + burst are delayed by about default_conn_delay, more are refused (503, LimitReached);
// the count drops when a session ends, however it ends (a dead worker's too); key_type var / var_combination.
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';
import { echoServer, delay } from '../fixtures/servers.ts';
import { udpClient, udpEcho } from '../fixtures/udp.ts';

/** Connects, sends `x`, and resolves once the echo comes back ('open', the socket kept) or the gateway closes it. */
function hold(t: TestContext, port: number, localAddress = '127.0.0.1'): Promise<{ state: 'open' | 'closed'; sock: Socket; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const sock = connect({ port, host: '127.0.0.1', localAddress });
    t.after(() => sock.destroy());
    sock.on('error', () => {});
    const timer = setTimeout(() => resolve({ state: 'closed', sock, ms: performance.now() - t0 }), 8000);
    sock.once('connect', () => sock.write('x'));
    sock.once('data', () => { clearTimeout(timer); resolve({ state: 'open', sock, ms: performance.now() - t0 }); });
    sock.once('close', () => { clearTimeout(timer); resolve({ state: 'closed', sock, ms: performance.now() - t0 }); });
  });
}

const lc = (conf: Record<string, unknown>): Record<string, unknown> => ({ 'limit-conn': { burst: 0, default_conn_delay: 0.1, key: 'remote_addr', ...conf } });

test('limit-conn is gateway-wide: with 2 workers, conn 2 lets exactly 2 of 8 or more concurrent sessions through', async (t: TestContext) => {
  t.plan(4);
  const up = await echoServer(t);
  const g = await startTestGateway(t, { sluice: { workers: 2 } }, { listeners: [{}] });
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { plugins: lc({ conn: 2 }), upstream: { nodes: { [up.node]: 1 } } });
  const got: Awaited<ReturnType<typeof hold>>[] = [];
  // at least 8, and on until both workers took sessions (the kernel spreads connections by hash: 8 can land on one)
  let per = await g.gw.pool.stats();
  for (let i = 0; i < 40 && (got.length < 8 || !per.every((w) => w.sessions > 0)); i++) {
    got.push(await hold(t, g.listenerPort()));
    per = await g.gw.pool.stats();
  }
  t.assert.ok(per.every((w) => w.sessions > 0), `both workers took sessions: ${per.map((w) => w.sessions).join(',')}`);
  t.assert.deepStrictEqual(got.map((x) => x.state).filter((s) => s === 'open').length, 2, `2 of ${got.length} open`);
  t.assert.equal(per.reduce((n, w) => n + (w.byReason.LimitReached ?? 0), 0), got.length - 2, 'the others refused, counted as LimitReached');
  // one open session ends: its place is free again
  got.find((x) => x.state === 'open')?.sock.destroy();
  let next = await hold(t, g.listenerPort());
  for (let i = 0; i < 50 && next.state !== 'open'; i++) {
    await delay(20);
    next = await hold(t, g.listenerPort());
  }
  t.assert.equal(next.state, 'open', 'a session ended: the next one passes');
});

test('limit-conn burst: the one over conn waits about default_conn_delay, the one over conn + burst is refused', async (t: TestContext) => {
  t.plan(5);
  const up = await echoServer(t);
  const g = await startTestGateway(t, {}, { listeners: [{}] });
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { plugins: lc({ conn: 1, burst: 1, default_conn_delay: 0.4 }), upstream: { nodes: { [up.node]: 1 } } });
  const a = await hold(t, g.listenerPort());
  const b = await hold(t, g.listenerPort());
  const c = await hold(t, g.listenerPort());
  t.assert.equal(a.state, 'open');
  t.assert.ok(a.ms < 300, `the first is not delayed (${a.ms.toFixed(0)} ms)`);
  t.assert.equal(b.state, 'open');
  t.assert.ok(b.ms >= 380 && b.ms < 2000, `the burst one waited about 0.4 s (${b.ms.toFixed(0)} ms)`);
  t.assert.equal(c.state, 'closed', 'beyond conn + burst: refused');
});

test('limit-conn keys: per remote_addr by default; var_combination; an empty key falls back to remote_addr', async (t: TestContext) => {
  t.plan(4);
  const up = await echoServer(t);
  const g = await startTestGateway(t, {}, { listeners: [{}] });
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { plugins: lc({ conn: 1 }), upstream: { nodes: { [up.node]: 1 } } });
  const a = await hold(t, g.listenerPort(), '127.0.0.1');
  const b = await hold(t, g.listenerPort(), '127.0.1.1');
  t.assert.deepStrictEqual([a.state, b.state], ['open', 'open'], 'two clients, one place each');
  a.sock.destroy();
  b.sock.destroy();
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { plugins: lc({ conn: 1, key_type: 'var_combination', key: '$server_addr $server_port' }), upstream: { nodes: { [up.node]: 1 } } });
  const c = await hold(t, g.listenerPort(), '127.0.0.1');
  const d = await hold(t, g.listenerPort(), '127.0.1.1');
  t.assert.deepStrictEqual([c.state, d.state], ['open', 'closed'], 'one key for the listener: the second client is refused');
  c.sock.destroy();
  // a variable with no value: the key falls back to remote_addr
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { plugins: lc({ conn: 1, key: 'mqtt_client_id' }), upstream: { nodes: { [up.node]: 1 } } });
  const e = await hold(t, g.listenerPort(), '127.0.0.1');
  const f = await hold(t, g.listenerPort(), '127.0.1.1');
  const h = await hold(t, g.listenerPort(), '127.0.1.1');
  t.assert.deepStrictEqual([e.state, f.state], ['open', 'open']);
  t.assert.equal(h.state, 'closed', 'same fallback key 127.0.1.1: refused');
});

test('limit-conn: a dead worker\'s sessions leave the count (crash under a held session)', async (t: TestContext) => {
  t.plan(3);
  const up = await echoServer(t);
  const g = await startTestGateway(t, { sluice: { workers: 1 } }, { listeners: [{}] });
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { plugins: lc({ conn: 1 }), upstream: { nodes: { [up.node]: 1 } } });
  const a = await hold(t, g.listenerPort());
  t.assert.equal(a.state, 'open');
  t.assert.equal((await hold(t, g.listenerPort())).state, 'closed', 'the place is taken');
  g.gw.pool.crashForTest(0);
  let b = await hold(t, g.listenerPort());
  for (let i = 0; i < 100 && b.state !== 'open'; i++) {
    await delay(50);
    b = await hold(t, g.listenerPort());
  }
  t.assert.equal(b.state, 'open', 'after the restart the count was released');
});

test('limit-conn on UDP: sessions per client are limited; the delayed first datagram is delivered', async (t: TestContext) => {
  t.plan(3);
  const up = await udpEcho(t);
  const g = await startTestGateway(t, {}, { listeners: [{ proto: 'udp' }] });
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { plugins: lc({ conn: 1, burst: 1, default_conn_delay: 0.2, key: 'server_port' }), upstream: { nodes: { [up.node]: 1 } } });
  const c1 = await udpClient(t);
  const c2 = await udpClient(t);
  const c3 = await udpClient(t);
  t.assert.equal((await c1.ask('one', g.listenerPort()))?.data, 'one');
  t.assert.equal((await c2.ask('two', g.listenerPort()))?.data, 'two', 'the burst session is delayed, then answered');
  c3.send('three', g.listenerPort());
  let refused = 0;
  for (let i = 0; i < 100 && refused === 0; i++) {
    await delay(20);
    refused = (await g.gw.pool.stats()).reduce((n, s) => n + (s.byReason.LimitReached ?? 0), 0);
  }
  t.assert.equal(refused, 1, 'the third session is refused');
});

test('limit-conn rejected_code: a refused session is logged with that status (default 503); rejected_msg and the redis policies are refused', async (t: TestContext) => {
  const up = await echoServer(t);
  const g = await startTestGateway(t, {
    nginx_config: { stream: { enable_access_log: true, access_log: 'logs/access.log' } },
    stream_plugins: ['limit-conn', 'prometheus'], plugin_attr: { prometheus: { enable_export_server: false } },
  }, { listeners: [{}] });
  const put = (plugins: Record<string, unknown>): ReturnType<typeof g.admin> => g.admin('PUT', '/apisix/admin/stream_routes/1', { plugins, upstream: { nodes: { [up.node]: 1 } } });
  t.assert.equal((await put(lc({ conn: 1, rejected_code: 429 }))).status, 201);
  const a = await hold(t, g.listenerPort());
  const b = await hold(t, g.listenerPort());
  t.assert.deepStrictEqual([a.state, b.state], ['open', 'closed']);
  const file = `${g.prefix}/logs/access.log`;
  let line = '';
  for (let i = 0; i < 100 && line === ''; i++) {
    try { line = readFileSync(file, 'utf8').split('\n').find((l) => / TCP \d{3} /.test(l)) ?? ''; } catch { /* not yet */ }
    if (line === '') await delay(20);
  }
  t.assert.match(line, / TCP 429 0 0 /, 'the refused session has rejected_code as its status');
  const metrics = (await g.admin('GET', '/apisix/prometheus/metrics')).text;
  t.assert.match(metrics, /^apisix_stream_status\{code="429",[^}]*\} 1$/m, 'and in apisix_stream_status');
  for (const [conf, why] of [
    [{ rejected_msg: 'go away' }, /^failed to check the configuration of stream plugin \[limit-conn\]: rejected_msg: a refused stream session is closed without a reply/],
    [{ policy: 'redis' }, /policy/],
    [{ redis_host: '127.0.0.1' }, /property "redis_host" is not a limit-conn setting Sluice implements/],
  ] as const) {
    const r = await put(lc({ conn: 1, ...conf }));
    t.assert.equal(r.status, 400, r.text);
    t.assert.match((r.json as { error_msg: string }).error_msg, why);
  }
});
