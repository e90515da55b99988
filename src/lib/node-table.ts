// Per-node state shared by every worker and the primary, in SharedArrayBuffers indexed by the node's `slot`
// (assigned by the snapshot builder, stable while the upstream keeps the node):
// - conns: open sessions per node, gateway-wide (least_conn);
// - health: 0 = healthy (or unchecked), 1 = unhealthy — written only by the primary's health checkers, read by pickers.
// A health change therefore needs no snapshot rebuild.

export const NODE_SLOTS = 1 << 18;

export interface NodeTableBuffers {
  readonly conns: SharedArrayBuffer;
  readonly health: SharedArrayBuffer;
}

export function createNodeTableBuffers(): NodeTableBuffers {
  return { conns: new SharedArrayBuffer(NODE_SLOTS * 4), health: new SharedArrayBuffer(NODE_SLOTS) };
}

export class NodeTable {
  readonly conns: Int32Array;
  readonly health: Uint8Array;
  constructor(b: NodeTableBuffers) {
    this.conns = new Int32Array(b.conns);
    this.health = new Uint8Array(b.health);
  }
  isHealthy(slot: number): boolean {
    return Atomics.load(this.health, slot) === 0;
  }
  setHealthy(slot: number, healthy: boolean): void {
    Atomics.store(this.health, slot, healthy ? 0 : 1);
  }
  open(slot: number): void {
    Atomics.add(this.conns, slot, 1);
  }
  close(slot: number): void {
    Atomics.sub(this.conns, slot, 1);
  }
  active(slot: number): number {
    return Atomics.load(this.conns, slot);
  }
}
