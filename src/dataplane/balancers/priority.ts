// Wraps an upstream's algorithm with node priorities and health:
// - the highest priority group is used first; a lower group only when every node of the higher ones has been tried
//   by this session or is unhealthy;
// - unhealthy nodes are skipped, unless every node of the upstream is unhealthy: then all are used (APISIX's rule),
//   and that is counted.
import type { UpstreamConf } from '../../model/snapshot.ts';
import type { NodeTable } from '../../lib/node-table.ts';
import { UpstreamNode, type Balancer, type ConnectOutcome, type PickContext } from './balancer.ts';
import { chashKey, ConsistentHash } from './chash.ts';
import { Ewma } from './ewma.ts';
import { LeastConn } from './least-conn.ts';
import { RoundRobin } from './roundrobin.ts';

export type BalancerFactory = (nodes: readonly UpstreamNode[], up: UpstreamConf, table: NodeTable) => Balancer;

const FACTORIES: Readonly<Record<string, BalancerFactory>> = {
  roundrobin: (nodes) => new RoundRobin(nodes),
  chash: (nodes, up) => new ConsistentHash(nodes, chashKey(up.hashOn, up.hashKey)),
  least_conn: (nodes, _up, table) => new LeastConn(nodes, table),
  ewma: (nodes, _up, table) => new Ewma(nodes, table),
};

/** Balancing types Sluice implements; others fall back to roundrobin (APISIX 3 accepts any string). */
export const BALANCER_TYPES = Object.keys(FACTORIES);

export class PriorityBalancer {
  readonly nodes: readonly UpstreamNode[];
  readonly #groups: readonly Balancer[];
  readonly #table: NodeTable;
  /** Picks made while every node was unhealthy (APISIX's fallback), for metrics. */
  allUnhealthyPicks = 0;

  constructor(up: UpstreamConf, table: NodeTable) {
    this.nodes = up.nodes.map((n) => new UpstreamNode(n));
    this.#table = table;
    const make: BalancerFactory = FACTORIES[up.type] ?? ((nodes) => new RoundRobin(nodes));
    const prios = [...new Set(this.nodes.map((n) => n.priority))].sort((a, b) => b - a);
    this.#groups = prios.map((p) => make(this.nodes.filter((n) => n.priority === p), up, table));
  }

  pick(ctx: PickContext, tried: ReadonlySet<UpstreamNode>): UpstreamNode | undefined {
    const table = this.#table;
    let anyHealthy = false;
    for (const n of this.nodes) {
      if (n.ip !== undefined && n.weight > 0 && table.isHealthy(n.slot)) { anyHealthy = true; break; }
    }
    const usable = anyHealthy
      ? (n: UpstreamNode): boolean => n.ip !== undefined && !tried.has(n) && table.isHealthy(n.slot)
      : (n: UpstreamNode): boolean => n.ip !== undefined && !tried.has(n);
    for (const g of this.#groups) {
      const n = g.pick(ctx, usable);
      if (n !== undefined) {
        if (!anyHealthy) this.allUnhealthyPicks++;
        return n;
      }
    }
    return undefined;
  }

  report(node: UpstreamNode, outcome: ConnectOutcome, connectMs: number): void {
    for (const g of this.#groups) g.report(node, outcome, connectMs);
  }
}
