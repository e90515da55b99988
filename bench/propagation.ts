// Measures how fast an Admin API write is in force on the data plane (CONTRACT §3: within 1 s, target 50 ms).
// A gateway (in this process, 2 workers) and two upstreams that answer with their name; each round PUTs route 1
// towards the other upstream, and right after the 2xx opens a connection and checks which upstream answers.
// The Admin API answers only after every worker acknowledged the new snapshot, so the check must never see the
// old upstream. Prints PUT→2xx latency p50/p99 and the number of stale answers.
//   npx node bench/propagation.ts [rounds=200] [workers=2]
import { benchGateway, firstBytes, fmt, namedServer, putRoute } from './kit.ts';

const rounds = Number(process.argv[2] ?? 200);
const workers = Number(process.argv[3] ?? 2);

const g = await benchGateway(workers);
const a = await namedServer('A');
const b = await namedServer('B');
const lat: number[] = [];
let stale = 0;
for (let i = 0; i < rounds; i++) {
  const want = i % 2 === 0 ? 'A' : 'B';
  const t0 = performance.now();
  await putRoute(g.routeUrl, (want === 'A' ? a : b).port);
  lat.push(performance.now() - t0);
  if ((await firstBytes(g.port)) !== want) stale++;
}
console.log(`workers=${workers} rounds=${rounds} PUT->2xx (published to all workers) ${fmt(lat)} stale=${stale}`);
await g.close();
a.close();
b.close();
