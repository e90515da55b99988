// Issue 8, the test of the issue: a real gateway child with 2 workers carries 1,000 open connections to an echo
// upstream (64 KiB each way per connection, in 1 KiB chunks spread over the test, sha256-checked), while 200 Admin API
// changes (route 1 alternating between an inline upstream and upstream u1, PATCH of u1's nodes (sub-path: replaced), DELETE/PUT of route 2)
// and 3 SIGHUPs (a listener added, another added, the first removed) happen. No session is cut, every byte comes back
// intact, the sessions keep the upstream they started with, and afterwards new connections follow the latest config.
import { test, type TestContext } from 'node:test';
import { makePrefix } from '../fixtures/gateway.ts';
import { childAdmin, opsYaml, sighup, startOpsChild, streamLoad, writeConfig, type HupOutcome } from '../fixtures/load.ts';
import { delay, echoServer, freePort, talk } from '../fixtures/servers.ts';

const CONNECTIONS = 1000;
const CHUNK = 1024;
const CHUNKS = 64;
const HELD = 4;
const CHANGES = 200;
/** The change index before which each SIGHUP happens. */
const HUP_AT = [50, 100, 150];
const PROBES = 20;

const loop = (port: number): string => `127.0.0.1:${port}`;

test('1,000 sessions carry traffic through 200 config changes and 3 SIGHUPs: none cut, every byte intact', { timeout: 60_000 }, async (t: TestContext) => {
  t.plan(10);
  const [e1, e2, e3, e4] = await Promise.all([echoServer(t), echoServer(t), echoServer(t), echoServer(t)]);
  if (e1 === undefined || e2 === undefined || e3 === undefined || e4 === undefined) throw new Error('echo servers');
  const prefix = makePrefix(t);
  const { child, ports } = await startOpsChild(t, prefix, 1, ([p]) => opsYaml({ tcp: [loop(p ?? 0)] }));
  const main = ports[0] ?? 0;
  const admin = (method: string, p: string, body?: unknown): Promise<number> => childAdmin(child, method, `/apisix/admin/${p}`, body).then((r) => r.status);

  // Listener ports for the SIGHUPs, chosen as they are needed (another one if the first was taken in between).
  let l2 = 0;
  let l3 = 0;
  const hup = async (tcp: () => number[]): Promise<HupOutcome> => {
    for (let attempt = 0; ; attempt++) {
      writeConfig(prefix, opsYaml({ tcp: tcp().map(loop) }));
      const r = await sighup(child);
      if (attempt >= 3 || !r.problems.some((p) => p.includes('EADDRINUSE'))) return r;
      if (r.problems.some((p) => p.includes(String(l2)))) l2 = await freePort();
      if (r.problems.some((p) => p.includes(String(l3)))) l3 = await freePort();
    }
  };

  const setup = [
    await admin('PUT', 'upstreams/u1', { type: 'roundrobin', nodes: { [e1.node]: 1 } }),
    await admin('PUT', 'stream_routes/1', { upstream_id: 'u1' }),
    // route 2 is only for connections to port 1 (nothing listens there): it never takes the load's sessions
    await admin('PUT', 'stream_routes/2', { server_port: 1, upstream: { type: 'roundrobin', nodes: { [e4.node]: 1 } } }),
  ];

  const load = streamLoad({ port: main, connections: CONNECTIONS, chunkBytes: CHUNK, chunks: CHUNKS, held: HELD, tickMs: 80, deadlineMs: 45_000 });
  t.after(() => load.destroy());
  await load.established;
  const before = load.received();

  // 200 changes, one at a time (each 2xx means every worker has it); the SIGHUPs in between.
  const statuses: string[] = [];
  const hups: HupOutcome[] = [];
  const t0 = performance.now();
  for (let i = 0; i < CHANGES; i++) {
    if (i === HUP_AT[0]) {
      l2 = await freePort();
      hups.push(await hup(() => [main, l2]));
    } else if (i === HUP_AT[1]) {
      l3 = await freePort();
      hups.push(await hup(() => [main, l2, l3]));
    } else if (i === HUP_AT[2]) {
      hups.push(await hup(() => [main, l3]));
    }
    const cycle = Math.floor(i / 5);
    const [method, what, body] = ([
      ['PUT', 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [e2.node]: 1 } } }],
      ['DELETE', 'stream_routes/2', undefined],
      ['PATCH', 'upstreams/u1/nodes', { [(cycle % 2 === 1 ? e3 : e1).node]: 1 }],
      ['PUT', 'stream_routes/2', { server_port: l3 === 0 ? 1 : l3, upstream: { type: 'roundrobin', nodes: { [e4.node]: 1 } } }],
      ['PUT', 'stream_routes/1', { upstream_id: 'u1' }],
    ] as const)[i % 5] ?? ['GET', '', undefined];
    statuses.push(`${i} ${method} ${what} ${await admin(method, what, body)}`);
  }
  const changeMs = performance.now() - t0;
  const during = load.received();
  load.finish();
  const report = await load.done;

  t.assert.deepStrictEqual(setup, [201, 201, 201]);
  t.assert.deepStrictEqual(statuses.filter((s) => !/ 20[01]$/.test(s)), [], 'every change was accepted');
  t.assert.deepStrictEqual(hups.map((h) => [h.outcome, h.problems]), [['reloaded', []], ['reloaded', []], ['reloaded', []]]);
  // the changes happened while every connection was carrying traffic (each got bytes back during them)
  const idle = during.flatMap((n, i) => (n > (before[i] ?? 0) ? [] : [i]));
  t.assert.deepStrictEqual(idle, [], `connections with no traffic during the ${changeMs.toFixed(0)} ms of changes`);
  t.assert.deepStrictEqual(report.failures, [], 'every session ran to its end with every byte intact');
  t.assert.strictEqual(e1.connections(), CONNECTIONS, 'the sessions kept the upstream they started with; nothing else went there');

  // The gateway's side: every session ended Done, none lost, no worker restarted.
  let status: { workers_restarted?: number; sessions_lost_with_a_worker?: number; tcp?: { active?: number }; ended_by_reason?: Record<string, number> } = {};
  for (let i = 0; i < 100; i++) {
    status = (await childAdmin(child, 'GET', '/sluice/v1/status')).json as typeof status;
    if (status.tcp?.active === 0) break;
    await delay(20);
  }
  const reasons = Object.fromEntries(Object.entries(status.ended_by_reason ?? {}).filter(([, n]) => n > 0));
  t.assert.deepStrictEqual(
    { restarted: status.workers_restarted, lost: status.sessions_lost_with_a_worker, active: status.tcp?.active, reasons },
    { restarted: 0, lost: 0, active: 0, reasons: { Done: CONNECTIONS } },
  );

  // New connections follow the latest config: route 1 → u1 → e3 (the last PATCH), route 2 on the listener added
  // last → e4, and the listener removed refuses.
  const counts = (): number[] => [e1, e2, e3, e4].map((e) => e.connections());
  const c0 = counts();
  const probes = [];
  for (let i = 0; i < PROBES; i++) probes.push(await talk(main, { send: `probe-${i}` }));
  const c1 = counts();
  t.assert.deepStrictEqual(
    { replies: probes.map((r) => r.data.toString()), upstreams: c1.map((n, i) => n - (c0[i] ?? 0)) },
    { replies: Array.from({ length: PROBES }, (_, i) => `probe-${i}`), upstreams: [0, 0, PROBES, 0] },
  );
  const viaL3 = [];
  for (let i = 0; i < PROBES; i++) viaL3.push(await talk(l3, { send: `l3-${i}` }));
  t.assert.deepStrictEqual(
    { replies: viaL3.map((r) => r.data.toString()), upstreams: counts().map((n, i) => n - (c1[i] ?? 0)) },
    { replies: Array.from({ length: PROBES }, (_, i) => `l3-${i}`), upstreams: [0, 0, 0, PROBES] },
  );
  const removed = await talk(l2, { send: 'x', timeoutMs: 2000 });
  t.assert.deepStrictEqual([removed.error, removed.data.length], ['ECONNREFUSED', 0], 'the removed listener refuses');
});
