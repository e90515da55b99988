// The native relay (issue 13, native/): what only it can get wrong. The TCP suite (tcp-*.test.ts) runs on it in
// `npm test` and again on the TypeScript relay (`npm run test:js-relay`); here: it is in force when built (and CI
// fails if it was expected and did not load), bulk through splice to a slow reader with the hash intact and memory
// bounded, resets on either side, exact byte counts in the access log, no fd left behind after 10,000 sessions, a
// worker crash closing its native sessions, and native_relay: off.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { ADDON_PATH } from '../../src/dataplane/native/addon.ts';
import { startTestGateway, type TestGateway } from '../fixtures/gateway.ts';
import { delay, echoServer, scriptedServer, slowReader, talk } from '../fixtures/servers.ts';
import { endReasons, put, waitFor } from '../fixtures/upstream-helpers.ts';

/** .ci/run sets SLUICE_EXPECT_NATIVE=1: there a missing addon is a failure, not a skip. */
const EXPECTED = process.env.SLUICE_EXPECT_NATIVE === '1' || existsSync(ADDON_PATH);
const NATIVE = { sluice: { native_relay: 'auto' } } as const;

interface Status { native_relay: string; tcp: { native_relayed: number; active: number } }
const status = async (g: TestGateway): Promise<Status> => (await g.admin('GET', '/sluice/v1/status')).json as Status;

async function gateway(t: TestContext, over: Record<string, unknown> = {}): Promise<TestGateway> {
  return startTestGateway(t, { ...NATIVE, ...over, sluice: { ...NATIVE.sluice, ...(over['sluice'] as object | undefined) } }, { listeners: [{}] });
}

const openFds = (): number => readdirSync('/proc/self/fd').length;

test('native relay: in force where built (status "on"), sessions are relayed by it; native_relay: off → "off" and the TypeScript relay', { skip: !EXPECTED && `the addon is not built (${ADDON_PATH})` }, async (t: TestContext) => {
  const echo = await echoServer(t);
  const g = await gateway(t);
  await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [echo.node]: 1 } } });
  t.assert.equal((await status(g)).native_relay, 'on');
  const r = await talk(g.listenerPort(), { send: 'through native' });
  t.assert.equal(r.data.toString(), 'through native');
  t.assert.equal((await status(g)).tcp.native_relayed, 1);

  const off = await gateway(t, { sluice: { native_relay: 'off' } });
  await put(off, 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [echo.node]: 1 } } });
  t.assert.equal((await talk(off.listenerPort(), { send: 'through js' })).data.toString(), 'through js');
  const s = await status(off);
  t.assert.deepStrictEqual([s.native_relay, s.tcp.native_relayed], ['off', 0]);
});

test('native relay: 1 GiB to a slow reader arrives whole (sha256), with the proxy\'s memory bounded', { skip: !EXPECTED, timeout: 60_000 }, async (t: TestContext) => {
  const TOTAL = 1024 * 1024 * 1024;
  const reader = await slowReader(t, 600 * 1024 * 1024);
  const g = await gateway(t);
  await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [reader.node]: 1 } } });
  const rss0 = process.memoryUsage.rss();
  let peak = rss0;
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 50);
  t.after(() => clearInterval(sampler));
  const sock = connect({ port: g.listenerPort(), host: '127.0.0.1', allowHalfOpen: true });
  const h = createHash('sha256');
  const block = Buffer.alloc(1024 * 1024);
  let reply = '';
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => { reply += d; });
  await once(sock, 'connect');
  for (let sent = 0, i = 0; sent < TOTAL; sent += block.length, i++) {
    block.writeUInt32BE(i, 0); // every MiB differs: a lost or repeated block changes the hash
    h.update(block);
    if (!sock.write(Buffer.from(block))) await once(sock, 'drain');
  }
  sock.end();
  await once(sock, 'close');
  clearInterval(sampler);
  t.assert.equal(reply.trim(), `${TOTAL} ${h.digest('hex')}`);
  const grew = (peak - rss0) / 1024 / 1024;
  t.assert.ok(grew < 160, `the process's RSS grew ${grew.toFixed(0)} MiB while 1 GiB went through`);
  t.assert.equal((await status(g)).tcp.native_relayed, 1);
});

