// Passive health: the worker's connect outcomes go to the primary in batches, one message per 50 ms at most.
// Bounded: past the cap, outcomes are dropped until the batch is sent (health needs a trend, not every sample).
import { OUTCOME_CODE } from '../../model/messages.ts';
import type { ConnectOutcome, UpstreamNode } from '../balancers/balancer.ts';

const OUTCOME_CAP = 20_000;
const BATCH_MS = 50;

export class OutcomeBatcher {
  #pairs: number[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #send: (pairs: number[]) => void;
  constructor(send: (pairs: number[]) => void) {
    this.#send = send;
  }

  readonly report = (node: UpstreamNode, outcome: ConnectOutcome): void => {
    if (this.#pairs.length >= OUTCOME_CAP * 2) return;
    this.#pairs.push(node.slot, OUTCOME_CODE[outcome]);
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const pairs = this.#pairs;
      this.#pairs = [];
      this.#send(pairs);
    }, BATCH_MS);
  };
}
