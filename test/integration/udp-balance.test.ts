// Balancing UDP sessions (issue 7): the first datagram of a session picks the node with the route's balancer, and the
// session keeps it. chash on remote_addr sends every session of one client address to one node, whatever its source
// port, and spreads client addresses over the nodes; roundrobin over the same nodes is the contrast (one address's
// sessions alternate), so the chash assertions cannot pass by accident. Clients bind distinct loopback addresses.
import { test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';
import { put, tally } from '../fixtures/upstream-helpers.ts';
import { udpClient, udpEcho } from '../fixtures/udp.ts';

// 127.0.0.2 and 127.0.0.3 first; sixteen addresses in all, so that all of them landing on one of two nodes (odds
// 2^-15 over the random node ports that shape the ring) does not happen in practice
const SOURCES = Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 2}`);
const SESSIONS_PER_SOURCE = 3;

const CASES: readonly { name: string; upstream: Record<string, unknown>; sameNodeFor127001: boolean }[] = [
  { name: 'chash on remote_addr', upstream: { type: 'chash', hash_on: 'vars', key: 'remote_addr' }, sameNodeFor127001: true },
  { name: 'roundrobin (contrast)', upstream: { type: 'roundrobin' }, sameNodeFor127001: false },
];

for (const c of CASES) {
  test(`udp balance: ${c.name}`, async (t: TestContext) => {
    t.plan(c.sameNodeFor127001 ? 4 : 2);
    const nodes = [await udpEcho(t), await udpEcho(t)];
    const g = await startTestGateway(t, {}, { listeners: [{ proto: 'udp' }] });
    await put(g, 'stream_routes/1', { upstream: { ...c.upstream, nodes: Object.fromEntries(nodes.map((n) => [n.node, 1])) } });
    const port = g.listenerPort();
    // sessions from 127.0.0.1: six clients, six source ports, six sessions
    const local: string[] = [];
    for (let i = 0; i < 6; i++) local.push((await (await udpClient(t)).ask('x', port))?.node ?? '-');
    const byNode = tally(local);
    t.assert.equal(Object.values(byNode).reduce((a, b) => a + b, 0), 6, `replies: ${JSON.stringify(byNode)}`);
    if (!c.sameNodeFor127001) {
      t.assert.deepStrictEqual(byNode, { [nodes[0]?.node ?? '']: 3, [nodes[1]?.node ?? '']: 3 });
      return;
    }
    t.assert.equal(Object.keys(byNode).length, 1, `127.0.0.1's sessions landed on ${JSON.stringify(byNode)}`);
    // other client addresses: each address always on one node, across sessions (new source port each time)
    const picks = new Map<string, Set<string>>();
    for (let round = 0; round < SESSIONS_PER_SOURCE; round++) {
      for (const src of SOURCES) {
        const r = await (await udpClient(t, src)).ask(`${src}#${round}`, port);
        const set = picks.get(src) ?? new Set<string>();
        set.add(r?.node ?? '-');
        picks.set(src, set);
      }
    }
    const unstable = [...picks].filter(([, s]) => s.size !== 1 || s.has('-')).map(([src, s]) => `${src}: ${[...s].join(',')}`);
    t.assert.deepStrictEqual(unstable, []);
    // and the addresses spread over both nodes
    const used = new Set([...picks.values()].map((s) => [...s][0]));
    t.assert.deepStrictEqual([...used].sort(), nodes.map((n) => n.node).sort());
  });
}
