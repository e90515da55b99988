// least_conn (weighted): the node with the fewest open sessions per unit of weight, (conns + 1) / weight, wins;
// ties go to the earlier node. Counts are gateway-wide (the shared node table), so all workers agree.
import type { NodeTable } from '../../lib/node-table.ts';
import type { Balancer, PickContext, UpstreamNode, Usable } from './balancer.ts';

export class LeastConn implements Balancer {
  readonly #nodes: readonly UpstreamNode[];
  readonly #table: NodeTable;

  constructor(nodes: readonly UpstreamNode[], table: NodeTable) {
    this.#nodes = nodes.filter((n) => n.weight > 0);
    this.#table = table;
  }

  pick(_ctx: PickContext, usable: Usable): UpstreamNode | undefined {
    let best: UpstreamNode | undefined;
    let bestScore = Infinity;
    for (const n of this.#nodes) {
      if (!usable(n)) continue;
      const score = (this.#table.active(n.slot) + 1) / n.weight;
      if (score < bestScore) {
        best = n;
        bestScore = score;
      }
    }
    return best;
  }

  report(): void { /* counts are kept by the connect phase and the session end */ }
}
