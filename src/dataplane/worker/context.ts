// One data-plane worker's state and what it does with it: admits and runs sessions (Node- or addon-accepted),
// counts their ends, applies snapshots and settings, stops and answers the primary's questions. Everything a worker
// holds lives in one WorkerContext (no module-level state), built from the primary's WorkerInit.
import type { Socket } from 'node:net';
import type { ListenerSpec } from '../../model/config.ts';
import type { ConnectionFilter, ExplainQuery, SnapshotDelta, ToPrimary, ToWorker, WorkerInit, WorkerMetricsSnapshot, WorkerStatsSnapshot } from '../../model/messages.ts';
import type { SnapshotData } from '../../model/snapshot.ts';
import type { Logger } from '../../observe/log.ts';
import { parseIp } from '../../lib/ip.ts';
import { CidrSet } from '../../lib/cidr.ts';
import { SharedCounts } from '../../lib/shared-counts.ts';
import { Runtime, type CompiledSnapshot } from '../runtime.ts';
import type { ExplainResult } from '../router/router.ts';
import { WorkerPluginEnv } from '../plugin-env.ts';
import { WorkerMetrics } from '../state/metrics.ts';
import { HEARTBEAT_MS, SHARED, WorkerStats, workerActiveSlot, workerBeatSlot, workerUdpSlot } from '../state/stats.ts';
import type { EndReason } from '../session/end.ts';
import { runSession, type PipelineDeps } from '../session/pipeline.ts';
import { Session, type ListenerInfo, type PeerAddrs } from '../session/session.ts';
import { runInJs, runNative, type NativeSessionDeps } from '../session/native-session.ts';
import { DETACHED } from '../native/relay-native.ts';
import type { Native } from '../native/native.ts';
import type { UdpDeps } from '../udp/proxy.ts';
import { WorkerNodeTable } from './node-table.ts';
import { NativeLoader } from './native-loader.ts';
import { OutcomeBatcher } from './outcomes.ts';
import { SessionEnds } from './session-end.ts';
import { ListenerManager } from './listeners.ts';
import { Inventory } from './inventory.ts';

/** What the primary sends a worker at its start: `snapshot` (undefined at the gateway's first start), `nodeShare` (WorkerNodeTable). */
export type WorkerStart = WorkerInit & { readonly snapshot: SnapshotData | undefined; readonly nodeShare: SharedArrayBuffer };

/** The settings a SIGHUP can change in a running worker (udpSessionTimeout in seconds). */
export type WorkerSettings = Omit<Extract<ToWorker, { type: 'settings' }>, 'type'>;

export class WorkerContext {
  readonly log: Logger;
  readonly #init: WorkerStart;
  readonly #send: (m: ToPrimary) => void;
  readonly #shared: Int32Array;
  readonly #myActive: number;
  readonly #nodes: WorkerNodeTable;
  readonly #plugins: WorkerPluginEnv;
  readonly #runtime: Runtime;
  readonly #metrics = new WorkerMetrics();
  readonly #stats = new WorkerStats();
  readonly #native: NativeLoader;
  readonly #ends: SessionEnds;
  readonly #listeners: ListenerManager;
  readonly #inventory: Inventory;
  readonly #sessions = new Set<Session>();
  readonly #pipeline: PipelineDeps;
  #nativeDeps: NativeSessionDeps | undefined;
  #nextId = 1;
  #settings: WorkerSettings;
  #stopping = false;

