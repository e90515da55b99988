// The primary's side of the data plane: starts N worker threads, sends them each snapshot, knows which version
// every worker has acknowledged, restarts a worker that dies, drains them on stop.
// Threads, not processes: a SharedArrayBuffer gives gateway-wide counters (max_connections, limit-conn, least_conn)
// without IPC round trips, and a worker costs an isolate, not a process (see the issue-8 note for measurements).
import { DEFAULT_COUNT_SLOTS, SharedCounts } from '../lib/shared-counts.ts';
import { Worker } from 'node:worker_threads';
import type { ListenerSpec } from '../model/config.ts';
import { connectionWorker, type ConnectionFilter, type ConnectionInfo, type ExplainAnswer, type ExplainQuery, type ToPrimary, type ToWorker, type WorkerInit, type WorkerMetricsSnapshot, type WorkerStatsSnapshot } from '../model/messages.ts';
import type { SnapshotData } from '../model/snapshot.ts';
import type { Logger } from '../observe/log.ts';
import { listenerKey } from '../lib/addr.ts';
import type { AccessLogConf } from '../observe/access-log.ts';
import { HEARTBEAT_MS, SHARED, WORKER_STUCK_MS, workerActiveSlot, workerBeatSlot, workerUdpSlot } from '../dataplane/state/stats.ts';
import { NODE_SLOTS, type NodeTableBuffers } from '../lib/node-table.ts';

