// UDP health checks (issue 7; APISIX has none): `checks.active.type: udp` sends `req_data` (text, or `hex:` bytes) to
// each node and wants a reply starting with `expected_resp`. A closed port (ICMP port unreachable) counts as a
// tcp_failure, no reply in `timeout` as a timeout, a wrong reply as an http_failure; past the `unhealthy` thresholds
// the node is `unhealthy` in /v1/healthcheck and new sessions go only to the nodes still healthy.
import { spawn } from 'node:child_process';
import type { RemoteInfo } from 'node:dgram';
import { once } from 'node:events';
import { test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';
import { WITH_CONTROL, nodeStatus, put, tally, waitFor } from '../fixtures/upstream-helpers.ts';
import { deadUdpPort, udpClient, udpCounters, udpEcho, udpNodeKey } from '../fixtures/udp.ts';

type Kind = 'pong' | 'hexpong' | 'dead' | 'wrong' | 'silent';

/** A node of each kind: its port and, for the live ones, the key its echo replies start with. */
async function node(t: TestContext, kind: Kind): Promise<{ kind: Kind; port: number; key: string }> {
  if (kind === 'dead') {
    const port = await deadUdpPort();
    return { kind, port, key: udpNodeKey('127.0.0.1', port) };
  }
  const answer = (msg: Buffer, r: RemoteInfo, self: { node: string }): (string | Buffer)[] => {
    if (msg.toString() === 'ping' || msg.equals(Buffer.from([0, 1]))) {
      if (kind === 'pong') return ['pong, from a live node'];
      if (kind === 'hexpong') return [Buffer.from([0xbe, 0xef, 0x01])];
      if (kind === 'wrong') return ['nope'];
      return [];
    }
    return kind === 'silent' ? [] : [`${self.node}|${udpNodeKey(r.address, r.port)}|${msg.toString()}`];
  };
  const self = { node: '' };
  const e = await udpEcho(t, '127.0.0.1', (m, r) => answer(m, r, self));
  self.node = e.node;
  return { kind, port: e.port, key: e.node };
}

const CASES: readonly { name: string; active: Record<string, unknown>; nodes: readonly Kind[]; want: readonly string[] }[] = [
  {
    name: 'text ping/pong: a closed port goes unhealthy',
    active: { req_data: 'ping', expected_resp: 'pong', healthy: { interval: 1 }, unhealthy: { interval: 1, tcp_failures: 2, timeouts: 2 } },
    nodes: ['pong', 'dead'],
    want: ['healthy', 'unhealthy'],
  },
  {
    name: 'hex bytes: a wrong reply and no reply go unhealthy',
    active: {
      timeout: 0.5, req_data: 'hex:0001', expected_resp: 'hex:beef',
      healthy: { interval: 1 }, unhealthy: { interval: 1, tcp_failures: 2, timeouts: 2, http_failures: 2 },
    },
    nodes: ['hexpong', 'wrong', 'silent'],
    want: ['healthy', 'unhealthy', 'unhealthy'],
  },
];

for (const c of CASES) {
  test(`udp health: ${c.name}`, async (t: TestContext) => {
    t.plan(3);
    const nodes = await Promise.all(c.nodes.map((k) => node(t, k)));
    const g = await startTestGateway(t, WITH_CONTROL, { listeners: [{ proto: 'udp' }] });
    await put(g, 'upstreams/u1', { nodes: Object.fromEntries(nodes.map((n) => [n.key, 1])), checks: { active: { type: 'udp', ...c.active } } });
    await put(g, 'stream_routes/1', { upstream_id: 'u1' });
    const statuses = (): Promise<string[]> => Promise.all(nodes.map((n) => nodeStatus(g, 'u1', n.port)));
    const settled = await waitFor(async () => JSON.stringify(await statuses()) === JSON.stringify(c.want), 4000);
    t.assert.deepStrictEqual(await statuses(), c.want);
    t.assert.ok(settled.ms < 3500, `statuses settled after ${Math.round(settled.ms)} ms`);
    // new sessions (a new client each) all go to the healthy node
    const port = g.listenerPort();
    const replies: string[] = [];
    for (let i = 0; i < 8; i++) replies.push((await (await udpClient(t)).ask(`s${i}`, port, 1000))?.node ?? '-');
    t.assert.deepStrictEqual(tally(replies), { [nodes[0]?.key ?? '']: 8 });
  });
}

test('udp health: ICMP port unreachable ends the session (ConnectFailed) and counts as a passive tcp_failure', async (t: TestContext) => {
  t.plan(4);
  const live = await node(t, 'pong');
  const dead = await node(t, 'dead');
  // active probes go to a node that never answers, with a 10 s timeout: no active verdict within this test, so only
  // the data plane's passive reports can move the dead node
  const silent = await node(t, 'silent');
  const g = await startTestGateway(t, WITH_CONTROL, { listeners: [{ proto: 'udp' }] });
  await put(g, 'upstreams/u1', {
    nodes: { [live.key]: 1, [dead.key]: 1 },
    checks: {
      active: { type: 'udp', port: silent.port, timeout: 10, req_data: 'ping', expected_resp: 'pong' },
      passive: { type: 'udp', unhealthy: { tcp_failures: 2 } },
    },
  });
  await put(g, 'stream_routes/1', { upstream_id: 'u1' });
  const port = g.listenerPort();
  const replies: string[] = [];
  for (let i = 0; i < 8; i++) replies.push((await (await udpClient(t)).ask(`s${i}`, port, 300))?.node ?? '-');
  // roundrobin: sessions alternate until the second refusal marks the node down, then all go to the live one
  t.assert.deepStrictEqual(tally(replies), { [live.key]: 6, '-': 2 });
  t.assert.deepStrictEqual(replies.slice(4), [live.key, live.key, live.key, live.key]);
  t.assert.equal(await nodeStatus(g, 'u1', dead.port), 'unhealthy');
  t.assert.equal((await udpCounters(g)).byReason.ConnectFailed, 2);
});

// Found while writing these tests: a udp probe waiting for a reply kept its process alive for the whole active
// `timeout` after the gateway had closed (a stopped checker does not cancel the probes in flight). Run in a child
// process, so that "the process exits" is what is measured.
test('udp health (issue 7): a probe in flight does not keep the process alive', async (t: TestContext) => {
  t.plan(2);
  const silent = await udpEcho(t, '127.0.0.1', () => []);
  const probes = new URL('../../src/controlplane/health/probes.ts', import.meta.url).href;
  const code = `const m = await import(${JSON.stringify(probes)});
void m.udpProbe('127.0.0.1', ${silent.port}, 20000, Buffer.from('ping'), Buffer.from('pong'));
setTimeout(() => {}, 300); // the probe is surely in flight when this ends`;
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: 'ignore' });
  const killer = setTimeout(() => child.kill('SIGKILL'), 8000);
  t.after(() => clearTimeout(killer));
  const [status] = (await once(child, 'exit')) as [number | null];
  const ms = performance.now() - t0;
  // the probe's datagram went out (a probe really was in flight), and the process did not wait 20 s for its reply
  t.assert.deepStrictEqual(silent.seen.map((s) => s.data), ['ping']);
  t.assert.ok(status === 0 && ms < 5000, `exit status ${status} after ${Math.round(ms)} ms`);
});