  constructor(init: WorkerStart, log: Logger, send: (m: ToPrimary) => void) {
    this.#init = init;
    this.log = log;
    this.#send = send;
    this.#settings = init;
    this.#shared = new Int32Array(init.shared);
    this.#myActive = workerActiveSlot(init.workerId);
    this.#nodes = new WorkerNodeTable(init.nodes, init.nodeShare);
    this.#plugins = new WorkerPluginEnv(log, init.workerId, new SharedCounts(init.counts, init.workers));
    this.#runtime = new Runtime(this.#nodes, this.#plugins);
    this.#native = new NativeLoader(init.nativeRelay === 'auto', log);
    this.#ends = new SessionEnds(init.accessLog, this.#stats, this.#metrics, this.#plugins);
    const outcomes = new OutcomeBatcher((pairs) => send({ type: 'outcomes', pairs }));
    this.#pipeline = {
      now, stats: this.#stats, log, nodes: this.#nodes, onOutcome: outcomes.report, plugins: this.#plugins, metrics: this.#metrics,
      handshakeMs: init.tlsHandshakeTimeout * 1000,
      /** Peers trusted to set the client address with a PROXY protocol header (validated at config load). */
      realIpFrom: CidrSet.parse(init.proxyProtocol.realIpFrom),
      onEnd: (s, reason) => this.#tcpEnded(s, reason),
      nativeRelay: () => this.#native.relay(),
    };
    const udp: UdpDeps = {
      runtime: this.#runtime, nodes: this.#nodes, shared: this.#shared, sharedSlot: SHARED.udpSessions, workerSlot: workerUdpSlot(init.workerId), now,
      maxSessions: () => this.#settings.udpMaxSessions,
      sessionTimeoutMs: () => this.#settings.udpSessionTimeout * 1000,
      onOutcome: outcomes.report,
      plugins: this.#plugins,
      onEnd: (rec, run, listener) => this.#ends.udp(rec, run, listener),
      onDrop: (why) => { this.#stats.udpDrops[why]++; },
      native: () => this.#native.native(),
      nextId: () => this.#nextId++,
    };
    this.#listeners = new ListenerManager({
      log, native: this.#native, udp, portOverrides: init.portOverrides, proxyProtocol: init.proxyProtocol,
      accept: (info, sock) => this.#accept(info, sock),
      acceptNative: (n, info, fd, ra, rp, la, lp) => this.#acceptNative(n, info, fd, ra, rp, la, lp),
    });
    const listeners = this.#listeners;
    this.#inventory = new Inventory({ workerId: init.workerId, tcp: this.#sessions, udp: () => listeners.udpListeners, native: this.#native, now });
  }

  /** The config first, then the listeners: a connection is never accepted before the worker has the config in force. */
  async start(): Promise<void> {
    // The heartbeat: a loop that stops turning (a runaway loop) stops it, and the primary replaces this worker.
    const beat = workerBeatSlot(this.#init.workerId);
    setInterval(() => { Atomics.add(this.#shared, beat, 1); }, HEARTBEAT_MS).unref();
    this.#native.relay(); // loaded now, so the first connection does not pay for it
    const first = this.#init.snapshot;
    if (first !== undefined) this.#applied(first.version, () => this.#runtime.apply(first));
    const r = await this.#listeners.bind(this.#init.listeners);
    this.#send({ type: 'bound', ...r });
  }

  /** A whole snapshot: acknowledged with its version, or -1 when it is refused. */
  applySnapshot(data: SnapshotData): void {
    this.#applied(data.version, () => this.#runtime.apply(data));
  }

  /** A delta on the snapshot data last received: acknowledged as a whole snapshot is. */
  applyDelta(delta: SnapshotDelta): void {
    this.#applied(delta.version, () => this.#runtime.applyDelta(delta));
  }

  #applied(version: number, apply: () => CompiledSnapshot): void {
    try {
      const snap = apply();
      for (const e of snap.certs.errors) this.log.error({ ssl: e.id, error: e.error }, 'certificate not usable; its SNIs have no certificate');
      this.#send({ type: 'ack', version: snap.version });
    } catch (err) {
      this.log.error({ err, version }, 'snapshot rejected by the worker; keeping the previous one');
      this.#send({ type: 'ack', version: -1 });
    }
  }

  explain(q: ExplainQuery): ExplainResult {
    return this.#runtime.current.router.explain({
      remote: parseIp(q.remote_addr), server: parseIp(q.server_addr), serverPort: q.server_port,
      sni: q.sni, sniMode: q.sni === undefined ? 'none' : q.protocol === 'tls_passthrough' ? 'peek' : 'tls',
    });
  }

  /** The connections API: the live sessions matching `f` (how many, and the first `limit`). */
  connections(f: ConnectionFilter, limit: number): { total: number; text: string; ends: number[]; started: number[] } {
    const { total, entries, started } = this.#inventory.list(f, limit);
    const ends: number[] = [];
    let at = 0;
    for (const e of entries) {
      at += e.length;
      ends.push(at);
      at++; // the comma
    }
    return { total, text: entries.join(','), ends, started };
  }

  /** The connections API: ends the sessions matching `f` now; how many. */
  killConnections(f: ConnectionFilter): number {
    return this.#inventory.kill(f);
  }

  /** SIGHUP's settings: they apply to new sessions (and a changed access log is reopened). */
  settings(s: WorkerSettings): void {
    this.#ends.setAccessLog(s.accessLog);
    this.#native.wanted = s.nativeRelay === 'auto';
    this.#settings = s;
  }

  /** SIGHUP's listeners; a gateway that is stopping keeps its listeners closed. */
  async relisten(specs: readonly ListenerSpec[]): Promise<string[]> {
    return this.#stopping ? [] : this.#listeners.relisten(specs);
  }

  /** A graceful stop: no more accepts; `drained` once the last session has ended. */
  stop(): void {
    this.#stopping = true;
    this.#listeners.close();
    if (this.#sessions.size === 0) this.#send({ type: 'drained' });
  }

  /** The end of a graceful stop's shutdown_timeout: every session ends now, as Shutdown. */
  kill(): void {
    this.#native.loaded?.endAll();
    for (const s of this.#sessions) {
      s.endReason = 'Shutdown';
      s.client.destroy();
      s.upstreamSocket?.destroy();
    }
  }

  metrics(): WorkerMetricsSnapshot {
    const c = this.#plugins.counters;
    let udpActive = 0;
    const udpByListener: Record<string, number> = {};
    for (const u of this.#listeners.udpListeners) {
      udpActive += u.sessions;
      udpByListener[u.addr] = (udpByListener[u.addr] ?? 0) + u.sessions;
    }
    let syslogDropped = 0;
    for (const r of this.#plugins.resources()) if ('dropped' in r && typeof r.dropped === 'function') syslogDropped += (r.dropped as () => number)();
    return this.#metrics.snapshot({ connectionTotal: Object.fromEntries(c.connectionTotal), refusals: Object.fromEntries(c.refusals), udpActive, udpByListener, syslogDropped });
  }

  stats(): WorkerStatsSnapshot {
    const st = this.#stats;
    let allUnhealthyPicks = 0;
    for (const u of this.#runtime.current.upstreams.values()) allUnhealthyPicks += u.balancer.allUnhealthyPicks;
    return {
      sessions: st.sessions, active: this.#sessions.size, rejectedMaxConn: st.rejectedMaxConn, udpSessions: st.udpSessions, udpDrops: this.#udpDrops(),
      allUnhealthyPicks, byReason: { ...st.byReason }, nativeRelay: this.#native.state(), nativeRelayed: st.nativeRelayed, nativeAccepted: st.nativeAccepted,
    };
  }

  /** Datagrams dropped here and in the addon (native UDP listeners), by cause. */
  #udpDrops(): WorkerStats['udpDrops'] {
    const d = { ...this.#stats.udpDrops };
    const n = this.#native.loaded?.udpDrops();
    if (n !== undefined) {
      d.queue_full += n.queue_full;
      d.send_queue_full += n.send_queue_full;
      d.table_full += n.table_full;
    }
    return d;
  }

  /** max_connections: counts the connection in, or refuses it (the caller closes it). */
  #admit(): boolean {
    if (Atomics.add(this.#shared, SHARED.active, 1) >= this.#settings.maxConnections) {
      Atomics.sub(this.#shared, SHARED.active, 1);
      Atomics.add(this.#shared, SHARED.rejected, 1);
      this.#stats.rejectedMaxConn++;
      return false;
    }
    Atomics.add(this.#shared, this.#myActive, 1);
    return true;
  }

  #open(info: ListenerInfo, sock: Socket, peer?: PeerAddrs): Session {
    const s = new Session(this.#nextId++, sock, info, this.#runtime.current, now(), peer);
    this.#sessions.add(s);
    this.#stats.sessions++;
    this.#metrics.opened(info.addr);
    return s;
  }

  #accept(info: ListenerInfo, sock: Socket): void {
    // Until a phase takes over, an error on the socket only closes it (no unhandled 'error' can crash the worker).
    sock.on('error', () => { /* reported through the phase that owns the socket */ });
    if (!this.#admit()) {
      sock.destroy();
      return;
    }
    runSession(this.#open(info, sock), this.#pipeline).catch((err: unknown) => {
      this.log.error({ err }, 'session pipeline threw');
    });
  }

  /** A connection the addon accepted on `info`'s listener (the fd is ours: dialed, closed or wrapped). */
  #acceptNative(n: Native, info: ListenerInfo, fd: number, remoteAddr: string, remotePort: number, localAddr: string, localPort: number): void {
    if (!this.#admit()) {
      n.closeFd(fd);
      return;
    }
    this.#stats.nativeAccepted++;
    const s = this.#open(info, DETACHED, { remoteAddr, remotePort, localAddr, localPort });
    try {
      if (this.#native.wanted) runNative(s, fd, (this.#nativeDeps ??= { ...this.#pipeline, native: n }));
      else runInJs(s, fd, this.#pipeline);
    } catch (err) {
      // a bug in the routing code: logged, never thrown into the addon (it would end the worker)
      this.log.error({ err, client: `${remoteAddr}:${remotePort}`, listener: info.addr }, 'native session failed to start');
    }
  }

  /** A TCP session ended (the pipeline or the native relay): counted, logged, its node and its slot given back. */
  #tcpEnded(s: Session, reason: EndReason): void {
    this.#sessions.delete(s);
    this.#ends.tcp(s, reason, now());
    if ((s.upstreamSocket !== undefined || s.relayedNatively) && s.node !== undefined) this.#nodes.close(s.node.slot);
    Atomics.sub(this.#shared, SHARED.active, 1);
    Atomics.sub(this.#shared, this.#myActive, 1);
    if (this.#stopping && this.#sessions.size === 0) {
      this.#ends.flush();
      this.#send({ type: 'drained' });
    }
  }
}

const now = (): number => performance.now();
