// Slowloris against a TLS listener and a PROXY-protocol listener at once (issue 14): N clients (half on each) that
// send their first bytes one per second (a ClientHello, or a PROXY v1 line) and never finish, against a gateway child
// (`bin/sluice start`, the compiled build, one worker). Meanwhile good clients (a full TLS handshake and an echo, or a
// PROXY header and an echo) run one after another on each listener; their latency is measured before and during the
// attack. Reported: how many slow clients were closed by the gateway and after how long (tls_handshake_timeout 5 s,
// the PROXY header's 5 s), the gateway's RSS before / at the peak, good clients' p50/p99 before and during.
//   npx node bench/slowloris.ts [clients=10000] [seconds=12]
import { connect as netConnect, createServer, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { startChild } from '../test/fixtures/child.ts';
import { sslBody, testCerts } from '../test/fixtures/certs.ts';
import { adminRequest, baseConfig } from '../test/fixtures/gateway.ts';
import { freePort } from '../test/fixtures/servers.ts';
import { build } from '../test/fixtures/tls-hello.ts';
import { fmt } from './kit.ts';

const N = Number(process.argv[2] ?? 10_000);
const SECONDS = Number(process.argv[3] ?? 12);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

const echo = createServer((s) => { s.on('error', () => { /* the gateway cuts */ }); s.pipe(s); });
await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
const echoNode = `127.0.0.1:${(echo.address() as AddressInfo).port}`;

const [tlsPort, ppPort] = [await freePort(), await freePort()];
const prefix = mkdtempSync(path.join(tmpdir(), 'sluice-slowloris-'));
mkdirSync(path.join(prefix, 'conf'));
const base = baseConfig() as { apisix: Record<string, unknown>; sluice: Record<string, unknown> };
writeFileSync(path.join(prefix, 'conf', 'config.yaml'), stringify({
  ...base,
  apisix: { ...base.apisix, stream_proxy: { tcp: [{ addr: `127.0.0.1:${tlsPort}`, tls: true }, { addr: `127.0.0.1:${ppPort}`, proxy_protocol: true }], udp: [] } },
  sluice: { ...base.sluice, workers: 1, tls_handshake_timeout: 5 },
}));
const child = await startChild(prefix, { command: path.join(ROOT, 'bin/sluice'), cwd: prefix });
const certs = testCerts();
await adminRequest(child.adminUrl, 'PUT', '/apisix/admin/ssls/1', sslBody(certs.server.exact, 'test.com'));
await adminRequest(child.adminUrl, 'PUT', '/apisix/admin/stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [echoNode]: 1 } } });
const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

/** One good client: TLS handshake + echo, or PROXY header + echo; resolves with its ms (NaN on failure). */
function good(kind: 'tls' | 'pp'): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const done = (ok: boolean): void => { clearTimeout(timer); s.destroy(); resolve(ok ? performance.now() - t0 : NaN); };
    const s: Socket = kind === 'tls'
      ? tlsConnect({ port: tlsPort, host: '127.0.0.1', servername: 'test.com', ca: certs.ca.cert })
      : netConnect({ port: ppPort, host: '127.0.0.1' });
    const timer = setTimeout(() => done(false), 10_000);
    s.on('error', () => done(false));
    s.once(kind === 'tls' ? 'secureConnect' : 'connect', () => s.write(kind === 'tls' ? 'ping' : 'PROXY TCP4 10.0.0.1 10.0.0.2 1234 80\r\nping'));
    s.on('data', (d: Buffer) => { if (d.toString().includes('ping')) done(true); });
  });
}

async function goodLoop(ms: number): Promise<{ tls: number[]; pp: number[]; failed: number }> {
  const out = { tls: [] as number[], pp: [] as number[], failed: 0 };
  const until = performance.now() + ms;
  while (performance.now() < until) {
    const [a, b] = await Promise.all([good('tls'), good('pp')]);
    for (const [v, list] of [[a, out.tls], [b, out.pp]] as const) if (Number.isNaN(v)) out.failed++; else list.push(v);
    await new Promise((r) => setTimeout(r, 20));
  }
  return out;
}

const before = await goodLoop(3000);
const rss0 = rss();

// The slow clients: each sends the next byte of its first message once a second, and never the last one.
const hello = build({ sni: 'test.com' });
const ppLine = Buffer.from('PROXY TCP4 10.0.0.1 10.0.0.2 1234 80\r\n');
interface Slow { sock: Socket; msg: Buffer; sent: number; t0: number; closedAfter: number }
const slow: Slow[] = [];
let opened = 0;
const openOne = (i: number): Promise<void> => new Promise((resolve) => {
  const tls = i % 2 === 0;
  const sock = netConnect({ port: tls ? tlsPort : ppPort, host: '127.0.0.1' });
  const c: Slow = { sock, msg: tls ? hello : ppLine, sent: 0, t0: 0, closedAfter: NaN };
  slow.push(c);
  sock.on('error', () => { /* the gateway closes it */ });
  sock.on('close', () => { c.closedAfter = performance.now() - c.t0; });
  sock.on('data', () => { /* a TLS alert, if any */ });
  sock.once('connect', () => { c.t0 = performance.now(); opened++; resolve(); });
  setTimeout(resolve, 5000);
});
const t0 = performance.now();
for (let i = 0; i < N; i += 200) await Promise.all(Array.from({ length: Math.min(200, N - i) }, (_, k) => openOne(i + k)));
const rampMs = performance.now() - t0;
const drip = setInterval(() => {
  for (const c of slow) if (Number.isNaN(c.closedAfter) && c.sent < c.msg.length - 1) c.sock.write(c.msg.subarray(c.sent, ++c.sent));
}, 1000);
let peak = rss();
const sampler = setInterval(() => { peak = Math.max(peak, rss()); }, 200);
const during = await goodLoop(SECONDS * 1000);
clearInterval(drip);
clearInterval(sampler);
const closed = slow.filter((c) => !Number.isNaN(c.closedAfter));
const after = closed.map((c) => c.closedAfter);
console.log(`slow clients: ${N} (half TLS, half PROXY protocol), ${opened} connected in ${rampMs.toFixed(0)} ms; closed by the gateway within ${SECONDS} s: ${closed.length}, after ${fmt(after)}`);
console.log(`gateway RSS: ${rss0.toFixed(1)} MiB before, peak ${peak.toFixed(1)} MiB during (+${((peak - rss0) * 1024 / N).toFixed(2)} KiB per slow client)`);
console.log(`good TLS clients  before: ${fmt(before.tls)}; during: ${fmt(during.tls)}`);
console.log(`good PROXY clients before: ${fmt(before.pp)}; during: ${fmt(during.pp)}`);
console.log(`good clients failed: ${before.failed} before, ${during.failed} during`);
for (const c of slow) c.sock.destroy();
child.kill('SIGTERM');
await child.exited;
echo.close();