/** worker.ts when run from src/ (type stripping), worker.js from dist/ (npm run build). */
const WORKER_URL = new URL(`../dataplane/worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
const ACK_TIMEOUT_MS = 2000;
const WORKER_YOUNG_MB = 24;
const QUERY_TIMEOUT_MS = 2000;

/** Settings a SIGHUP can change live. */
export interface PoolSettings {
  readonly maxConnections: number;
  readonly udpMaxSessions: number;
  readonly udpSessionTimeout: number;
  readonly accessLog: AccessLogConf;
  readonly nativeRelay: 'auto' | 'off';
}

export interface PoolOptions {
  readonly accessLog: AccessLogConf;
  readonly proxyProtocol: WorkerInit['proxyProtocol'];
  readonly count: number;
  readonly nodes: NodeTableBuffers;
  /** Passive health: connect outcomes reported by the workers. */
  readonly onOutcomes?: (pairs: readonly number[]) => void;
  readonly listeners: readonly ListenerSpec[];
  readonly maxConnections: number;
  readonly nativeRelay: 'auto' | 'off';
  readonly tlsHandshakeTimeout: number;
  readonly udpMaxSessions: number;
  readonly udpSessionTimeout: number;
  readonly log: Logger;
  readonly logLevel: string;
}

interface Slot {
  id: number;
  worker: Worker;
  acked: number;
  alive: boolean;
  /** Started (its listeners bound): from then on its heartbeat is watched. */
  started: boolean;
  /** Its heartbeat when last looked at, and since when it has not moved (performance.now()). */
  beat: number;
  beatSince: number;
  /** Terminated by the primary for a heartbeat that stopped. */
  stuck: boolean;
  /** The last snapshot posted to this worker (the base of the next delta). */
  sent: SnapshotData | undefined;
}


export class WorkerPool {
  readonly #opts: PoolOptions;
  #listeners: readonly ListenerSpec[];
  #settings: PoolSettings;
  readonly #shared = new SharedArrayBuffer(SHARED.size * 4);
  /** Gateway-wide counts per key (limit-conn), with each worker's share (released when it dies). */
  readonly #counts: SharedArrayBuffer;
  readonly #slots: Slot[] = [];
  readonly #portOverrides: Record<string, number> = {};
  /** Per worker id: its share of each node's open sessions (NODE_SLOTS Int32s, 1 MiB), written by the worker. */
  readonly #nodeShares: SharedArrayBuffer[] = [];
  readonly #waiters = new Set<{ version: number; resolve: () => void }>();
  /** Questions to workers awaiting an answer, by request id (a worker that dies answers its own with undefined). */
  readonly #pending = new Map<number, { slot: Slot; done: (m: ToPrimary | undefined) => void }>();
  #latest: SnapshotData | undefined;
  #nextRequest = 1;
  #stopping = false;
  /** Sessions lost when a worker died, for metrics. */
  lostWorkers = 0;

  /** Watches every started worker's heartbeat (state/stats.ts): one silent for WORKER_STUCK_MS is replaced. */
  readonly #watchdog = setInterval(() => this.#checkHeartbeats(), HEARTBEAT_MS * 2);

  constructor(opts: PoolOptions) {
    this.#watchdog.unref();
    this.#opts = opts;
    this.#listeners = opts.listeners;
    this.#counts = SharedCounts.create(DEFAULT_COUNT_SLOTS, opts.count);
    this.#settings = { maxConnections: opts.maxConnections, udpMaxSessions: opts.udpMaxSessions, udpSessionTimeout: opts.udpSessionTimeout, accessLog: opts.accessLog, nativeRelay: opts.nativeRelay };
  }

  /** Actual port of each listener (port-0 listeners get the port the first worker was given). */
  ports(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const l of this.#listeners) out[listenerKey(l)] = this.#portOverrides[listenerKey(l)] ?? l.port;
    return out;
  }

  get sharedCounters(): Int32Array {
    return new Int32Array(this.#shared);
  }

  async start(): Promise<void> {
    for (let i = 0; i < this.#opts.count; i++) {
      const bound = await this.#spawn(i);
      if (bound.errors.length > 0) {
        await this.terminate();
        throw new Error(bound.errors.join('\n'));
      }
      if (i === 0) for (const b of bound.bound) this.#portOverrides[b.key] = b.port;
    }
  }

  #spawn(id: number): Promise<{ bound: readonly { key: string; port: number }[]; errors: readonly string[] }> {
    // The latest snapshot goes with the worker's start data: it applies it before it binds a listener, so a worker
    // (re)started while the gateway runs never accepts a connection without the config in force.
    const initial = this.#latest;
    // The worker's own share of the per-node open-session counts (kept across its restarts), see the 'exit' handler.
    const nodeShare = this.#nodeShares[id] ??= new SharedArrayBuffer(NODE_SLOTS * 4);
    const init: WorkerInit & { readonly snapshot: SnapshotData | undefined; readonly nodeShare: SharedArrayBuffer } = {
      snapshot: initial,
      nodeShare,
      workerId: id,
      listeners: this.#listeners,
      portOverrides: this.#portOverrides,
      maxConnections: this.#settings.maxConnections,
      tlsHandshakeTimeout: this.#opts.tlsHandshakeTimeout,
      udpMaxSessions: this.#settings.udpMaxSessions,
      udpSessionTimeout: this.#settings.udpSessionTimeout,
      shared: this.#shared,
      counts: this.#counts,
      workers: this.#opts.count,
      nodes: this.#opts.nodes,
      logLevel: this.#opts.logLevel,
      accessLog: this.#settings.accessLog,
      proxyProtocol: this.#opts.proxyProtocol,
      nativeRelay: this.#settings.nativeRelay,
    };
    // The data path allocates per connection: a worker's young generation stays at V8's usual size even when the
    // launcher keeps the main thread's small (bin/sluice: fig 3 lost 13 µs per connection with 2 MiB here).
    const worker = new Worker(WORKER_URL, { workerData: init, name: `sluice-worker-${id}`, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB } });
    const slot: Slot = { id, worker, acked: -1, alive: true, sent: initial, started: false, beat: -1, beatSince: performance.now(), stuck: false };
    this.#slots[id] = slot;
    return new Promise((resolve, reject) => {
      worker.on('message', (m: ToPrimary) => {
        if (m.type === 'bound' && !slot.started) {
          slot.started = true;
          slot.beatSince = performance.now();
          if (this.#latest !== undefined && this.#latest !== initial) {
            worker.postMessage({ type: 'snapshot', data: this.#latest } satisfies ToWorker);
            slot.sent = this.#latest;
          }
          resolve(m);
          return;
        }
        this.#onMessage(slot, m);
      });
      worker.on('error', (err) => {
        this.#opts.log.error({ err, worker: id }, 'data-plane worker failed');
      });
      worker.on('exit', (code) => {
        slot.alive = false;
        if (!slot.started) {
          reject(new Error(`data-plane worker ${id} exited with code ${code} while starting`));
          return;
        }
        this.#checkWaiters();
        // Its unanswered questions (stats, explain, listeners) get no answer: settle them now, not at their timeout.
        for (const [requestId, p] of this.#pending) {
          if (p.slot !== slot) continue;
          this.#pending.delete(requestId);
          p.done(undefined);
        }
        // The dead worker's sessions are gone: take them out of the gateway-wide totals and count them as lost.
        const shared = new Int32Array(this.#shared);
        const tcp = Atomics.exchange(shared, workerActiveSlot(id), 0);
        const udp = Atomics.exchange(shared, workerUdpSlot(id), 0);
        Atomics.sub(shared, SHARED.active, tcp);
        Atomics.sub(shared, SHARED.udpSessions, udp);
        Atomics.add(shared, SHARED.lostSessions, tcp + udp);
        // ... and out of the per-node counts (least_conn), which would otherwise keep them for good.
        const mine = new Int32Array(nodeShare);
        const all = new Int32Array(this.#opts.nodes.conns);
        for (let slot = 0; slot < mine.length; slot++) if (mine[slot] !== 0) Atomics.sub(all, slot, Atomics.exchange(mine, slot, 0));
        // ... and out of limit-conn's counts.
        new SharedCounts(this.#counts, this.#opts.count).releaseWorker(id);
        if (this.#stopping) return;
        this.lostWorkers++;
        if (!slot.stuck) this.#opts.log.error({ worker: id, code }, 'data-plane worker died; restarting it');
        this.#spawn(id).catch((err: unknown) => this.#opts.log.error({ err, worker: id }, 'cannot restart data-plane worker'));
      });
    });
  }

  #onMessage(slot: Slot, m: ToPrimary): void {
    switch (m.type) {
      case 'ack':
        if (m.version > slot.acked) slot.acked = m.version;
        this.#checkWaiters();
        break;
      case 'explained':
      case 'relistened':
      case 'metrics':
      case 'connections':
      case 'killed':
      case 'stats': {
        const p = this.#pending.get(m.requestId);
        if (p !== undefined) {
          this.#pending.delete(m.requestId);
          p.done(m);
        }
        break;
      }
      case 'drained':
        this.#drained.add(slot.id);
        this.#checkDrained();
        break;
      case 'outcomes':
        this.#opts.onOutcomes?.(m.pairs);
        break;
      case 'bound':
        break;
    }
  }

  publish(snap: SnapshotData): void {
    const prev = this.#latest;
    this.#latest = snap;
    let delta: ToWorker | undefined;
    if (prev !== undefined) {
      // Upstream confs the builder did not change are the very same objects: compare by identity.
      const changed: Record<string, SnapshotData['upstreams'][string]> = {};
      for (const [k, u] of Object.entries(snap.upstreams)) if (prev.upstreams[k] !== u) changed[k] = u;
      const removed = Object.keys(prev.upstreams).filter((k) => !(k in snap.upstreams));
      delta = { type: 'snapshotDelta', delta: { version: snap.version, routes: snap.routes, ssls: snap.ssls, tls: snap.tls, streamPlugins: snap.streamPlugins, pluginMetadata: snap.pluginMetadata, changed, removed } };
    }
    for (const s of this.#slots) {
      if (!s.alive) continue;
      s.worker.postMessage(delta !== undefined && s.sent === prev ? delta : ({ type: 'snapshot', data: snap } satisfies ToWorker));
      s.sent = snap;
    }
  }

  /** Resolves once every live worker has acknowledged `version` (or after ACK_TIMEOUT_MS, logged). */
  published(version: number): Promise<void> {
    if (this.#allAcked(version)) return Promise.resolve();
    return new Promise((resolve) => {
      const w = { version, resolve: () => { clearTimeout(timer); resolve(); } };
      const timer = setTimeout(() => {
        this.#waiters.delete(w);
        this.#opts.log.warn({ version }, 'not every worker acknowledged the config in time');
        resolve();
      }, ACK_TIMEOUT_MS);
      this.#waiters.add(w);
    });
  }

  #allAcked(version: number): boolean {
    return this.#slots.every((s) => !s.alive || s.acked >= version);
  }

  #checkWaiters(): void {
    for (const w of this.#waiters) {
      if (this.#allAcked(w.version)) {
        this.#waiters.delete(w);
        w.resolve();
      }
    }
  }

  #ask(msg: (requestId: number) => ToWorker, slot: Slot): Promise<ToPrimary | undefined> {
    const requestId = this.#nextRequest++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.#pending.delete(requestId); resolve(undefined); }, QUERY_TIMEOUT_MS);
      this.#pending.set(requestId, { slot, done: (m) => { clearTimeout(timer); resolve(m); } });
      slot.worker.postMessage(msg(requestId));
    });
  }

  /** SIGHUP: every worker binds the new listeners and closes the removed ones; resolves with the bind errors. */
  async setListeners(listeners: readonly ListenerSpec[]): Promise<string[]> {
    this.#listeners = listeners;
    const asked = this.#slots.filter((s) => s.alive);
    const replies = await Promise.all(asked.map((s) => this.#ask((requestId) => ({ type: 'listeners', requestId, listeners }), s)));
    const errors = new Set<string>();
    for (const [i, m] of replies.entries()) {
      // A worker that died meanwhile is restarted with these listeners.
      if (m === undefined) {
        if (asked[i]?.alive === true) errors.add('a worker did not answer the listener change in time');
      } else if (m.type === 'relistened') for (const e of m.errors) errors.add(e);
    }
    return [...errors];
  }

  setSettings(s: PoolSettings): void {
    this.#settings = s;
    for (const slot of this.#slots) if (slot.alive) slot.worker.postMessage({ type: 'settings', ...s } satisfies ToWorker);
  }

  #checkHeartbeats(): void {
    if (this.#stopping) return;
    const shared = new Int32Array(this.#shared);
    const now = performance.now();
    for (const slot of this.#slots) {
      if (slot === undefined || !slot.alive || !slot.started || slot.stuck) continue;
      const beat = Atomics.load(shared, workerBeatSlot(slot.id));
      if (beat !== slot.beat) {
        slot.beat = beat;
        slot.beatSince = now;
        continue;
      }
      if (now - slot.beatSince < WORKER_STUCK_MS) continue;
      // Its event loop has not turned for that long (a runaway loop): its sessions get no service. terminate()
      // interrupts running JavaScript; the exit handler then counts its sessions as lost and starts a new worker.
      slot.stuck = true;
      this.#opts.log.error({ worker: slot.id, silentMs: Math.round(now - slot.beatSince) }, 'data-plane worker stuck (no heartbeat); replacing it');
      void slot.worker.terminate();
    }
  }

  /** Tests only: makes worker `id` spin in a loop that never returns, to prove the heartbeat's replacement. */
  hangForTest(id: number): void {
    this.#slots[id]?.worker.postMessage({ type: 'hang' } satisfies ToWorker);
  }

  /** Tests only: makes worker `id` die of an uncaught exception, to prove the restart path. */
  crashForTest(id: number): void {
    this.#slots[id]?.worker.postMessage({ type: 'crash' } satisfies ToWorker);
  }

  async explain(query: ExplainQuery): Promise<ExplainAnswer | undefined> {
    const slot = this.#slots.find((s) => s.alive);
    if (slot === undefined) return undefined;
    const m = await this.#ask((requestId) => ({ type: 'explain', requestId, query }), slot);
    return m?.type === 'explained' ? m.result : undefined;
  }

  async stats(): Promise<WorkerStatsSnapshot[]> {
    const res = await Promise.all(this.#slots.filter((s) => s.alive).map((s) => this.#ask((requestId) => ({ type: 'stats', requestId }), s)));
    return res.flatMap((m) => (m?.type === 'stats' ? [m.stats] : []));
  }

  /**
   * Every live worker's sessions matching `filter`: how many in all, and the oldest `limit` of them as JSON texts
   * joined by commas, `count` of them (each worker sends its own oldest first; they are merged here by started_at).
   */
  async connections(filter: ConnectionFilter, limit: number): Promise<{ total: number; text: string; count: number }> {
    const res = await Promise.all(this.#slots.filter((s) => s.alive).map((s) => this.#ask((requestId) => ({ type: 'connections', requestId, filter, limit }), s)));
    let total = 0;
    const lists: { text: string; ends: readonly number[]; started: readonly number[]; at: number }[] = [];
    for (const m of res) {
      if (m?.type !== 'connections') continue;
      total += m.total;
      lists.push({ text: m.text, ends: m.ends, started: m.started, at: 0 });
    }
    if (lists.length === 1 && (lists[0]?.ends.length ?? 0) <= limit) {
      const only = lists[0] as (typeof lists)[number];
      return { total, text: only.text, count: only.ends.length };
    }
    const parts: string[] = [];
    while (parts.length < limit) {
      let best: (typeof lists)[number] | undefined;
      for (const l of lists) if (l.at < l.ends.length && (best === undefined || (l.started[l.at] ?? 0) < (best.started[best.at] ?? 0))) best = l;
      if (best === undefined) break;
      const from = best.at === 0 ? 0 : (best.ends[best.at - 1] ?? 0) + 1;
      parts.push(best.text.slice(from, best.ends[best.at]));
      best.at++;
    }
    return { total, text: parts.join(','), count: parts.length };
  }

  /** connections() as objects, for the gateway's own pages (overview). */
  async connectionList(filter: ConnectionFilter, limit: number): Promise<{ total: number; list: ConnectionInfo[] }> {
    const { total, text } = await this.connections(filter, limit);
    return { total, list: JSON.parse(`[${text}]`) as ConnectionInfo[] };
  }

  /** Ends the sessions matching `filter` on every live worker (one worker when the id names it): how many ended. */
  async killConnections(filter: ConnectionFilter): Promise<number> {
    const owner = filter.id !== undefined ? connectionWorker(filter.id) : undefined;
    const asked = this.#slots.filter((s) => s.alive && (owner === undefined || s.id === owner));
    const res = await Promise.all(asked.map((s) => this.#ask((requestId) => ({ type: 'killConnections', requestId, filter }), s)));
    let n = 0;
    for (const m of res) if (m?.type === 'killed') n += m.count;
    return n;
  }

  /** Every live worker's metric counters (a worker that does not answer in time is left out of this scrape). */
  async metrics(): Promise<WorkerMetricsSnapshot[]> {
    const res = await Promise.all(this.#slots.filter((s) => s.alive).map((s) => this.#ask((requestId) => ({ type: 'metrics', requestId }), s)));
    return res.flatMap((m) => (m?.type === 'metrics' ? [m.metrics] : []));
  }

  readonly #drained = new Set<number>();
  #onDrained: (() => void) | undefined;
  #checkDrained(): void {
    if (this.#slots.every((s) => !s.alive || this.#drained.has(s.id))) this.#onDrained?.();
  }

  /** Graceful stop: listeners close at once, sessions finish; after timeoutMs the rest are closed. */
  async stop(timeoutMs: number): Promise<void> {
    this.#stopping = true;
    this.#drained.clear();
    const drained = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#onDrained = () => { clearTimeout(timer); resolve(true); };
    });
    for (const s of this.#slots) if (s.alive) s.worker.postMessage({ type: 'stop' } satisfies ToWorker);
    this.#checkDrained();
    const clean = await drained;
    if (!clean) {
      for (const s of this.#slots) if (s.alive) s.worker.postMessage({ type: 'kill' } satisfies ToWorker);
      await new Promise((r) => setTimeout(r, 50));
    }
    await this.terminate();
  }

  async terminate(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#watchdog);
    await Promise.all(this.#slots.map((s) => (s.alive ? s.worker.terminate() : Promise.resolve(0))));
  }
}
