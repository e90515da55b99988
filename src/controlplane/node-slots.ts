// Slots in the shared node table (lib/node-table.ts) for (upstream, node) pairs, allocated by the snapshot builder.
/**
 * Stable slots for (upstream, node) pairs: kept while the pair exists, never handed out again until the table wraps
 * (NODE_SLOTS allocations later), so a late release from an old session cannot land on a different node's counter.
 * Slot 0 is never handed out.
 */
export class SlotAllocator {
  readonly #slots = new Map<string, number>();
  #next = 1;
  readonly #size: number;
  constructor(size: number) {
    this.#size = size;
  }
  slot(key: string): number {
    let s = this.#slots.get(key);
    if (s === undefined) {
      s = this.#next;
      this.#next = this.#next + 1 >= this.#size ? 1 : this.#next + 1;
      this.#slots.set(key, s);
    }
    return s;
  }
  /** Forgets pairs that are no longer used. */
  retain(used: ReadonlyMap<string, unknown>): void {
    for (const k of this.#slots.keys()) if (!used.has(k)) this.#slots.delete(k);
  }
}
