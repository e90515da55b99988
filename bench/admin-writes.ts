// Admin API write cost: latency of PUT /apisix/admin/upstreams/<id> against a real gateway child (embedded store,
// one fsync'd transaction per write, then published to the workers), first from one client, then from several.
// Each run gets a fresh gateway and store, so both start empty and end with N upstreams; the first and last tenth
// of the writes are reported apart because a write's cost may grow with what the store already holds.
// A measurement, not a test:  npx node bench/admin-writes.ts [--n 2000] [--clients 8] [--workers 1]
import { Agent, request } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startChild } from '../test/fixtures/child.ts';

const ADMIN_KEY = 'bench0123456789abcdef0123456789ab';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '2000' },
    clients: { type: 'string', default: '8' },
    workers: { type: 'string', default: '1' },
  },
});
const N = Number(values.n);
const CLIENTS = Number(values.clients);
const WORKERS = values.workers;

function configYaml(): string {
  return `apisix:
  proxy_mode: stream
  stream_proxy: { tcp: [], udp: [] }
  enable_control: false
deployment:
  admin:
    admin_key: [{ name: admin, key: ${ADMIN_KEY}, role: admin }]
    admin_listen: { ip: 127.0.0.1, port: 0 }
sluice:
  workers: ${WORKERS}
`;
}

/** One PUT over a keep-alive connection; resolves with the status. */
function put(agent: Agent, base: URL, id: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({
      agent, host: base.hostname, port: base.port, method: 'PUT', path: `/apisix/admin/upstreams/${id}`,
      headers: { 'X-API-KEY': ADMIN_KEY, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function upstream(i: number): string {
  return JSON.stringify({ type: 'roundrobin', nodes: { [`127.0.0.1:${1024 + (i % 60000)}`]: 1 }, desc: `bench ${i}` });
}

function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** Latencies in issue order (lat[i] is the i-th write sent). */
interface Result { name: string; n: number; wallMs: number; lat: number[] }

/** `clients` loops run at once; each does its share of `n` PUTs one after another. */
async function run(name: string, base: URL, tag: string, n: number, clients: number): Promise<Result> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const lat: number[] = new Array<number>(n).fill(NaN);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    for (let i = next++; i < n; i = next++) {
      const s = performance.now();
      const status = await put(agent, base, `${tag}-${i}`, upstream(i));
      lat[i] = performance.now() - s;
      if (status !== 201 && status !== 200) throw new Error(`PUT ${tag}-${i}: HTTP ${status}`);
    }
  }));
  const wallMs = performance.now() - t0;
  agent.destroy();
  return { name, n, wallMs, lat };
}

const sorted = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);

function report(r: Result): string {
  const s = sorted(r.lat);
  const tenth = Math.max(1, Math.floor(r.n / 10));
  const f = (x: number) => x.toFixed(2).padStart(7);
  return `${r.name.padEnd(24)} n=${String(r.n).padEnd(5)} p50=${f(pct(s, 50))} ms  p99=${f(pct(s, 99))} ms  ` +
    `max=${f(s[s.length - 1] ?? NaN)} ms  ${(r.n / (r.wallMs / 1000)).toFixed(0).padStart(6)} writes/s  ` +
    `(p50 first tenth ${pct(sorted(r.lat.slice(0, tenth)), 50).toFixed(2)} ms, ` +
    `last tenth ${pct(sorted(r.lat.slice(-tenth)), 50).toFixed(2)} ms)`;
}

/** Starts a gateway on a fresh temp prefix, warms it up with a few writes (then deletes them), runs one measurement. */
async function fresh(name: string, clients: number): Promise<Result> {
  const prefix = mkdtempSync(path.join(tmpdir(), 'sluice-bench-'));
  try {
    mkdirSync(path.join(prefix, 'conf'));
    writeFileSync(path.join(prefix, 'conf', 'config.yaml'), configYaml());
    const gw = await startChild(prefix);
    try {
      const base = new URL(gw.adminUrl);
      await run('warm-up', base, 'warm', 50, 1);
      await deleteAll(base, 'warm', 50);
      return await run(name, base, 'w', N, clients);
    } finally {
      gw.kill('SIGTERM');
      await gw.exited;
    }
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
}

async function deleteAll(base: URL, tag: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await fetch(new URL(`/apisix/admin/upstreams/${tag}-${i}`, base), { method: 'DELETE', headers: { 'X-API-KEY': ADMIN_KEY } });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`DELETE ${tag}-${i}: HTTP ${res.status}`);
  }
}

async function main(): Promise<void> {
  console.log(`sluice admin PUT /apisix/admin/upstreams/<id>: node ${process.version}, ${availableParallelism()} CPUs, ` +
    `sluice.workers=${WORKERS}, store under ${tmpdir()}`);
  console.log(report(await fresh('sequential (1 client)', 1)));
  console.log(report(await fresh(`concurrent (${CLIENTS} clients)`, CLIENTS)));
}

await main();