test('native relay: a reset on either side mid-transfer ends the session (UpstreamReset / ClientClosed) and closes the other side', { skip: !EXPECTED }, async (t: TestContext) => {
  const upSockets: Socket[] = [];
  const resetter = await scriptedServer(t, (s) => {
    upSockets.push(s);
    s.on('error', () => { /* the client's reset reaches us as an error */ });
    let tail = '';
    s.on('data', (d: Buffer) => {
      // the marker may arrive split over two reads
      tail = (tail + d.toString('latin1')).slice(-16);
      if (tail.includes('reset-me')) s.resetAndDestroy();
      else s.write(d);
    });
  });
  const g = await gateway(t);
  await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [resetter.node]: 1 } } });
  // the upstream resets: the client is closed
  const r = await talk(g.listenerPort(), { send: Buffer.concat([Buffer.alloc(200_000, 1), Buffer.from('reset-me')]), end: false, timeoutMs: 5000 });
  t.assert.ok(r.closed, 'the client was closed when the upstream reset');
  t.assert.deepStrictEqual(await endReasons(g), { UpstreamReset: 1 });
  // the client resets: the upstream side is closed
  const c = connect(g.listenerPort(), '127.0.0.1');
  c.on('error', () => { /* ours */ });
  await once(c, 'connect');
  c.write(Buffer.alloc(100_000, 2));
  const gotThere = await waitFor(() => upSockets.length === 2, 3000);
  t.assert.ok(gotThere.ok, 'the second session reached the upstream');
  const up = upSockets[1];
  // the gateway's FIN (or reset) reaches the upstream as 'end' or 'close' (it is a half-open server); not
  // events.once, which rejects when the upstream's own echo write then fails with EPIPE
  const upClosed = new Promise<void>((resolve) => {
    if (up === undefined) { resolve(); return; }
    up.on('end', resolve);
    up.on('close', resolve);
  });
  c.resetAndDestroy();
  const closed = await Promise.race([upClosed.then(() => true), delay(5000).then(() => false)]);
  t.assert.ok(closed, 'the upstream side was closed when the client reset');
  t.assert.deepStrictEqual(await endReasons(g), { UpstreamReset: 1, ClientClosed: 1 });
});

test('native relay: the access log counts exactly the bytes each peer sent, with a half-close both ways', { skip: !EXPECTED }, async (t: TestContext) => {
  const UP = 300_001;
  const DOWN = 5_000_003;
  const server = await scriptedServer(t, (s) => {
    let n = 0;
    s.on('data', (d: Buffer) => { n += d.length; });
    s.on('end', () => { s.end(Buffer.alloc(DOWN, 7)); t.assert.equal(n, UP, 'the upstream got every byte before the FIN'); });
  });
  const g = await gateway(t, { nginx_config: { stream: { enable_access_log: true, access_log: 'logs/access.log' } } });
  await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [server.node]: 1 } } });
  const r = await talk(g.listenerPort(), { send: Buffer.alloc(UP, 3), timeoutMs: 10_000 });
  t.assert.equal(r.data.length, DOWN);
  const file = path.join(g.prefix, 'logs', 'access.log');
  const line = await waitFor(() => existsSync(file) && readFileSync(file, 'utf8').trim() !== '', 3000);
  t.assert.ok(line.ok, 'a line was logged');
  // APISIX's default: $remote_addr [$time_local] $protocol $status $bytes_sent $bytes_received $session_time
  const m = / TCP (\d{3}) (\d+) (\d+) /.exec(readFileSync(file, 'utf8'));
  t.assert.deepStrictEqual([m?.[1], m?.[2], m?.[3]], ['200', String(DOWN), String(UP)]);
  t.assert.equal((await status(g)).tcp.native_relayed, 1);
});

test('native relay: 10,000 sessions leave no fd behind', { skip: !EXPECTED, timeout: 60_000 }, async (t: TestContext) => {
  const echo = await echoServer(t);
  const g = await gateway(t);
  await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [echo.node]: 1 } } });
  await talk(g.listenerPort(), { send: 'warm' });
  const before = openFds();
  const N = 10_000;
  const PARALLEL = 64;
  let bad = 0;
  let next = 0;
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    while (next < N) {
      const i = next++;
      const r = await talk(g.listenerPort(), { send: `s${i}`, timeoutMs: 5000 });
      if (r.data.toString() !== `s${i}`) bad++;
    }
  }));
  t.assert.equal(bad, 0);
  t.assert.ok((await waitFor(async () => (await status(g)).tcp.active === 0, 5000)).ok, 'every session ended');
  // the echo server's sockets close on their own time: allow for them, bounded
  const back = await waitFor(() => openFds() <= before, 5000);
  t.assert.ok(back.ok, `open fds: ${before} before, ${openFds()} after`);
  t.assert.equal((await status(g)).tcp.native_relayed, N + 1);
});

test('native relay: a worker that dies closes its native sessions (the clients are not left hanging)', { skip: !EXPECTED, timeout: 20_000 }, async (t: TestContext) => {
  const echo = await echoServer(t);
  const g = await gateway(t);
  await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [echo.node]: 1 } } });
  const c = connect({ port: g.listenerPort(), host: '127.0.0.1' });
  c.on('error', () => { /* seen as the close */ });
  c.setEncoding('utf8');
  await once(c, 'connect');
  c.write('ping');
  const [first] = await once(c, 'data') as [string];
  t.assert.equal(first, 'ping');
  t.assert.equal((await status(g)).tcp.native_relayed, 1);
  const closed = once(c, 'close');
  g.gw.pool.crashForTest(0);
  const done = await Promise.race([closed.then(() => true), delay(8000).then(() => false)]);
  t.assert.ok(done, 'the client was closed when its worker died');
});
