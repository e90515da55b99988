// Priorities and health in front of every algorithm (issue 5): the highest priority group first; a lower group only
// when each node of the higher ones was tried by this session or is unhealthy; unhealthy nodes skipped unless every
// node is unhealthy (APISIX's rule: then all are used, and that is counted); an unresolved domain node is never used.
import { test, type TestContext } from 'node:test';
import { createNodeTableBuffers, NodeTable } from '../../lib/node-table.ts';
import type { NodeConf, UpstreamConf } from '../../model/snapshot.ts';
import type { PickContext, UpstreamNode } from './balancer.ts';
import { PriorityBalancer } from './priority.ts';

const CTX: PickContext = { remoteAddr: '127.0.0.1', remotePort: 40000, serverAddr: '127.0.0.1', serverPort: 9100, sni: undefined, mqttClientId: undefined };

/** `name:priority[:weight]`; a name starting with `dns-` is a domain node that did not resolve. */
function upstream(type: string, spec: readonly string[]): UpstreamConf {
  const nodes: NodeConf[] = spec.map((s, i) => {
    const [host = '', prio = '0', weight = '1'] = s.split(':');
    return { host, ip: host.startsWith('dns-') ? undefined : `10.0.0.${i + 1}`, port: 80, weight: Number(weight), priority: Number(prio), slot: i + 1 };
  });
  return {
    key: 'upstreams/1', version: '1', type, nodes, scheme: 'tcp', hashOn: 'vars', hashKey: 'remote_addr', retries: undefined,
    retryTimeout: undefined, timeout: { connect: 60, send: 600, read: 600 }, timeoutSet: false, tls: undefined, checks: undefined,
  };
}

interface Case {
  readonly name: string;
  readonly type?: string;
  readonly nodes: readonly string[];
  readonly unhealthy?: readonly string[];
  readonly tried?: readonly string[];
  /** What successive picks return, each pick's node added to `tried` (a session's retries); '-' = nothing left. */
  readonly want: string;
  readonly allUnhealthyPicks?: number;
}

const CASES: readonly Case[] = [
  { name: 'highest group first, then the next, then nothing', nodes: ['a:10', 'b:10', 'c:0', 'd:-5'], want: 'a b c d -' },
  { name: 'negative priorities come after 0', nodes: ['low:-1', 'zero:0'], want: 'zero low -' },
  { name: 'an unhealthy high node is skipped', nodes: ['a:10', 'b:10', 'c:0'], unhealthy: ['a'], want: 'b c -' },
  { name: 'a high group that is all unhealthy falls through at once', nodes: ['a:10', 'b:10', 'c:0'], unhealthy: ['a', 'b'], want: 'c -' },
  { name: 'already tried nodes are not picked again', nodes: ['a:10', 'b:10', 'c:0'], tried: ['b'], want: 'a c -' },
  { name: 'every node unhealthy: all are used, highest group first, and counted', nodes: ['a:10', 'b:0'], unhealthy: ['a', 'b'], want: 'a b -', allUnhealthyPicks: 2 },
  { name: 'an unresolved domain node is never used', nodes: ['dns-x:10', 'b:0'], want: 'b -' },
  { name: 'unresolved nodes do not count as healthy ones (the all-unhealthy rule still applies)', nodes: ['dns-x:10', 'b:0'], unhealthy: ['b'], want: 'b -', allUnhealthyPicks: 1 },
  { name: 'weight 0 nodes are never used', nodes: ['a:10:0', 'b:0'], want: 'b -' },
  { name: 'chash walks within the group', type: 'chash', nodes: ['a:10', 'b:10', 'c:0'], tried: ['a', 'b'], want: 'c -' },
  { name: 'least_conn within the group', type: 'least_conn', nodes: ['a:1:1', 'b:1:3', 'c:0:9'], want: 'b a c -' },
  { name: 'ewma within the group', type: 'ewma', nodes: ['a:1', 'c:0'], unhealthy: ['a'], want: 'c -' },
  { name: 'an unknown type balances as roundrobin', type: 'random', nodes: ['a:0:2', 'b:0:1'], want: 'a b -' },
];

for (const c of CASES) {
  test(`priority: ${c.name}`, (t: TestContext) => {
    t.plan(2);
    const table = new NodeTable(createNodeTableBuffers());
    const pb = new PriorityBalancer(upstream(c.type ?? 'roundrobin', c.nodes), table);
    const byName = (n: string): UpstreamNode => pb.nodes.find((x) => x.host === n) as UpstreamNode;
    for (const n of c.unhealthy ?? []) table.setHealthy(byName(n).slot, false);
    const tried = new Set((c.tried ?? []).map(byName));
    const seq: string[] = [];
    for (let i = 0; i < 8; i++) {
      const n = pb.pick(CTX, tried);
      seq.push(n?.host ?? '-');
      if (n === undefined) break;
      tried.add(n);
    }
    t.assert.equal(seq.join(' '), c.want);
    t.assert.equal(pb.allUnhealthyPicks, c.allUnhealthyPicks ?? 0);
  });
}
