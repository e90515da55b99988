// Keeps one checker per upstream that has `checks`, in step with the snapshots: created when the upstream enters
// the config (not at its first connection), replaced when its checks or nodes change (node state carried over),
// stopped when it leaves. Passive results from the workers are routed to the right node by slot.
import type { NodeTable } from '../../lib/node-table.ts';
import { OUTCOME_CODE } from '../../model/messages.ts';
import type { SnapshotData } from '../../model/snapshot.ts';
import type { Logger } from '../../observe/log.ts';
import { UpstreamChecker, type NodeHealth } from './checker.ts';

const CODE_TO_RESULT = {
  [OUTCOME_CODE.ok]: { kind: 'success' },
  [OUTCOME_CODE.failed]: { kind: 'tcp_failure', why: 'connect failed (passive)' },
  [OUTCOME_CODE.timeout]: { kind: 'timeout', why: 'connect timed out (passive)' },
} as const;

export class HealthManager {
  readonly #table: NodeTable;
  readonly #log: Logger;
  readonly #checkers = new Map<string, UpstreamChecker>();
  readonly #bySlot = new Map<number, { checker: UpstreamChecker; health: NodeHealth }>();
  #snapshot: SnapshotData | undefined;

  constructor(table: NodeTable, log: Logger) {
    this.#table = table;
    this.#log = log;
  }

  sync(snap: SnapshotData): void {
    this.#snapshot = snap;
    const wanted = new Map(Object.values(snap.upstreams).filter((u) => u.checks !== undefined).map((u) => [u.key, u]));
    for (const [key, c] of this.#checkers) {
      const up = wanted.get(key);
      if (up !== undefined && c.version === JSON.stringify([up.checks, up.nodes])) continue;
      c.stop();
      this.#checkers.delete(key);
      if (up === undefined) for (const h of c.nodes) this.#table.setHealthy(h.node.slot, true);
    }
    for (const [key, up] of wanted) {
      if (this.#checkers.has(key)) continue;
      const carried = new Map<number, NodeHealth>();
      for (const n of up.nodes) {
        const prev = this.#bySlot.get(n.slot);
        if (prev !== undefined) carried.set(n.slot, prev.health);
      }
      const c = new UpstreamChecker(up, this.#table, this.#log, carried);
      this.#checkers.set(key, c);
      c.start();
    }
    this.#bySlot.clear();
    for (const c of this.#checkers.values()) for (const h of c.nodes) this.#bySlot.set(h.node.slot, { checker: c, health: h });
  }

  /** Connect outcomes from the data plane: [slot, code, slot, code, ...]. */
  onOutcomes(pairs: readonly number[]): void {
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      const hit = this.#bySlot.get(pairs[i] as number);
      const passive = hit?.checker.spec.passive;
      if (hit === undefined || passive === undefined) continue;
      const r = CODE_TO_RESULT[pairs[i + 1] as 0 | 1 | 2];
      if (r !== undefined) hit.checker.record(hit.health, r, passive, 'passive');
    }
  }

  checkers(): UpstreamChecker[] {
    return [...this.#checkers.values()];
  }

  checker(key: string): UpstreamChecker | undefined {
    return this.#checkers.get(key);
  }

  /** The upstream key a stream route uses, from the current snapshot. */
  routeUpstream(routeId: string): string | undefined {
    return this.#snapshot?.routes.find((r) => r.id === routeId)?.upstreamKey;
  }

  close(): void {
    for (const c of this.#checkers.values()) c.stop();
    this.#checkers.clear();
  }
}
