// The connections API under a full inventory (issue 15): N live sessions, half TCP and half UDP (the machine's hard
// limit of 20,000 fds per process rules out 10,000 TCP sessions: each holds two fds in the gateway), held open
// through a gateway child (`bin/sluice start`, the compiled build, 2 workers). Measured: how long
// `GET /sluice/v1/connections?limit=10000` takes, back to back for `seconds`, and the latency of a proxied request
// (a 1-byte echo on its own connection) before and during that loop: listing must not stall the workers.
//   npx node bench/connections-list.ts [sessions=10000] [seconds=5]
import { spawn } from 'node:child_process';
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { startChild } from '../test/fixtures/child.ts';
import { ADMIN_KEY, adminRequest, baseConfig } from '../test/fixtures/gateway.ts';
import { freePort } from '../test/fixtures/servers.ts';
import { fmt } from './kit.ts';

const N = Number(process.argv[2] ?? 10_000);
const SECONDS = Number(process.argv[3] ?? 5);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

// The echo nodes in a process of their own (their fds do not count against this one's limit).
const echoCode = `const net = require('net'); const dgram = require('dgram');
const t = net.createServer((s) => { s.on('error', () => {}); s.pipe(s); });
const u = dgram.createSocket('udp4'); u.on('message', (m, r) => u.send(m, r.port, r.address));
t.listen(0, '127.0.0.1', () => u.bind(0, '127.0.0.1', () => process.stdout.write(t.address().port + ' ' + u.address().port + '\\n')));`;
const echo = spawn(process.execPath, ['-e', echoCode], { stdio: ['ignore', 'pipe', 'inherit'] });
const [tcpEcho, udpEcho] = ((await once(echo.stdout, 'data')) as [Buffer])[0].toString().trim().split(' ').map(Number) as [number, number];

const [tcpPort, udpPort] = [await freePort(), await freePort()];
const prefix = mkdtempSync(path.join(tmpdir(), 'sluice-conns-'));
mkdirSync(path.join(prefix, 'conf'));
const base = baseConfig() as { apisix: Record<string, unknown>; sluice: Record<string, unknown> };
writeFileSync(path.join(prefix, 'conf', 'config.yaml'), stringify({
  ...base,
  apisix: { ...base.apisix, stream_proxy: { tcp: [{ addr: `127.0.0.1:${tcpPort}` }], udp: [`127.0.0.1:${udpPort}`] } },
  sluice: { ...base.sluice, workers: 2 },
}));
const child = await startChild(prefix, { command: path.join(ROOT, 'bin/sluice'), cwd: prefix });
const put = async (id: string, body: unknown): Promise<void> => {
  const r = await adminRequest(child.adminUrl, 'PUT', `/apisix/admin/stream_routes/${id}`, body);
  if (r.status >= 300) throw new Error(`PUT ${id}: ${r.status} ${r.text}`);
};
await put('tcp', { server_port: tcpPort, upstream: { nodes: { [`127.0.0.1:${tcpEcho}`]: 1 } } });
await put('udp', { server_port: udpPort, upstream: { nodes: { [`127.0.0.1:${udpEcho}`]: 1 } } });

/** A TCP session through the gateway that has echoed one byte (so it is relaying). */
function openTcp(): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const s = connect(tcpPort, '127.0.0.1');
    const timer = setTimeout(() => { s.destroy(); resolve(undefined); }, 10_000);
    s.on('error', () => { clearTimeout(timer); resolve(undefined); });
    s.once('connect', () => s.write('x'));
    s.once('data', () => { clearTimeout(timer); resolve(s); });
  });
}
/** A UDP session: a client socket whose first datagram came back. */
function openUdp(): Promise<DgramSocket | undefined> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => { s.close(); resolve(undefined); }, 10_000);
    s.once('message', () => { clearTimeout(timer); resolve(s); });
    s.bind(0, '127.0.0.1', () => s.send('x', udpPort, '127.0.0.1'));
  });
}

const tcp: Socket[] = [];
const udp: DgramSocket[] = [];
const t0 = performance.now();
for (let i = 0; i < N / 2; i += 250) {
  const batch = Math.min(250, N / 2 - i);
  for (const s of await Promise.all(Array.from({ length: batch }, openTcp))) if (s !== undefined) tcp.push(s);
  for (const s of await Promise.all(Array.from({ length: batch }, openUdp))) if (s !== undefined) udp.push(s);
}
const rampMs = performance.now() - t0;

/** Round trips of one byte on one connection through the gateway, for `ms`. */
async function pings(ms: number): Promise<number[]> {
  const s = await openTcp();
  if (s === undefined) throw new Error('the ping connection failed');
  const out: number[] = [];
  const until = performance.now() + ms;
  while (performance.now() < until) {
    const a = performance.now();
    s.write('p');
    await once(s, 'data');
    out.push(performance.now() - a);
  }
  s.destroy();
  return out;
}

/**
 * The list fetched back to back for `ms`, from a process of its own (so its parsing of 3 MB answers does not delay
 * this process's echo timings): time to the answer's headers (the gateway's work: the body is sent whole once built)
 * and to its last byte; the total as parsed from the last answer.
 */
async function listLoop(ms: number): Promise<{ headers: number[]; whole: number[]; total: number }> {
  const code = `const url = process.argv[1]; const key = process.argv[2]; const until = performance.now() + Number(process.argv[3]);
(async () => { const headers = []; const whole = []; let text = '';
  while (performance.now() < until) { const a = performance.now();
    const res = await fetch(url, { headers: { 'X-API-KEY': key } }); headers.push(performance.now() - a);
    text = await res.text(); whole.push(performance.now() - a); }
  process.stdout.write(JSON.stringify({ headers, whole, total: JSON.parse(text).total })); })();`;
  const p = spawn(process.execPath, ['-e', code, `${child.adminUrl}/sluice/v1/connections?limit=10000`, ADMIN_KEY, String(ms)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  await once(p, 'close');
  return JSON.parse(out) as { headers: number[]; whole: number[]; total: number };
}

const before = await pings(3000);
const [during, listed] = await Promise.all([pings(SECONDS * 1000), listLoop(SECONDS * 1000)]);
console.log(`sessions held: ${tcp.length} TCP + ${udp.length} UDP, opened in ${rampMs.toFixed(0)} ms; total in the last answer: ${listed.total}`);
console.log(`GET /sluice/v1/connections?limit=10000: ${listed.whole.length} answers in ${SECONDS} s; to the headers ${fmt(listed.headers)}; to the last byte ${fmt(listed.whole)}`);
console.log(`proxied 1-byte echo: before ${fmt(before)}; during the list loop ${fmt(during)}`);
for (const s of tcp) s.destroy();
for (const s of udp) s.close();
child.kill("SIGTERM");
await child.exited;
echo.kill('SIGTERM');
