// ewma for stream (issue 5): each node's connect time as an exponentially weighted moving average with a 10 s time
// constant — a new sample s at Δt after the last gives ewma' = ewma·e^(−Δt/10s) + s·(1 − e^(−Δt/10s)), and between
// samples the score decays as ewma·e^(−Δt/10s); a failure counts as a 5000 ms sample; two random usable nodes are
// compared by score × (open + 1) / weight; an unmeasured node scores 0. Clock and randomness are injected.
import { test, type TestContext } from 'node:test';
import { createNodeTableBuffers, NodeTable } from '../../lib/node-table.ts';
import { UpstreamNode, type ConnectOutcome, type PickContext } from './balancer.ts';
import { EWMA_DECAY_MS, Ewma } from './ewma.ts';

const CTX: PickContext = { remoteAddr: '127.0.0.1', remotePort: 40000, serverAddr: '127.0.0.1', serverPort: 9100, sni: undefined, mqttClientId: undefined };

/** A report: at `at` ms, node `node` connected in `ms` (or failed). */
type Sample = readonly [at: number, node: 'a' | 'b', ms: number, outcome?: ConnectOutcome];

interface Case {
  readonly name: string;
  readonly samples: readonly Sample[];
  /** When the pick happens (ms). */
  readonly at: number;
  readonly weights?: readonly [number, number];
  readonly open?: readonly [number, number];
  readonly want: 'a' | 'b';
}

// With random() = 0 the picker compares node 0 (a) with node 1 (b) and takes b only if b scores strictly lower.
const E1 = Math.exp(-1);
const CASES: readonly Case[] = [
  { name: 'both unmeasured: a (tie)', samples: [], at: 0, want: 'a' },
  { name: 'unmeasured b beats measured a', samples: [[0, 'a', 1]], at: 0, want: 'b' },
  { name: 'faster b wins', samples: [[0, 'a', 100], [0, 'b', 50]], at: 0, want: 'b' },
  { name: 'slower b loses', samples: [[0, 'a', 50], [0, 'b', 100]], at: 0, want: 'a' },
  // a: 100 at 0, then 200 at 10 s → 100·e^-1 + 200·(1 − e^-1) = 163.2; b: 170 at 10 s
  { name: 'the update weighs the old value by e^(−Δt/10s): a = 163.2 < b = 170', samples: [[0, 'a', 100], [EWMA_DECAY_MS, 'a', 200], [EWMA_DECAY_MS, 'b', 170]], at: EWMA_DECAY_MS, want: 'a' },
  { name: 'the update weighs the old value by e^(−Δt/10s): a = 163.2 > b = 160', samples: [[0, 'a', 100], [EWMA_DECAY_MS, 'a', 200], [EWMA_DECAY_MS, 'b', 160]], at: EWMA_DECAY_MS, want: 'b' },
  // a: 100 at 0, read at 10 s → 100·e^-1 = 36.8; b measured 37 at 10 s / 36 at 10 s
  { name: 'an old score decays: a (100, 10 s ago) = 36.8 < b = 37', samples: [[0, 'a', 100], [EWMA_DECAY_MS, 'b', 100 * E1 + 0.2]], at: EWMA_DECAY_MS, want: 'a' },
  { name: 'an old score decays: a (100, 10 s ago) = 36.8 > b = 36.6', samples: [[0, 'a', 100], [EWMA_DECAY_MS, 'b', 100 * E1 - 0.2]], at: EWMA_DECAY_MS, want: 'b' },
  { name: 'a failure counts as a 5000 ms sample: a (failed) > b (4999 ms)', samples: [[0, 'a', 1, 'failed'], [0, 'b', 4999]], at: 0, want: 'b' },
  { name: 'a timeout counts as a 5000 ms sample: a (timeout) < b (5001 ms)', samples: [[0, 'a', 1, 'timeout'], [0, 'b', 5001]], at: 0, want: 'a' },
  { name: 'weight divides the score: a 100 ms weight 3 < b 50 ms weight 1', samples: [[0, 'a', 100], [0, 'b', 50]], at: 0, weights: [3, 1], want: 'a' },
  { name: 'open sessions multiply it: b 50 ms with 2 open = 150 > a 100 ms idle', samples: [[0, 'a', 100], [0, 'b', 50]], at: 0, open: [0, 2], want: 'a' },
];

for (const c of CASES) {
  test(`ewma: ${c.name}`, (t: TestContext) => {
    t.plan(1);
    let now = 0;
    const table = new NodeTable(createNodeTableBuffers());
    const [wa, wb] = c.weights ?? [1, 1];
    const a = new UpstreamNode({ host: 'a', ip: '10.0.0.1', port: 80, weight: wa, priority: 0, slot: 1 });
    const b = new UpstreamNode({ host: 'b', ip: '10.0.0.2', port: 80, weight: wb, priority: 0, slot: 2 });
    for (let k = 0; k < (c.open?.[0] ?? 0); k++) table.open(a.slot);
    for (let k = 0; k < (c.open?.[1] ?? 0); k++) table.open(b.slot);
    const ew = new Ewma([a, b], table, () => now, () => 0);
    for (const [at, node, ms, outcome] of c.samples) {
      now = at;
      ew.report(node === 'a' ? a : b, outcome ?? 'ok', ms);
    }
    now = c.at;
    t.assert.equal(ew.pick(CTX, () => true)?.host, c.want);
  });
}

test('ewma: one usable node is picked without comparing; none usable → none', (t: TestContext) => {
  t.plan(2);
  const table = new NodeTable(createNodeTableBuffers());
  const a = new UpstreamNode({ host: 'a', ip: '10.0.0.1', port: 80, weight: 1, priority: 0, slot: 1 });
  const b = new UpstreamNode({ host: 'b', ip: '10.0.0.2', port: 80, weight: 1, priority: 0, slot: 2 });
  const ew = new Ewma([a, b], table, () => 0, () => 0.99);
  t.assert.equal(ew.pick(CTX, (n) => n === b)?.host, 'b');
  t.assert.equal(ew.pick(CTX, () => false), undefined);
});

test('ewma: with real randomness over 3 equal unmeasured nodes every node gets picked', (t: TestContext) => {
  t.plan(1);
  const table = new NodeTable(createNodeTableBuffers());
  const nodes = ['a', 'b', 'c'].map((h, i) => new UpstreamNode({ host: h, ip: '10.0.0.1', port: 80 + i, weight: 1, priority: 0, slot: i + 1 }));
  const ew = new Ewma(nodes, table);
  const seen = new Set<string>();
  for (let i = 0; i < 300; i++) seen.add(ew.pick(CTX, () => true)?.host ?? '-');
  t.assert.deepStrictEqual([...seen].sort(), ['a', 'b', 'c']);
});
