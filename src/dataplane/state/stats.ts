// Per-worker counters: plain numbers bumped on the hot path, read at scrape time; and the gateway-wide ones that
// live in shared memory (all workers see the same numbers, e.g. for sluice.max_connections).
import { END_REASONS, type EndReason } from '../session/end.ts';

/**
 * Slots of the shared Int32Array every worker gets: gateway-wide totals, and each worker's own share of them so that
 * the primary can take a dead worker's sessions out of the totals (and count them as lost).
 */
export const SHARED = {
  active: 0, rejected: 1, udpSessions: 2, lostSessions: 3,
  /** Worker i's open TCP sessions are at workerBase + 2i, its UDP sessions at workerBase + 2i + 1. */
  workerBase: 8,
  /** Worker i's heartbeat (a counter it bumps every HEARTBEAT_MS) is at beatBase + i. */
  beatBase: 8 + 2 * 64,
  size: 8 + 3 * 64,
} as const;

export const workerActiveSlot = (id: number): number => SHARED.workerBase + 2 * id;
export const workerUdpSlot = (id: number): number => SHARED.workerBase + 2 * id + 1;
export const workerBeatSlot = (id: number): number => SHARED.beatBase + id;
/** How often a worker's event loop bumps its heartbeat; the primary replaces one silent for WORKER_STUCK_MS. */
export const HEARTBEAT_MS = 250;
export const WORKER_STUCK_MS = 5000;

export class WorkerStats {
  sessions = 0;
  rejectedMaxConn = 0;
  /** TCP sessions the native relay took over. */
  nativeRelayed = 0;
  /** Accepted by the addon (native/src/listen.c) rather than by a Node server. */
  nativeAccepted = 0;
  udpSessions = 0;
  readonly udpDrops = { no_route: 0, no_node: 0, queue_full: 0, table_full: 0, send_queue_full: 0 };
  readonly byReason: Record<EndReason, number>;
  constructor() {
    this.byReason = Object.fromEntries(END_REASONS.map((r) => [r, 0])) as Record<EndReason, number>;
  }
}
