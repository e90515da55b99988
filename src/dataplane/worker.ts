// A data-plane worker (a worker thread): binds every listener itself (reusePort), compiles each snapshot it is sent
// and swaps it in, runs sessions, and answers the primary's questions. Messages: see model/messages.ts.
import type { Server, Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import type { ListenerSpec } from '../model/config.ts';
import { OUTCOME_CODE, type SnapshotDelta, type ToPrimary, type ToWorker, type WorkerInit } from '../model/messages.ts';
import type { SnapshotData } from '../model/snapshot.ts';
import { createLogger } from '../observe/log.ts';
import { parseIp } from '../lib/ip.ts';
import { CidrSet } from '../lib/cidr.ts';
import { listenerAddr, listenerKey } from '../lib/addr.ts';
import { listenTcp } from './listen/tcp.ts';
import { UdpListener, type UdpDeps } from './udp/proxy.ts';
import { EMPTY_SNAPSHOT, Runtime } from './runtime.ts';
import { AccessLog, recordVariable, type AccessRecord } from '../observe/access-log.ts';
import type { EndReason } from './session/end.ts';
import { sessionStatus, tcpRecord } from './session/record.ts';
import { runEnd, type PluginRun } from './phases/plugins.ts';
import { WorkerPluginEnv } from './plugin-env.ts';
import { WorkerMetrics } from './state/metrics.ts';
import { SharedCounts } from '../lib/shared-counts.ts';
import { runSession } from './session/pipeline.ts';
import { Session, type ListenerInfo, type PeerAddrs } from './session/session.ts';
import { HEARTBEAT_MS, SHARED, WorkerStats, workerActiveSlot, workerBeatSlot, workerUdpSlot } from './state/stats.ts';
import { NodeTable } from '../lib/node-table.ts';
import { loadAddon } from './native/addon.ts';
import { DETACHED, NativeRelay } from './native/relay-native.ts';
import { Native } from './native/native.ts';
import { runInJs, runNative, type NativeSessionDeps } from './session/native-session.ts';
import type { ConnectOutcome, UpstreamNode } from './balancers/balancer.ts';

const port = parentPort;
if (port === null) throw new Error('worker.ts must run in a worker thread');
/**
 * `snapshot`: the config in force when the primary started this worker (undefined at the gateway's first start);
 * `nodeShare`: this worker's share of the per-node open-session counts (see WorkerNodeTable).
 */
const init = workerData as WorkerInit & { readonly snapshot: SnapshotData | undefined; readonly nodeShare: SharedArrayBuffer };
const log = createLogger(init.logLevel).child({ worker: init.workerId });
/**
 * The shared node table, also counting this worker's own share of each node's open sessions in memory the primary
 * can read: when the worker dies, the primary takes its sessions out of the gateway-wide counts (least_conn).
 */
class WorkerNodeTable extends NodeTable {
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
const nodes = new WorkerNodeTable(init.nodes, init.nodeShare);
const pluginEnv = new WorkerPluginEnv(log, init.workerId, new SharedCounts(init.counts, init.workers));
const runtime = new Runtime(nodes, pluginEnv);
const metrics = new WorkerMetrics();
/** Peers trusted to set the client address with a PROXY protocol header (validated at config load). */
const realIpFrom = CidrSet.parse(init.proxyProtocol.realIpFrom);
const stats = new WorkerStats();
const shared = new Int32Array(init.shared);
// The heartbeat: a loop that stops turning (a runaway loop) stops it, and the primary replaces this worker.
setInterval(() => { Atomics.add(shared, workerBeatSlot(init.workerId), 1); }, HEARTBEAT_MS).unref();
const sessions = new Set<Session>();
const myActive = workerActiveSlot(init.workerId);
/** The TCP listeners: Node's server, or the addon's accept on a dup of its socket (then Node's is closed). */
const servers = new Map<string, { spec: ListenerSpec; close: () => void }>();
let nextId = 1;
const now = (): number => performance.now();
let maxConnections = init.maxConnections;
let udpMaxSessions = init.udpMaxSessions;
let udpSessionTimeoutMs = init.udpSessionTimeout * 1000;
const udpListeners = new Map<string, UdpListener>();
const udpDeps: UdpDeps = {
  runtime, nodes, shared, sharedSlot: SHARED.udpSessions, workerSlot: workerUdpSlot(init.workerId), now,
  maxSessions: () => udpMaxSessions,
  sessionTimeoutMs: () => udpSessionTimeoutMs,
  onOutcome: (node, outcome) => onOutcome(node, outcome),
  plugins: pluginEnv,
  onEnd: (rec, run, listener) => {
    stats.udpSessions++;
    stats.byReason[rec.endReason as EndReason]++;
    metrics.ended(rec, listener);
    logged(rec, run);
  },
  onDrop: (why) => { stats.udpDrops[why]++; },
  native: () => (nativeWanted ? loadNative() : undefined),
};
let stopping = false;

/** Datagrams dropped here and in the addon (native UDP listeners), by cause. */
function udpDrops(): typeof stats.udpDrops {
  const d = { ...stats.udpDrops };
  const n = native?.udpDrops();
  if (n !== undefined) {
    d.queue_full += n.queue_full;
    d.send_queue_full += n.send_queue_full;
    d.table_full += n.table_full;
  }
  return d;
}

/** sluice.native_relay: the addon is loaded the first time it is wanted, once per worker. */
let nativeWanted = init.nativeRelay === 'auto';
let native: Native | undefined;
let relayer: NativeRelay | undefined;
let nativeWhy = '';
function loadNative(): Native | undefined {
  if (native === undefined && nativeWhy === '') {
    const l = loadAddon();
    let why = l.ok ? '' : l.why;
    if (l.ok) {
      try {
        native = new Native(l.addon);
        relayer = new NativeRelay(native);
      } catch (err) {
        why = `the addon did not start: ${(err as Error).message}`; // e.g. no epoll set (out of fds)
      }
    }
    if (why !== '') {
      nativeWhy = why;
      log.warn({ why }, 'native relay unavailable; the TypeScript relay runs');
    }
  }
  return native;
}
function nativeRelay(): NativeRelay | undefined {
  if (!nativeWanted) return undefined;
  loadNative();
  return relayer;
}
/** What GET /sluice/v1/status says (CONTRACT §7). */
function nativeState(): string {
  if (!nativeWanted) return 'off';
  loadNative();
  return native !== undefined ? 'on' : `unavailable: ${nativeWhy}`;
}
nativeRelay();

const send = (m: ToPrimary): void => port.postMessage(m);

/** Passive health: connect outcomes go to the primary in batches (bounded: past the cap, outcomes wait for the next batch's room and are dropped). */
const OUTCOME_CAP = 20_000;
let outcomes: number[] = [];
let outcomeTimer: NodeJS.Timeout | undefined;
function onOutcome(node: UpstreamNode, outcome: ConnectOutcome): void {
  if (outcomes.length >= OUTCOME_CAP * 2) return;
  outcomes.push(node.slot, OUTCOME_CODE[outcome]);
  outcomeTimer ??= setTimeout(() => {
    outcomeTimer = undefined;
    const pairs = outcomes;
    outcomes = [];
    send({ type: 'outcomes', pairs });
  }, 50);
}

let accessLog = new AccessLog(init.accessLog);

/** A session's record, TCP and UDP: the access log, then the plugins' cleanups and log hooks. */
function logged(rec: AccessRecord, run: PluginRun | undefined): void {
  accessLog.log(rec);
  if (run !== undefined) runEnd(run, { record: rec, variable: (name) => recordVariable(rec, name) }, pluginEnv);
}

function onEnd(s: Session, reason: EndReason): void {
  sessions.delete(s);
  const listener = s.listener.addr;
  metrics.closed(listener);
  metrics.count(listener, sessionStatus(s, reason), s.node?.addr, s.route?.id, reason, 'tcp', s.bytesToClient, s.bytesFromClient);
  // the record only when something reads it (building it for nothing costs every connection)
  if (accessLog.conf.enabled || s.plugins !== undefined) logged(tcpRecord(s, reason, now()), s.plugins);
  if ((s.upstreamSocket !== undefined || s.relayedNatively) && s.node !== undefined) nodes.close(s.node.slot);
  stats.byReason[s.endReason ?? 'Internal']++;
  Atomics.sub(shared, SHARED.active, 1);
  Atomics.sub(shared, myActive, 1);
  if (stopping && sessions.size === 0) {
    accessLog.flushSync();
    send({ type: 'drained' });
  }
}

const pipelineDeps = {
  now, stats, log, onEnd, nodes, onOutcome, handshakeMs: init.tlsHandshakeTimeout * 1000, realIpFrom, plugins: pluginEnv, metrics,
  nativeRelay,
};

/** max_connections: counts the connection in, or refuses it (the caller closes it). */
function admit(): boolean {
  if (Atomics.add(shared, SHARED.active, 1) >= maxConnections) {
    Atomics.sub(shared, SHARED.active, 1);
    Atomics.add(shared, SHARED.rejected, 1);
    stats.rejectedMaxConn++;
    return false;
  }
  Atomics.add(shared, myActive, 1);
  return true;
}

function open(info: ListenerInfo, sock: Socket, peer?: PeerAddrs): Session {
  const s = new Session(nextId++, sock, info, runtime.current, now(), peer);
  sessions.add(s);
  stats.sessions++;
  metrics.opened(info.addr);
  return s;
}

function accept(info: ListenerInfo, sock: Socket): void {
  // Until a phase takes over, an error on the socket only closes it (no unhandled 'error' can crash the worker).
  sock.on('error', () => { /* reported through the phase that owns the socket */ });
  if (!admit()) {
    sock.destroy();
    return;
  }
  runSession(open(info, sock), pipelineDeps).catch((err: unknown) => {
    log.error({ err }, 'session pipeline threw');
  });
}

let nativeDeps: NativeSessionDeps | undefined;

/** A connection the addon accepted on `info`'s listener (the fd is ours: dialed, closed or wrapped). */
function acceptNative(n: Native, info: ListenerInfo, fd: number, remoteAddr: string, remotePort: number, localAddr: string, localPort: number): void {
  if (!admit()) {
    n.closeFd(fd);
    return;
  }
  stats.nativeAccepted++;
  const s = open(info, DETACHED, { remoteAddr, remotePort, localAddr, localPort });
  try {
    if (nativeWanted) runNative(s, fd, (nativeDeps ??= { ...pipelineDeps, native: n }));
    else runInJs(s, fd, pipelineDeps);
  } catch (err) {
    // a bug in the routing code: logged, never thrown into the addon (it would end the worker)
    log.error({ err, client: `${remoteAddr}:${remotePort}`, listener: info.addr }, 'native session failed to start');
  }
}

/** Plain TCP listeners (no TLS, no PROXY protocol from clients) are accepted on by the addon when it is in force. */
function nativeListen(srv: Server, info: ListenerInfo): (() => void) | undefined {
  const n = nativeWanted && !info.tls && !info.proxyProtocol ? loadNative() : undefined;
  const fd = (srv as Server & { _handle?: { fd?: number } | null })._handle?.fd;
  if (n === undefined || typeof fd !== 'number' || fd < 0) return undefined;
  const lid = n.listen(fd, (cfd, ra, rp, la, lp) => acceptNative(n, info, cfd, ra, rp, la, lp));
  if (lid < 0) {
    log.warn({ listener: info.addr, errno: lid }, 'the native accept could not take the listener; Node accepts on it');
    return undefined;
  }
  srv.close(); // its fd only: the socket listens on through the addon's dup
  return () => n.unlisten(lid);
}

/** Binds what is missing of `specs`; reports the bound ports and the errors. */
async function bind(specs: readonly ListenerSpec[]): Promise<{ bound: { key: string; port: number }[]; errors: string[] }> {
  const bound: { key: string; port: number }[] = [];
  const errors: string[] = [];
  for (const spec of specs) {
    const key = listenerKey(spec);
    if (servers.has(key) || udpListeners.has(key)) continue;
    if (spec.proto === 'udp') {
      try {
        const u = await UdpListener.bind(spec, init.portOverrides[key] ?? spec.port, udpDeps);
        udpListeners.set(key, u);
        bound.push({ key, port: u.port });
      } catch (err) {
        errors.push(`${spec.source}: cannot listen on udp ${spec.host ?? '*'}:${spec.port}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      continue;
    }
    const info: ListenerInfo = {
      addr: listenerAddr(spec),
      tls: spec.tls,
      proxyProtocol: spec.proxyProtocol || init.proxyProtocol.fromClients,
      proxyProtocolToUpstream: spec.proxyProtocolToUpstream || init.proxyProtocol.toUpstreams,
      proxyProtocolVersion: spec.proxyProtocolToUpstreamVersion,
    };
    try {
      const srv = await listenTcp(spec, init.portOverrides[key] ?? spec.port, (sock) => accept(info, sock));
      srv.on('error', (err) => log.error({ err, listener: info.addr }, 'listener error'));
      const addr = srv.address();
      servers.set(key, { spec, close: nativeListen(srv, info) ?? (() => srv.close()) });
      bound.push({ key, port: typeof addr === 'object' && addr !== null ? addr.port : spec.port });
    } catch (err) {
      errors.push(`${spec.source}: cannot listen on tcp ${info.addr}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  return { bound, errors };
}

/** SIGHUP: closes the listeners no longer wanted (open sessions go on), binds the new and the changed ones. */
async function relisten(requestId: number, specs: readonly ListenerSpec[]): Promise<void> {
  // A gateway that is stopping keeps its listeners closed.
  if (stopping) {
    send({ type: 'relistened', requestId, errors: [] });
    return;
  }
  const wanted = new Map(specs.map((s) => [listenerKey(s), s]));
  // A listener whose options changed at the same address (e.g. tls: true) is bound anew: the new server first (the
  // port is SO_REUSEPORT), then the old one closes, so the port does not refuse in between.
  const replaced = new Map<string, { spec: ListenerSpec; close: () => void }>();
  for (const [key, entry] of servers) {
    const spec = wanted.get(key);
    if (spec !== undefined && sameOptions(spec, entry.spec)) continue;
    servers.delete(key);
    if (spec !== undefined) replaced.set(key, entry);
    else entry.close();
  }
  for (const [key, u] of udpListeners) {
    if (wanted.has(key)) continue;
    u.close();
    udpListeners.delete(key);
  }
  const { errors } = await bind(specs);
  for (const [key, entry] of replaced) {
    if (servers.has(key)) entry.close();
    else servers.set(key, entry); // the new one could not be bound (reported): the old one goes on
  }
  send({ type: 'relistened', requestId, errors });
}

function sameOptions(a: ListenerSpec, b: ListenerSpec): boolean {
  return a.tls === b.tls && a.proxyProtocol === b.proxyProtocol && a.proxyProtocolToUpstream === b.proxyProtocolToUpstream
    && a.proxyProtocolToUpstreamVersion === b.proxyProtocolToUpstreamVersion;
}

function stopListening(): void {
  for (const l of servers.values()) l.close();
  servers.clear();
  for (const u of udpListeners.values()) u.close();
  udpListeners.clear();
}

/** The snapshot data last applied (the base of the next delta from the primary). */
let lastData: SnapshotData = EMPTY_SNAPSHOT;

function allUnhealthyPicks(): number {
  let n = 0;
  for (const u of runtime.current.upstreams.values()) n += u.balancer.allUnhealthyPicks;
  return n;
}

function withDelta(base: SnapshotData, d: SnapshotDelta): SnapshotData {
  const upstreams: Record<string, SnapshotData['upstreams'][string]> = { ...base.upstreams };
  for (const k of d.removed) delete upstreams[k];
  Object.assign(upstreams, d.changed);
  return { version: d.version, routes: d.routes, ssls: d.ssls, tls: d.tls, streamPlugins: d.streamPlugins, pluginMetadata: d.pluginMetadata, upstreams };
}

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'snapshotDelta':
    case 'snapshot':
      try {
        const data = m.type === 'snapshot' ? m.data : withDelta(lastData, m.delta);
        lastData = data;
        const snap = runtime.apply(data);
        for (const e of snap.certs.errors) log.error({ ssl: e.id, error: e.error }, 'certificate not usable; its SNIs have no certificate');
        send({ type: 'ack', version: snap.version });
      } catch (err) {
        log.error({ err, version: m.type === 'snapshot' ? m.data.version : m.delta.version }, 'snapshot rejected by the worker; keeping the previous one');
        send({ type: 'ack', version: -1 });
      }
      break;
    case 'explain': {
      const q = m.query;
      const res = runtime.current.router.explain({
        remote: parseIp(q.remote_addr), server: parseIp(q.server_addr), serverPort: q.server_port,
        sni: q.sni, sniMode: q.sni === undefined ? 'none' : q.protocol === 'tls_passthrough' ? 'peek' : 'tls',
      });
      send({ type: 'explained', requestId: m.requestId, result: res });
      break;
    }
    case 'settings':
      if (JSON.stringify(m.accessLog) !== JSON.stringify(accessLog.conf)) {
        accessLog.close();
        accessLog = new AccessLog(m.accessLog);
      }
      maxConnections = m.maxConnections;
      udpMaxSessions = m.udpMaxSessions;
      udpSessionTimeoutMs = m.udpSessionTimeout * 1000;
      nativeWanted = m.nativeRelay === 'auto';
      break;
    case 'listeners':
      relisten(m.requestId, m.listeners).catch((err: unknown) => {
        send({ type: 'relistened', requestId: m.requestId, errors: [String(err)] });
      });
      break;
    case 'stop':
      stopping = true;
      stopListening();
      if (sessions.size === 0) send({ type: 'drained' });
      break;
    case 'crash':
      setImmediate(() => { throw new Error('crash requested by a test'); });
      break;
    case 'hang':
      setImmediate(() => { for (;;) { /* spins until the primary terminates this worker */ } });
      break;
    case 'kill':
      native?.endAll();
      for (const s of sessions) {
        s.endReason = 'Shutdown';
        s.client.destroy();
        s.upstreamSocket?.destroy();
      }
      break;
    case 'metrics': {
      const c = pluginEnv.counters;
      let udpActive = 0;
      const udpByListener: Record<string, number> = {};
      for (const u of udpListeners.values()) {
        udpActive += u.sessions;
        udpByListener[u.addr] = (udpByListener[u.addr] ?? 0) + u.sessions;
      }
      let syslogDropped = 0;
      for (const r of pluginEnv.resources()) if ('dropped' in r && typeof r.dropped === 'function') syslogDropped += (r.dropped as () => number)();
      send({
        type: 'metrics', requestId: m.requestId,
        metrics: metrics.snapshot({ connectionTotal: Object.fromEntries(c.connectionTotal), refusals: Object.fromEntries(c.refusals), udpActive, udpByListener, syslogDropped }),
      });
      break;
    }
    case 'stats':
      send({ type: 'stats', requestId: m.requestId, stats: { sessions: stats.sessions, active: sessions.size, rejectedMaxConn: stats.rejectedMaxConn, udpSessions: stats.udpSessions, udpDrops: udpDrops(), allUnhealthyPicks: allUnhealthyPicks(), byReason: { ...stats.byReason }, nativeRelay: nativeState(), nativeRelayed: stats.nativeRelayed, nativeAccepted: stats.nativeAccepted } });
      break;
  }
});

process.on('uncaughtException', (err) => {
  log.fatal({ err }, 'uncaught exception in a data-plane worker');
  process.exit(70);
});

// The config first, then the listeners: a connection is never accepted before the worker has the config in force.
if (init.snapshot !== undefined) {
  try {
    lastData = init.snapshot;
    send({ type: 'ack', version: runtime.apply(init.snapshot).version });
  } catch (err) {
    log.error({ err, version: init.snapshot.version }, 'snapshot rejected by the worker; keeping the previous one');
  }
}

bind(init.listeners).then((r) => send({ type: 'bound', ...r }), (err: unknown) => {
  log.fatal({ err }, 'failed to bind listeners');
  process.exit(71);
});
