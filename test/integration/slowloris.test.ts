// Slowloris (issue 14): clients that send their first bytes one per second and never finish, on a TLS listener (a
// ClientHello) and on a PROXY-protocol listener (a v1 line) at once, against a gateway child. Each is closed by its
// timeout (tls_handshake_timeout, here 2 s; the PROXY header's 5 s), the gateway's memory stays bounded, and good
// clients on both listeners are served throughout. The 10,000-client run with latencies is bench/slowloris.ts.
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { test, type TestContext } from 'node:test';
import { PP_TIMEOUT_MS } from '../../src/dataplane/phases/proxy-protocol.ts';
import { sslBody, testCerts } from '../fixtures/certs.ts';
import { makePrefix } from '../fixtures/gateway.ts';
import { childAdmin, opsYaml, startOpsChild } from '../fixtures/load.ts';
import { echoServer } from '../fixtures/servers.ts';
import { build } from '../fixtures/tls-hello.ts';
import { waitFor } from '../fixtures/upstream-helpers.ts';

const SLOW = 1000;
const TLS_TIMEOUT_S = 2;
/** The gateway's clock starts at its accept; a client's at its 'connect' event, which a busy ramp delays. */
const EARLY_MS = 500;

test('slowloris on a TLS and a PROXY-protocol listener: every slow client closed by its timeout, memory bounded, good clients served', { timeout: 60_000 }, async (t: TestContext) => {
  const certs = testCerts();
  const echo = await echoServer(t);
  const prefix = makePrefix(t);
  const { child, ports } = await startOpsChild(t, prefix, 2, ([a, b]) => opsYaml({
    tcp: [{ addr: `127.0.0.1:${a ?? 0}`, tls: true }, { addr: `127.0.0.1:${b ?? 0}`, proxy_protocol: true }],
    sluice: { workers: 1, tls_handshake_timeout: TLS_TIMEOUT_S },
  }));
  const [tlsPort, ppPort] = [ports[0] ?? 0, ports[1] ?? 0];
  t.assert.equal((await childAdmin(child, 'PUT', '/apisix/admin/ssls/1', sslBody(certs.server.exact, 'test.com'))).status, 201);
  t.assert.equal((await childAdmin(child, 'PUT', '/apisix/admin/stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [echo.node]: 1 } } })).status, 201);
  const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? NaN);

  const good = (kind: 'tls' | 'pp'): Promise<boolean> => new Promise((resolve) => {
    const s: Socket = kind === 'tls'
      ? tlsConnect({ port: tlsPort, host: '127.0.0.1', servername: 'test.com', ca: certs.ca.cert })
      : netConnect({ port: ppPort, host: '127.0.0.1' });
    const done = (ok: boolean): void => { clearTimeout(timer); s.destroy(); resolve(ok); };
    const timer = setTimeout(() => done(false), 5000);
    s.on('error', () => done(false));
    s.once(kind === 'tls' ? 'secureConnect' : 'connect', () => s.write(kind === 'tls' ? 'ping' : 'PROXY TCP4 10.0.0.1 10.0.0.2 1234 80\r\nping'));
    s.on('data', (d: Buffer) => { if (d.toString().includes('ping')) done(true); });
  });
  t.assert.deepStrictEqual([await good('tls'), await good('pp')], [true, true]);
  const rss0 = rss();

  const hello = build({ sni: 'test.com' });
  const ppLine = Buffer.from('PROXY TCP4 10.0.0.1 10.0.0.2 1234 80\r\n');
  const slow: { sock: Socket; tls: boolean; msg: Buffer; sent: number; t0: number; closedAfter: number }[] = [];
  t.after(() => { for (const c of slow) c.sock.destroy(); });
  await Promise.all(Array.from({ length: SLOW }, (_, i) => new Promise<void>((resolve) => {
    const tls = i % 2 === 0;
    const sock = netConnect({ port: tls ? tlsPort : ppPort, host: '127.0.0.1' });
    const c = { sock, tls, msg: tls ? hello : ppLine, sent: 0, t0: 0, closedAfter: NaN };
    slow.push(c);
    sock.on('error', () => { /* closed by the gateway */ });
    sock.on('data', () => { /* an alert */ });
    sock.on('close', () => { c.closedAfter = performance.now() - c.t0; resolve(); });
    sock.once('connect', () => { c.t0 = performance.now(); resolve(); });
  })));
  const drip = setInterval(() => {
    for (const c of slow) if (Number.isNaN(c.closedAfter) && c.sent < c.msg.length - 1) c.sock.write(c.msg.subarray(c.sent, ++c.sent));
  }, 1000);
  t.after(() => clearInterval(drip));
  let peak = rss();
  const sampler = setInterval(() => { peak = Math.max(peak, rss()); }, 100);
  t.after(() => clearInterval(sampler));

  // good clients, one of each kind after the other, until every slow client is gone (bounded)
  let served = 0;
  let failed = 0;
  const allClosed = (): boolean => slow.every((c) => !Number.isNaN(c.closedAfter));
  const until = performance.now() + PP_TIMEOUT_MS + 10_000;
  while (!allClosed() && performance.now() < until) {
    for (const ok of await Promise.all([good('tls'), good('pp')])) if (ok) served++; else failed++;
  }
  t.assert.ok(allClosed(), `${slow.filter((c) => Number.isNaN(c.closedAfter)).length} slow clients still open`);
  const tlsAfter = slow.filter((c) => c.tls).map((c) => c.closedAfter);
  const ppAfter = slow.filter((c) => !c.tls).map((c) => c.closedAfter);
  const range = (xs: number[]): [number, number] => [Math.min(...xs), Math.max(...xs)];
  const [tlsMin, tlsMax] = range(tlsAfter);
  const [ppMin, ppMax] = range(ppAfter);
  t.diagnostic(`closed after: TLS ${tlsMin.toFixed(0)}-${tlsMax.toFixed(0)} ms, PROXY ${ppMin.toFixed(0)}-${ppMax.toFixed(0)} ms; good clients served ${served}, failed ${failed}; RSS ${rss0} → peak ${peak} KiB`);
  t.assert.ok(tlsMin >= TLS_TIMEOUT_S * 1000 - EARLY_MS && tlsMax < TLS_TIMEOUT_S * 1000 + 2500, `TLS slow clients closed after ${tlsMin.toFixed(0)}-${tlsMax.toFixed(0)} ms (tls_handshake_timeout ${TLS_TIMEOUT_S} s)`);
  t.assert.ok(ppMin >= PP_TIMEOUT_MS - EARLY_MS && ppMax < PP_TIMEOUT_MS + 2500, `PROXY slow clients closed after ${ppMin.toFixed(0)}-${ppMax.toFixed(0)} ms (${PP_TIMEOUT_MS} ms)`);
  t.assert.equal(failed, 0, `${failed} good clients were not served`);
  t.assert.ok(served >= 10, `good clients were served during the attack (${served})`);
  t.assert.ok((peak - rss0) / SLOW < 32, `gateway RSS grew ${((peak - rss0) / SLOW).toFixed(1)} KiB per slow client`);
  t.assert.ok((await waitFor(async () => ((await childAdmin(child, 'GET', '/sluice/v1/status')).json as { tcp: { active: number } }).tcp.active === 0, 5000)).ok, 'no session left');
});
