// Weighted round robin over real connections: named servers answer with their name, sequential connections count
// the picks. Both node forms (map and array), IPv4 and IPv6 nodes; weight 0 is never picked. One worker, so one
// balancer sees every pick.
import { test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';
import { namedServer, talk, type TestServer } from '../fixtures/servers.ts';

interface Case {
  readonly name: string;
  readonly form: 'map' | 'array';
  readonly weights: readonly number[];
  readonly conns: number;
  readonly want: readonly number[];
  /** The first picks, in order (smooth weighted round robin interleaves). */
  readonly first: string;
  /** Where each named server listens (default 127.0.0.1). */
  readonly hosts?: readonly string[];
}

const CASES: readonly Case[] = [
  { name: 'weights 3:1, map nodes', form: 'map', weights: [3, 1], conns: 40, want: [30, 10], first: 'n0 n0 n1 n0' },
  { name: 'weights 3:1, array nodes', form: 'array', weights: [3, 1], conns: 40, want: [30, 10], first: 'n0 n0 n1 n0' },
  { name: 'equal weights share evenly', form: 'map', weights: [1, 1], conns: 20, want: [10, 10], first: 'n0 n1 n0 n1' },
  { name: 'weight 0 is never picked, map nodes', form: 'map', weights: [3, 1, 0], conns: 40, want: [30, 10, 0], first: 'n0 n0 n1 n0' },
  { name: 'weight 0 is never picked, array nodes', form: 'array', weights: [0, 1, 1], conns: 20, want: [0, 10, 10], first: 'n1 n2 n1 n2' },
  { name: 'IPv6 nodes, map form ([::1]:port)', form: 'map', weights: [1, 3], conns: 20, want: [5, 15], first: 'n1 n0 n1 n1', hosts: ['::1', '::1'] },
  { name: 'IPv6 and IPv4 nodes, array form', form: 'array', weights: [1, 1], conns: 10, want: [5, 5], first: 'n0 n1 n0 n1', hosts: ['::1', '127.0.0.1'] },
];

function nodesOf(form: 'map' | 'array', servers: readonly TestServer[], weights: readonly number[]): unknown {
  if (form === 'map') return Object.fromEntries(servers.map((s, i) => [s.node, weights[i]]));
  return servers.map((s, i) => ({ host: s.host, port: s.port, weight: weights[i] }));
}

for (const c of CASES) {
  test(`roundrobin: ${c.name}`, { timeout: 20_000 }, async (t: TestContext) => {
    t.plan(4);
    const servers = await Promise.all(c.weights.map((_, i) => namedServer(t, `n${i}`, c.hosts?.[i])));
    const g = await startTestGateway(t, {}, { listeners: [{}] });
    const r = await g.admin('PUT', '/apisix/admin/stream_routes/1', { upstream: { type: 'roundrobin', nodes: nodesOf(c.form, servers, c.weights) } });
    t.assert.equal(r.status, 201, r.text);
    const seq: string[] = [];
    for (let i = 0; i < c.conns; i++) seq.push((await talk(g.listenerPort())).data.toString());
    t.assert.equal(seq.slice(0, 4).join(' '), c.first);
    t.assert.deepStrictEqual(c.weights.map((_, i) => seq.filter((x) => x === `n${i}`).length), c.want, seq.join(' '));
    // what the servers saw agrees with what the clients got (no connection went elsewhere or got lost)
    t.assert.deepStrictEqual(servers.map((s) => s.connections()), c.want);
  });
}
