// Node priorities: the highest group is used first; a lower group only when every node of the higher ones has
// been tried by this session (or, with health checks, is unhealthy). One balancer instance per group.
import type { UpstreamConf } from '../../model/snapshot.ts';
import { UpstreamNode, type Balancer, type ConnectOutcome, type PickContext } from './balancer.ts';
import { RoundRobin } from './roundrobin.ts';

export type BalancerFactory = (nodes: readonly UpstreamNode[], up: UpstreamConf) => Balancer;

const FACTORIES: Readonly<Record<string, BalancerFactory>> = {
  roundrobin: (nodes) => new RoundRobin(nodes),
};

export class PriorityBalancer implements Balancer {
  readonly nodes: readonly UpstreamNode[];
  readonly #groups: readonly Balancer[];

  constructor(up: UpstreamConf) {
    this.nodes = up.nodes.map((n) => new UpstreamNode(n));
    const make: BalancerFactory = FACTORIES[up.type] ?? ((nodes) => new RoundRobin(nodes));
    const prios = [...new Set(this.nodes.map((n) => n.priority))].sort((a, b) => b - a);
    this.#groups = prios.map((p) => make(this.nodes.filter((n) => n.priority === p), up));
  }

  pick(ctx: PickContext, tried: ReadonlySet<UpstreamNode>): UpstreamNode | undefined {
    for (const g of this.#groups) {
      const n = g.pick(ctx, tried);
      if (n !== undefined) return n;
    }
    return undefined;
  }

  report(node: UpstreamNode, outcome: ConnectOutcome, connectMs: number): void {
    for (const g of this.#groups) g.report(node, outcome, connectMs);
  }

  release(node: UpstreamNode): void {
    for (const g of this.#groups) g.release(node);
  }
}
