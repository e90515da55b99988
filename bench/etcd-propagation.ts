// Measures A→B propagation through a shared etcd (CONTRACT §3: a write is in force on every gateway sharing the etcd
// within 2 s). A real etcd on loopback (test/fixtures/etcd.ts), two gateways in this process, two upstreams that answer
// with their name. Each round PUTs route 1 on A towards the other upstream; from the moment A answers 2xx, B's data
// plane is polled (a new connection every ~1 ms) until the answer is the new upstream. Prints p50/p99/max of:
//   A:  PUT sent → A's 2xx (A's own Admin API waits until A's workers run it)
//   B:  A's 2xx → the write in force on B's data plane (what the 2 s promise is about)
//   B': PUT sent → in force on B
//   npx node bench/etcd-propagation.ts [rounds=200] [workers=1]
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/controlplane/config/load.ts';
import { silentLogger } from '../src/observe/log.ts';
import { startGateway, type Gateway } from '../src/process/gateway.ts';
import { startEtcd } from '../test/fixtures/etcd.ts';

const rounds = Number(process.argv[2] ?? 200);
const workers = Number(process.argv[3] ?? 1);
const KEY = 'bench-key-0123456789abcdef';
const LIMIT_MS = 5000;

function named(name: string): Promise<Server> {
  const s = createServer((c) => { c.on('error', () => {}); c.end(name); });
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r(s)));
}
function firstBytes(port: number): Promise<string> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    let got = '';
    c.on('data', (d: Buffer) => { got += d.toString(); });
    c.on('close', () => resolve(got));
    c.on('error', () => resolve(got));
  });
}
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;
const fmt = (xs: number[]): string => `p50=${pct(xs, 0.5).toFixed(1)}ms p99=${pct(xs, 0.99).toFixed(1)}ms max=${Math.max(...xs).toFixed(1)}ms`;

const etcd = await startEtcd();
const dirs: string[] = [];
async function gateway(): Promise<{ gw: Gateway; port: number; admin: string }> {
  const prefix = mkdtempSync(path.join(tmpdir(), 'sluice-etcd-prop-'));
  dirs.push(prefix);
  mkdirSync(path.join(prefix, 'conf'));
  writeFileSync(path.join(prefix, 'conf', 'config.yaml'), `apisix:
  proxy_mode: stream
  stream_proxy: { tcp: [] }
  enable_control: false
deployment:
  role_traditional: { config_provider: etcd }
  etcd: { host: ["${etcd.url}"], prefix: /apisix, timeout: 5 }
  admin:
    admin_key: [{ name: admin, key: ${KEY}, role: admin }]
    admin_listen: { ip: 127.0.0.1, port: 0 }
sluice: { workers: ${workers} }
`);
  const base = loadConfig({ prefix });
  const loaded = { ...base, listeners: [{ proto: 'tcp' as const, host: '127.0.0.1', port: 0, tls: false, proxyProtocol: false, proxyProtocolToUpstream: false, proxyProtocolToUpstreamVersion: 1 as const, source: 'bench' }] };
  const gw = await startGateway({ loaded, log: silentLogger() });
  return { gw, port: gw.port('tcp', '127.0.0.1', 0, 'bench'), admin: `http://127.0.0.1:${gw.admin?.port ?? 0}/apisix/admin/stream_routes/1` };
}

const A = await gateway();
const B = await gateway();
const x = await named('X');
const y = await named('Y');
const putMs: number[] = [];
const toB: number[] = [];
const sentToB: number[] = [];
let missed = 0;
for (let i = 0; i < rounds; i++) {
  const want = i % 2 === 0 ? 'X' : 'Y';
  const up = (want === 'X' ? x : y).address() as AddressInfo;
  const t0 = performance.now();
  const res = await fetch(A.admin, { method: 'PUT', headers: { 'X-API-KEY': KEY }, body: JSON.stringify({ upstream: { nodes: { [`127.0.0.1:${up.port}`]: 1 } } }) });
  await res.text();
  if (res.status !== 200 && res.status !== 201) throw new Error(`PUT on A: ${res.status}`);
  const t1 = performance.now();
  putMs.push(t1 - t0);
  for (;;) {
    if ((await firstBytes(B.port)) === want) break;
    if (performance.now() - t1 > LIMIT_MS) { missed++; break; }
  }
  const t2 = performance.now();
  toB.push(t2 - t1);
  sentToB.push(t2 - t0);
}
console.log(`etcd ${etcd.url} workers=${workers} rounds=${rounds} missed(>${LIMIT_MS}ms)=${missed}`);
console.log(`A:  PUT sent -> A 2xx          ${fmt(putMs)}`);
console.log(`B:  A 2xx -> in force on B     ${fmt(toB)}`);
console.log(`B': PUT sent -> in force on B  ${fmt(sentToB)}`);
await A.gw.close();
await B.gw.close();
x.close();
y.close();
await etcd.close();
for (const d of dirs) rmSync(d, { recursive: true, force: true });
