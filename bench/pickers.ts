// Micro-benchmark (issue 5, not a test): what one pick() costs per connection, in µs, for each balancer with 2, 10
// and 100 equal-weight nodes — the bare picker (with a usable() that reads the shared health table, as the priority
// wrapper's does) and the whole PriorityBalancer.pick() a session calls (health scan + priority groups + picker).
// chash hashes a different client address on every call; least_conn and ewma read live counts from the node table.
//
//   npx node bench/pickers.ts            # prints a Markdown table
//   npx node bench/pickers.ts --json     # one JSON object per row
import { UpstreamNode, type Balancer, type PickContext, type Usable } from '../src/dataplane/balancers/balancer.ts';
import { chashKey, ConsistentHash } from '../src/dataplane/balancers/chash.ts';
import { Ewma } from '../src/dataplane/balancers/ewma.ts';
import { LeastConn } from '../src/dataplane/balancers/least-conn.ts';
import { PriorityBalancer } from '../src/dataplane/balancers/priority.ts';
import { RoundRobin } from '../src/dataplane/balancers/roundrobin.ts';
import { createNodeTableBuffers, NodeTable } from '../src/lib/node-table.ts';
import type { NodeConf, UpstreamConf } from '../src/model/snapshot.ts';

const TYPES = ['roundrobin', 'chash', 'least_conn', 'ewma'] as const;
const SIZES = [2, 10, 100] as const;
const RUNS = 7;
const TARGET_MS = 100; // per run
/** The whole matrix runs this many times and the last pass is reported (earlier passes settle the JIT). */
const PASSES = 2;

function nodeConfs(n: number): NodeConf[] {
  return Array.from({ length: n }, (_, i) => ({
    host: `10.${i >> 8}.${i & 255}.1`, ip: `10.${i >> 8}.${i & 255}.1`, port: 8000 + i, weight: 1, priority: 0, slot: 1 + i,
  }));
}

function upstreamConf(type: string, nodes: NodeConf[]): UpstreamConf {
  return {
    key: 'upstreams/bench', version: type, type, nodes, scheme: 'tcp', hashOn: 'vars', hashKey: 'remote_addr',
    retries: undefined, retryTimeout: undefined, timeout: { connect: 60, send: 600, read: 600 }, timeoutSet: false,
    tls: undefined, checks: undefined,
  };
}

function bare(type: (typeof TYPES)[number], nodes: UpstreamNode[], table: NodeTable): Balancer {
  switch (type) {
    case 'roundrobin': return new RoundRobin(nodes);
    case 'chash': return new ConsistentHash(nodes, chashKey('vars', 'remote_addr'));
    case 'least_conn': return new LeastConn(nodes, table);
    case 'ewma': return new Ewma(nodes, table);
  }
}

/** 4096 client contexts with distinct addresses and ports (chash hashes each). */
const CTXS: PickContext[] = Array.from({ length: 4096 }, (_, i) => ({
  remoteAddr: `192.168.${(i >> 8) & 255}.${i & 255}`, remotePort: 20000 + i, serverAddr: '10.255.0.1', serverPort: 9100,
  sni: undefined, mqttClientId: undefined,
}));

/** Median ns per call of `fn` over RUNS runs of about TARGET_MS each. */
function measure(fn: (i: number) => unknown): number {
  // warm up, and size a run
  let calls = 1000;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) fn(i);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms > 20) {
      calls = Math.max(1000, Math.round(calls * (TARGET_MS / ms)));
      break;
    }
    calls *= 4;
  }
  const results: number[] = [];
  let sink = 0;
  for (let r = 0; r < RUNS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) if (fn(i) !== undefined) sink++;
    results.push(Number(process.hrtime.bigint() - t0) / calls);
  }
  if (sink < 0) console.log(sink); // keeps the calls observable
  results.sort((a, b) => a - b);
  return results[RUNS >> 1] as number;
}

interface Row { type: string; nodes: number; pickUs: number; wrappedUs: number }

function runMatrix(): Row[] {
  const rows: Row[] = [];
  for (const type of TYPES) {
    for (const n of SIZES) {
      const table = new NodeTable(createNodeTableBuffers());
      const confs = nodeConfs(n);
      // a realistic table: some open sessions on every node, one node unhealthy
      confs.forEach((c, i) => { for (let k = 0; k < (i % 5); k++) table.open(c.slot); });
      const nodes = confs.map((c) => new UpstreamNode(c));
      const b = bare(type, nodes, table);
      if (type === 'ewma') nodes.forEach((node, i) => b.report(node, 'ok', 1 + (i % 7)));
      table.setHealthy(confs[n - 1]?.slot ?? 1, false);
      const usable: Usable = (x) => table.isHealthy(x.slot);
      const pickNs = measure((i) => b.pick(CTXS[i & 4095] as PickContext, usable));
      const pb = new PriorityBalancer(upstreamConf(type, confs), table);
      if (type === 'ewma') pb.nodes.forEach((node, i) => pb.report(node, 'ok', 1 + (i % 7)));
      const tried = new Set<UpstreamNode>();
      const wrappedNs = measure((i) => pb.pick(CTXS[i & 4095] as PickContext, tried));
      rows.push({ type, nodes: n, pickUs: pickNs / 1000, wrappedUs: wrappedNs / 1000 });
    }
  }
  return rows;
}

let rows: Row[] = [];
for (let pass = 0; pass < PASSES; pass++) rows = runMatrix();

if (process.argv.includes('--json')) {
  for (const r of rows) console.log(JSON.stringify(r));
} else {
  console.log(`Node ${process.version}, pass ${PASSES} of ${PASSES}, median of ${RUNS} runs of ~${TARGET_MS} ms; µs per call`);
  console.log('');
  console.log('| balancer | nodes | pick() µs | PriorityBalancer.pick() µs |');
  console.log('|---|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.type} | ${r.nodes} | ${r.pickUs.toFixed(3)} | ${r.wrappedUs.toFixed(3)} |`);
}
