// Measures A→B propagation through a shared etcd (CONTRACT §3: a write is in force on every gateway sharing the etcd
// within 2 s). A real etcd on loopback (test/fixtures/etcd.ts), two gateways in this process, two upstreams that answer
// with their name. Each round PUTs route 1 on A towards the other upstream; from the moment A answers 2xx, B's data
// plane is polled (a new connection every ~1 ms) until the answer is the new upstream. Prints p50/p99/max of:
//   A:  PUT sent → A's 2xx (A's own Admin API waits until A's workers run it)
//   B:  A's 2xx → the write in force on B's data plane (what the 2 s promise is about)
//   B': PUT sent → in force on B
//   npx node bench/etcd-propagation.ts [rounds=200] [workers=1]
import { benchGateway, firstBytes, fmt, namedServer, putRoute } from './kit.ts';
import { startEtcd } from '../test/fixtures/etcd.ts';

const rounds = Number(process.argv[2] ?? 200);
const workers = Number(process.argv[3] ?? 1);
const LIMIT_MS = 5000;

const etcd = await startEtcd();
const gateway = (): ReturnType<typeof benchGateway> =>
  benchGateway(workers, `  role_traditional: { config_provider: etcd }\n  etcd: { host: ["${etcd.url}"], prefix: /apisix, timeout: 5 }\n`);

const A = await gateway();
const B = await gateway();
const x = await namedServer('X');
const y = await namedServer('Y');
const putMs: number[] = [];
const toB: number[] = [];
const sentToB: number[] = [];
let missed = 0;
for (let i = 0; i < rounds; i++) {
  const want = i % 2 === 0 ? 'X' : 'Y';
  const t0 = performance.now();
  const status = await putRoute(A.routeUrl, (want === 'X' ? x : y).port);
  if (status !== 200 && status !== 201) throw new Error(`PUT on A: ${status}`);
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
console.log(`A:  PUT sent -> A 2xx          ${fmt(putMs, 1)}`);
console.log(`B:  A 2xx -> in force on B     ${fmt(toB, 1)}`);
console.log(`B': PUT sent -> in force on B  ${fmt(sentToB, 1)}`);
await A.close();
await B.close();
x.close();
y.close();
await etcd.close();
