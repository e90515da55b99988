// The worker's view of the shared node table (lib/node-table.ts), which also counts this worker's own share of each
// node's open sessions in memory the primary can read: when the worker dies, the primary takes its sessions out of the
// gateway-wide counts (least_conn).
import { NodeTable } from '../../lib/node-table.ts';
import type { WorkerInit } from '../../model/messages.ts';

export class WorkerNodeTable extends NodeTable {
  readonly #mine: Int32Array;
  constructor(b: WorkerInit['nodes'], mine: SharedArrayBuffer) {
    super(b);
    this.#mine = new Int32Array(mine);
  }
  override open(slot: number): void {
    super.open(slot);
    Atomics.add(this.#mine, slot, 1);
  }
  override close(slot: number): void {
    super.close(slot);
    Atomics.sub(this.#mine, slot, 1);
  }
}
