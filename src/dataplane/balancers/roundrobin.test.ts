// Smooth weighted round robin (nginx's): the pick sequences, weight 0, and nodes that are not usable (tried by the
// session, or unhealthy) are skipped without disturbing the others' turns.
import { test, type TestContext } from 'node:test';
import { UpstreamNode, type PickContext } from './balancer.ts';
import { RoundRobin } from './roundrobin.ts';

const CTX: PickContext = { remoteAddr: '127.0.0.1', remotePort: 40000, serverAddr: '127.0.0.1', serverPort: 9100, sni: undefined, mqttClientId: undefined };

function nodes(weights: Record<string, number>): UpstreamNode[] {
  return Object.entries(weights).map(([host, weight], i) => new UpstreamNode({ host, ip: `10.0.0.${i + 1}`, port: 1, weight, priority: 0, slot: i + 1 }));
}

/** `n` picks, each excluding the nodes named in `skip`; '-' when nothing could be picked. */
function picks(rr: RoundRobin, all: readonly UpstreamNode[], n: number, skip: readonly string[] = []): string {
  const usable = (x: UpstreamNode): boolean => !skip.includes(x.host);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(rr.pick(CTX, usable)?.host ?? '-');
  return out.join(' ');
}

const CASES: readonly { name: string; weights: Record<string, number>; n: number; skip?: string[]; want: string }[] = [
  { name: 'weights 5:1:1 interleave (not a a a a a b c)', weights: { a: 5, b: 1, c: 1 }, n: 14, want: 'a a b a c a a a a b a c a a' },
  { name: 'weights 3:1', weights: { a: 3, b: 1 }, n: 8, want: 'a a b a a a b a' },
  { name: 'equal weights alternate in node order', weights: { a: 1, b: 1, c: 1 }, n: 6, want: 'a b c a b c' },
  { name: 'weight 0 is never picked', weights: { a: 2, z: 0, c: 1 }, n: 6, want: 'a c a a c a' },
  { name: 'every weight 0: nothing to pick', weights: { a: 0, b: 0 }, n: 2, want: '- -' },
  { name: 'no nodes: nothing to pick', weights: {}, n: 2, want: '- -' },
  { name: 'nodes not usable are skipped', weights: { a: 5, b: 1, c: 1 }, n: 4, skip: ['a'], want: 'b c b c' },
  { name: 'no node usable: nothing to pick', weights: { a: 1, b: 1 }, n: 2, skip: ['a', 'b'], want: '- -' },
];

for (const c of CASES) {
  test(`roundrobin: ${c.name}`, (t: TestContext) => {
    t.plan(1);
    const all = nodes(c.weights);
    t.assert.equal(picks(new RoundRobin(all), all, c.n, c.skip), c.want);
  });
}

test('roundrobin: 40 picks at 3:1 give 30 and 10', (t: TestContext) => {
  t.plan(1);
  const all = nodes({ a: 3, b: 1 });
  const seq = picks(new RoundRobin(all), all, 40).split(' ');
  t.assert.deepStrictEqual([seq.filter((x) => x === 'a').length, seq.filter((x) => x === 'b').length], [30, 10]);
});
