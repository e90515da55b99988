// Issue 8: how long until every worker has acknowledged an Admin API write. A measurement, not a test.
// A gateway in this process (embedded store, N workers, 2 by default) takes `writes` sequential PUTs of stream route
// 1, alternating between two upstream nodes, after a warm-up. Three figures per write:
//   PUT→2xx               the client's view (store write + snapshot build + publish + every worker's ack + reply);
//   publish→all acked     from WorkerPool.publish(snapshot) to the moment every live worker has acknowledged its version
//                         (pool.publish is wrapped on this instance only; production code is unchanged);
//   2xx→all acked         right after the 2xx, how long pool.published(<current version>) takes to resolve: 0 by
//                         construction, since the Admin API answers only once every worker has acknowledged.
//   npx node bench/ack-latency.ts [writes=1000] [workers=2]
import type { SnapshotData } from '../src/model/snapshot.ts';
import { benchGateway, KEY, pct } from './kit.ts';

const writes = Number(process.argv[2] ?? 1000);
const workers = Number(process.argv[3] ?? 2);
const WARMUP = 50;

const line = (name: string, xs: readonly number[]): string =>
  `${name.padEnd(22)} n=${xs.length} p50=${pct(xs, 0.5).toFixed(3)}ms p99=${pct(xs, 0.99).toFixed(3)}ms max=${Math.max(...xs).toFixed(3)}ms`;

const g = await benchGateway(workers);
const gw = g.gw;
const pool = gw.pool;

// publish→all acked, for every snapshot the builder publishes from now on.
let measuring = false;
const publishToAck: number[] = [];
const publish = pool.publish.bind(pool);
pool.publish = (snap: SnapshotData): void => {
  const t0 = performance.now();
  publish(snap);
  void pool.published(snap.version).then(() => {
    if (measuring) publishToAck.push(performance.now() - t0);
  });
};

const url = g.routeUrl;
const putToOk: number[] = [];
const okToAck: number[] = [];
let bad = 0;
for (let i = 0; i < WARMUP + writes; i++) {
  measuring = i >= WARMUP;
  const body = JSON.stringify({ upstream: { type: 'roundrobin', nodes: { [`127.0.0.1:${i % 2 === 0 ? 1980 : 1981}`]: 1 } } });
  const t0 = performance.now();
  const res = await fetch(url, { method: 'PUT', headers: { 'X-API-KEY': KEY }, body });
  await res.text();
  const t1 = performance.now();
  if (res.status !== 200 && res.status !== 201) bad++;
  await pool.published(gw.builder.current?.version ?? 0);
  const t2 = performance.now();
  if (measuring) {
    putToOk.push(t1 - t0);
    okToAck.push(t2 - t1);
  }
}
measuring = false;
console.log(`workers=${workers} writes=${writes} (after ${WARMUP} warm-up) non-2xx=${bad} node ${process.version}`);
console.log(line('PUT→2xx', putToOk));
console.log(line('publish→all acked', publishToAck));
console.log(line('2xx→all acked', okToAck));
await g.close();
