// Measures how fast an Admin API write is in force on the data plane (CONTRACT §3: within 1 s, target 50 ms).
// A gateway (in this process, 2 workers) and two upstreams that answer with their name; each round PUTs route 1
// towards the other upstream, and right after the 2xx opens a connection and checks which upstream answers.
// The Admin API answers only after every worker acknowledged the new snapshot, so the check must never see the
// old upstream. Prints PUT→2xx latency p50/p99 and the number of stale answers.
//   npx node bench/propagation.ts [rounds=200] [workers=2]
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/controlplane/config/load.ts';
import { silentLogger } from '../src/observe/log.ts';
import { startGateway } from '../src/process/gateway.ts';

const rounds = Number(process.argv[2] ?? 200);
const workers = Number(process.argv[3] ?? 2);
const KEY = 'bench-key-0123456789abcdef';

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

const prefix = mkdtempSync(path.join(tmpdir(), 'sluice-prop-'));
mkdirSync(path.join(prefix, 'conf'));
writeFileSync(path.join(prefix, 'conf', 'config.yaml'), `apisix:
  proxy_mode: stream
  stream_proxy: { tcp: [] }
  enable_control: false
deployment:
  admin:
    admin_key: [{ name: admin, key: ${KEY}, role: admin }]
    admin_listen: { ip: 127.0.0.1, port: 0 }
sluice: { workers: ${workers} }
`);
const base = loadConfig({ prefix });
const loaded = { ...base, listeners: [{ proto: 'tcp' as const, host: '127.0.0.1', port: 0, tls: false, proxyProtocol: false, proxyProtocolToUpstream: false, proxyProtocolToUpstreamVersion: 1 as const, source: 'bench' }] };
const gw = await startGateway({ loaded, log: silentLogger() });
const port = gw.port('tcp', '127.0.0.1', 0, 'bench');
const a = await named('A');
const b = await named('B');
const admin = `http://127.0.0.1:${gw.admin?.port ?? 0}/apisix/admin/stream_routes/1`;
const lat: number[] = [];
let stale = 0;
for (let i = 0; i < rounds; i++) {
  const want = i % 2 === 0 ? 'A' : 'B';
  const up = (want === 'A' ? a : b).address() as AddressInfo;
  const t0 = performance.now();
  const res = await fetch(admin, { method: 'PUT', headers: { 'X-API-KEY': KEY }, body: JSON.stringify({ upstream: { nodes: { [`127.0.0.1:${up.port}`]: 1 } } }) });
  await res.text();
  lat.push(performance.now() - t0);
  if ((await firstBytes(port)) !== want) stale++;
}
console.log(`workers=${workers} rounds=${rounds} PUT->2xx (published to all workers) p50=${pct(lat, 0.5).toFixed(2)}ms p99=${pct(lat, 0.99).toFixed(2)}ms max=${Math.max(...lat).toFixed(2)}ms stale=${stale}`);
await gw.close();
a.close();
b.close();
rmSync(prefix, { recursive: true, force: true });
