// least_conn (issue 5): the node with the lowest (open sessions + 1) / weight wins, ties to the earlier node; counts
// come from the gateway-wide node table, so whatever a session elsewhere opened counts here too.
import { test, type TestContext } from 'node:test';
import { createNodeTableBuffers, NodeTable } from '../../lib/node-table.ts';
import { UpstreamNode, type PickContext } from './balancer.ts';
import { LeastConn } from './least-conn.ts';

const CTX: PickContext = { remoteAddr: '127.0.0.1', remotePort: 40000, serverAddr: '127.0.0.1', serverPort: 9100, sni: undefined, mqttClientId: undefined };
const NAMES = 'abcdefgh';

function setup(weights: readonly number[], open: readonly number[]): { lc: LeastConn; table: NodeTable; nodes: UpstreamNode[] } {
  const table = new NodeTable(createNodeTableBuffers());
  const nodes = weights.map((weight, i) => new UpstreamNode({ host: NAMES[i] as string, ip: '10.0.0.1', port: 80 + i, weight, priority: 0, slot: i + 1 }));
  nodes.forEach((n, i) => { for (let k = 0; k < (open[i] ?? 0); k++) table.open(n.slot); });
  return { lc: new LeastConn(nodes, table), table, nodes };
}

const ONE_PICK: readonly { name: string; weights: number[]; open: number[]; skip?: string; want: string }[] = [
  { name: 'idle 3:1 → the weight-3 node (1/3 < 1/1)', weights: [3, 1], open: [0, 0], want: 'a' },
  { name: '3:1 with 2 open on a: 3/3 = 1/1, tie to the earlier node', weights: [3, 1], open: [2, 0], want: 'a' },
  { name: '3:1 with 3 open on a: 4/3 > 1/1', weights: [3, 1], open: [3, 0], want: 'b' },
  { name: 'equal weights, fewest open wins', weights: [1, 1, 1], open: [2, 1, 0], want: 'c' },
  { name: 'equal weights and counts: the first node', weights: [1, 1, 1], open: [1, 1, 1], want: 'a' },
  { name: 'weight 0 is never picked, even idle', weights: [0, 1], open: [0, 5], want: 'b' },
  { name: 'a node the session cannot use is skipped', weights: [3, 1], open: [0, 0], skip: 'a', want: 'b' },
  { name: 'nothing usable', weights: [1], open: [0], skip: 'a', want: '-' },
];

for (const c of ONE_PICK) {
  test(`least_conn: ${c.name}`, (t: TestContext) => {
    t.plan(1);
    const { lc } = setup(c.weights, c.open);
    t.assert.equal(lc.pick(CTX, (n) => n.host !== c.skip)?.host ?? '-', c.want);
  });
}

const SEQUENCES: readonly { name: string; weights: number[]; picks: number; keepOpen: boolean; want: string }[] = [
  { name: '3:1, sessions closed before the next: always the weight-3 node', weights: [3, 1], picks: 8, keepOpen: false, want: 'a a a a a a a a' },
  { name: '3:1, sessions kept open: 3 to 1', weights: [3, 1], picks: 8, keepOpen: true, want: 'a a a b a a a b' },
  { name: '1:1:2, sessions kept open', weights: [1, 1, 2], picks: 8, keepOpen: true, want: 'c a b c c a b c' },
];

for (const c of SEQUENCES) {
  test(`least_conn: ${c.name}`, (t: TestContext) => {
    t.plan(1);
    const { lc, table } = setup(c.weights, []);
    const seq: string[] = [];
    for (let i = 0; i < c.picks; i++) {
      const n = lc.pick(CTX, () => true);
      seq.push(n?.host ?? '-');
      if (n !== undefined && c.keepOpen) table.open(n.slot);
    }
    t.assert.equal(seq.join(' '), c.want);
  });
}
