// Smooth weighted round robin (nginx's): every pick adds each node's weight to its running score, takes the highest,
// and subtracts the total from it. Weights 5:1:1 give a a b a c a a, not a a a a a b c. Weight 0 is never picked.
import type { Balancer, PickContext, UpstreamNode, Usable } from './balancer.ts';

export class RoundRobin implements Balancer {
  readonly #nodes: readonly UpstreamNode[];
  readonly #current: Float64Array;

  constructor(nodes: readonly UpstreamNode[]) {
    this.#nodes = nodes.filter((n) => n.weight > 0);
    this.#current = new Float64Array(this.#nodes.length);
  }

  pick(_ctx: PickContext, usable: Usable): UpstreamNode | undefined {
    let best = -1;
    let total = 0;
    const nodes = this.#nodes;
    const cur = this.#current;
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i] as UpstreamNode;
      if (!usable(n)) continue;
      cur[i] = (cur[i] as number) + n.weight;
      total += n.weight;
      if (best < 0 || (cur[i] as number) > (cur[best] as number)) best = i;
    }
    if (best < 0) return undefined;
    cur[best] = (cur[best] as number) - total;
    return nodes[best];
  }

  report(): void { /* stateless on outcomes */ }
}
