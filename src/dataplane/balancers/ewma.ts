// ewma for stream: the exponentially weighted moving average of each node's connect time, decaying with a 10 s time
// constant (weight of the old value = exp(-Δt / 10 s)); a failed or timed-out connect counts as a 5 s sample.
// Two random usable nodes are compared (power of two choices) by ewma × (open sessions + 1) / weight; an unmeasured
// node scores 0, so every node gets tried. State is per worker (each worker measures its own connects).
import type { NodeTable } from '../../lib/node-table.ts';
import type { Balancer, ConnectOutcome, PickContext, UpstreamNode, Usable } from './balancer.ts';

export const EWMA_DECAY_MS = 10_000;
const FAILURE_SAMPLE_MS = 5_000;

export class Ewma implements Balancer {
  readonly #nodes: readonly UpstreamNode[];
  readonly #table: NodeTable;
  readonly #value = new Map<UpstreamNode, { ewma: number; at: number }>();
  readonly #now: () => number;
  readonly #random: () => number;

  constructor(nodes: readonly UpstreamNode[], table: NodeTable, now: () => number = () => performance.now(), random: () => number = Math.random) {
    this.#nodes = nodes.filter((n) => n.weight > 0);
    this.#table = table;
    this.#now = now;
    this.#random = random;
  }

  #score(n: UpstreamNode): number {
    const v = this.#value.get(n);
    if (v === undefined) return 0;
    const decayed = v.ewma * Math.exp(-(this.#now() - v.at) / EWMA_DECAY_MS);
    return (decayed * (this.#table.active(n.slot) + 1)) / n.weight;
  }

  pick(_ctx: PickContext, usable: Usable): UpstreamNode | undefined {
    const cands = this.#nodes.filter(usable);
    if (cands.length <= 1) return cands[0];
    const i = Math.floor(this.#random() * cands.length);
    let j = Math.floor(this.#random() * (cands.length - 1));
    if (j >= i) j++;
    const a = cands[i] as UpstreamNode;
    const b = cands[j] as UpstreamNode;
    return this.#score(b) < this.#score(a) ? b : a;
  }

  report(node: UpstreamNode, outcome: ConnectOutcome, connectMs: number): void {
    const sample = outcome === 'ok' ? connectMs : FAILURE_SAMPLE_MS;
    const now = this.#now();
    const v = this.#value.get(node);
    if (v === undefined) {
      this.#value.set(node, { ewma: sample, at: now });
      return;
    }
    const w = Math.exp(-(now - v.at) / EWMA_DECAY_MS);
    v.ewma = v.ewma * w + sample * (1 - w);
    v.at = now;
  }
}
