// UDP proxying for one listener in one worker. A session per client address:port: its first datagram matches a
// route and picks a node; the session then owns one connected upstream socket, so later datagrams go the same way and
// replies go back from the listener's socket (its address and port). State is bounded everywhere:
// - sessions: gateway-wide cap sluice.udp_max_sessions (a shared counter); at the cap this worker's oldest session is
//   evicted (counted), or the datagram dropped if this worker has none;
// - idle expiry: min(udp_session_timeout, max(timeout.send, timeout.read)) when the upstream sets timeout, else
//   udp_session_timeout — checked by one sweep per second, not a timer per session;
// - datagrams queued while the upstream socket connects: at most QUEUE_CAP per session (more are dropped, counted);
// - the kernel send queue of a socket: past SEND_QUEUE_CAP bytes datagrams are dropped instead of queued in memory;
// - the listener's kernel receive queue: LISTENER_RCVBUF bytes (capped by net.core.rmem_max).
// A config change applies to new sessions; an existing session keeps its route and node until it ends.
// On the native path (the addon loaded, sluice.native_relay not off) the datagrams never reach JavaScript: the addon
// (native/src/udp.c) holds the sessions' sockets and queues, and asks here once per new client (#openNative), which
// decides as below and answers with udpOpen or udpEnd; each session's end comes back as a record. It reads each
// datagram's destination (IP_PKTINFO), so server_addr applies on wildcard listeners too, and replies leave from it.
// Expected failures (no route, no node, ICMP refused) are counted values; nothing throws out of here.
import { createSocket, type RemoteInfo, type Socket as DgramSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { parseIp } from '../../lib/ip.ts';
import { listenerAddr } from '../../lib/addr.ts';
import { unmapV4 } from '../../lib/cidr.ts';
import type { NodeTable } from '../../lib/node-table.ts';
import type { ListenerSpec } from '../../model/config.ts';
import type { ConnectOutcome, UpstreamNode } from '../balancers/balancer.ts';
import type { CompiledRoute } from '../router/router.ts';
import type { CompiledUpstream, Runtime } from '../runtime.ts';
import type { EndReason } from '../session/end.ts';
import { PluginRun, runPreread } from '../phases/plugins.ts';
import type { PluginEnv, PluginVerdict, PrereadSession } from '../../plugins/plugin.ts';
import { liveVariable, type LiveVars } from '../session/vars.ts';
import { udpRecord, type UdpEnd } from '../session/record.ts';
import type { Native, NativeSink } from '../native/native.ts';
import type { RelayResult } from '../phases/relay.ts';
import type { AccessRecord } from '../../observe/access-log.ts';

export const QUEUE_CAP = 64;
export const SEND_QUEUE_CAP = 1 << 20;
/** SO_RCVBUF of a listener socket (the kernel caps it at net.core.rmem_max). */
export const LISTENER_RCVBUF = 4 << 20;
const SWEEP_MS = 1000;

export class UdpSession {
  /** Its number in this worker (the connections API's id). */
  readonly id: number;
  readonly key: string;
  readonly clientAddr: string;
  readonly clientPort: number;
  /** The listener's address and port (a wildcard listener shows its bound address). */
  serverAddr: string;
  serverPort: number;
  readonly route: CompiledRoute;
  readonly upstream: CompiledUpstream;
  readonly node: UpstreamNode;
  /** Its upstream socket on the JavaScript path (the addon holds it on the native path). */
  readonly socket: DgramSocket | undefined;
  /** Its id in the addon (native path). */
  readonly nativeId: number | undefined;
  readonly startedAt: number;
  readonly idleMs: number;
  lastActive: number;
  connected: boolean;
  queue: Buffer[];
  bytesFromClient: number;
  bytesToClient: number;
  datagramsFromClient: number;
  datagramsToClient: number;
  dropped: number;
  endReason: EndReason | undefined;
  readonly plugins: PluginRun | undefined;

  constructor(id: number, key: string, client: Client, route: CompiledRoute, up: CompiledUpstream, node: UpstreamNode, socket: DgramSocket | undefined, now: number, idleMs: number, plugins: PluginRun | undefined) {
    this.id = id;
    this.key = key;
    this.plugins = plugins;
    this.clientAddr = client.address;
    this.clientPort = client.port;
    this.nativeId = client.nativeId;
    this.serverAddr = '';
    this.serverPort = 0;
    this.route = route;
    this.upstream = up;
    this.node = node;
    this.socket = socket;
    this.startedAt = now;
    this.idleMs = idleMs;
    this.lastActive = now;
    this.connected = false;
    this.queue = [];
    this.bytesFromClient = 0;
    this.bytesToClient = 0;
    this.datagramsFromClient = 0;
    this.datagramsToClient = 0;
    this.dropped = 0;
    this.endReason = undefined;
  }
}

/** A new client: its address, the address it sent to, and (native path) the addon's session id. */
interface Client {
  readonly key: string;
  readonly address: string;
  readonly port: number;
  readonly serverAddr: string;
  readonly serverPort: number;
  readonly nativeId: number | undefined;
}

export interface UdpDeps {
  readonly runtime: Runtime;
  readonly nodes: NodeTable;
  /** Gateway-wide session count (Int32Array slot), shared by all workers. */
  readonly shared: Int32Array;
  readonly sharedSlot: number;
  /** This worker's share of the count (the primary subtracts it if the worker dies). */
  readonly workerSlot: number;
  readonly maxSessions: () => number;
  readonly sessionTimeoutMs: () => number;
  readonly now: () => number;
  readonly onOutcome: (node: UpstreamNode, outcome: ConnectOutcome) => void;
  readonly plugins: PluginEnv;
  /** A session ended (or was refused by a plugin before it opened): its record, and its plugins' run. */
  readonly onEnd: (r: AccessRecord, run: PluginRun | undefined, listener: string) => void;
  readonly onDrop: (why: 'no_route' | 'no_node' | 'queue_full' | 'table_full' | 'send_queue_full') => void;
  /** The addon, when UDP listeners should use it. */
  readonly native: () => Native | undefined;
  /** A session number unique in this worker. */
  readonly nextId: () => number;
}

/** Node's UDP handle behind a dgram socket (internal, stable in practice: native-notes.md) — for its fd. */
function dgramFd(sock: DgramSocket): number | undefined {
  const state = Object.getOwnPropertySymbols(sock).find((k) => k.description === 'state symbol');
  const handle = state !== undefined ? (sock as unknown as Record<symbol, { handle?: { fd?: unknown } } | undefined>)[state]?.handle : undefined;
  return typeof handle?.fd === 'number' && handle.fd >= 0 ? handle.fd : undefined;
}

export class UdpListener {
  readonly addr: string;
  readonly socket: DgramSocket;
  readonly #deps: UdpDeps;
  /** The addon and this listener's id in it (native path). */
  #native: { n: Native; lid: number } | undefined;
  readonly #sessions = new Map<string, UdpSession>();
  /** Clients whose first datagram waits for an asynchronous plugin (limit-conn's delay): their datagrams, bounded. */
  readonly #pending = new Map<string, Buffer[]>();
  readonly #serverAddr: string;
  #serverPort = 0;
  #sweep: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(spec: ListenerSpec, socket: DgramSocket, deps: UdpDeps) {
    this.addr = listenerAddr(spec);
    this.socket = socket;
    this.#deps = deps;
    this.#serverAddr = spec.host ?? '0.0.0.0';
  }

  /** Binds with SO_REUSEPORT: the kernel hashes each client's 4-tuple to one worker, so a session stays on it. */
  static async bind(spec: ListenerSpec, port: number, deps: UdpDeps): Promise<UdpListener> {
    const attempt = (host: string): Promise<DgramSocket> => new Promise((resolve, reject) => {
      const s = createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4', reusePort: true, ipv6Only: false });
      s.once('error', reject);
      s.bind(port, host, () => {
        s.off('error', reject);
        // A bigger receive queue absorbs the worker's short stalls (GC, a busy event loop, a descheduled thread) at
        // high datagram rates; the kernel caps it at net.core.rmem_max. Best effort: the default size still works.
        try { s.setRecvBufferSize(LISTENER_RCVBUF); } catch { /* keep the kernel default */ }
        resolve(s);
      });
    });
    let sock: DgramSocket;
    if (spec.host !== null) sock = await attempt(spec.host);
    else {
      sock = await attempt('::').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'EAFNOSUPPORT' || err.code === 'EADDRNOTAVAIL') return attempt('0.0.0.0');
        throw err;
      });
    }
    const l = new UdpListener(spec, sock, deps);
    l.#serverPort = sock.address().port;
    const n = deps.native();
    const fd = n !== undefined ? dgramFd(sock) : undefined;
    if (n !== undefined && fd !== undefined) {
      const lid = n.udpListen(fd, (sid, ra, rp, la, lp) => l.#openNative(sid, ra, rp, la, lp));
      if (lid > 0) {
        l.#native = { n, lid };
        sock.close(); // its fd; the addon holds a dup, still in the port's SO_REUSEPORT group
        return l;
      }
    }
    sock.on('message', (msg, rinfo) => l.#onClientDatagram(msg, rinfo));
    sock.on('error', () => { /* per-datagram send errors: the datagram is lost, as UDP allows */ });
    l.#sweep = setInterval(() => l.#expire(), SWEEP_MS);
    l.#sweep.unref();
    return l;
  }

  get port(): number {
    return this.#serverPort;
  }

  get sessions(): number {
    return this.#sessions.size;
  }

  /** Stops receiving; existing sessions are ended (UDP has nothing to drain). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
    for (const s of [...this.#sessions.values()]) this.#end(s, 'Shutdown');
    if (this.#native !== undefined) this.#native.n.udpUnlisten(this.#native.lid);
    else try { this.socket.close(); } catch { /* already closed */ }
  }

  /** Native path: a new client's first datagram waits in the addon for this answer. */
  #openNative(sid: number, address: string, port: number, serverAddr: string, serverPort: number): void {
    const n = this.#native?.n;
    if (n === undefined) return;
    const client: Client = { key: `#${sid}`, address, port, serverAddr, serverPort, nativeId: sid };
    // opened by #start (udpOpen); refused, unroutable or waiting for a plugin: it stays or is ended here
    const s = this.#open(client, this.#deps.now(), undefined);
    if (s === undefined && !this.#pending.has(client.key)) n.udpEnd(sid);
  }

  #onClientDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    const key = `${rinfo.address}|${rinfo.port}`;
    const now = this.#deps.now();
    let s = this.#sessions.get(key);
    if (s === undefined) {
      const waiting = this.#pending.get(key);
      if (waiting !== undefined) {
        if (waiting.length < QUEUE_CAP) waiting.push(msg);
        else this.#deps.onDrop('queue_full');
        return;
      }
      s = this.#open({ key, address: rinfo.address, port: rinfo.port, serverAddr: this.#serverAddr, serverPort: this.#serverPort, nativeId: undefined }, now, msg);
      if (s === undefined) return;
    }
    s.lastActive = now;
    s.bytesFromClient += msg.length;
    s.datagramsFromClient++;
    if (!s.connected) {
      if (s.queue.length >= QUEUE_CAP) {
        s.dropped++;
        this.#deps.onDrop('queue_full');
        return;
      }
      s.queue.push(msg);
      return;
    }
    this.#sendUp(s, msg);
  }

  #sendUp(s: UdpSession, msg: Buffer): void {
    const sock = s.socket;
    if (sock === undefined) return;
    if (sock.getSendQueueSize() > SEND_QUEUE_CAP) {
      s.dropped++;
      this.#deps.onDrop('send_queue_full');
      return;
    }
    sock.send(msg);
  }

  /** The first datagram of a client (JavaScript path: `first`; native: it waits in the addon). */
  #open(c: Client, now: number, first: Buffer | undefined): UdpSession | undefined {
    const d = this.#deps;
    const snap = d.runtime.current;
    const remote = unmapV4(c.address);
    const route = snap.router.match({
      remote: parseIp(remote), server: parseIp(c.serverAddr), serverPort: c.serverPort, sni: undefined, sniMode: 'none',
    });
    if (route === undefined) {
      d.onDrop('no_route');
      return undefined;
    }
    const chain = route.plugins;
    if (chain === undefined) return this.#start(c, route, route.conf.upstreamKey, undefined, now);
    const run = new PluginRun(chain);
    const ps = new UdpPrereadSession(remote, c.port, c.serverAddr, c.serverPort, route, run);
    const v = runPreread(run, ps, d.plugins);
    if (!(v instanceof Promise)) return this.#afterPlugins(c, route, run, ps, v, now);
    // An asynchronous plugin (limit-conn's delay): hold this client's datagrams (bounded; in the addon on the native
    // path) until it answers.
    this.#pending.set(c.key, first !== undefined ? [first] : []);
    void v.then((r) => {
      const queued = this.#pending.get(c.key) ?? [];
      this.#pending.delete(c.key);
      if (this.#closed) {
        this.#refused(c, route, run, { end: 'Shutdown' });
        return;
      }
      const later = this.#afterPlugins(c, route, run, ps, r, this.#deps.now());
      if (later === undefined) {
        if (c.nativeId !== undefined) this.#native?.n.udpEnd(c.nativeId);
        return;
      }
      for (const m of queued) this.#onClientDatagram(m, { address: c.address, port: c.port, family: isIP(c.address) === 6 ? 'IPv6' : 'IPv4', size: m.length });
    });
    return undefined;
  }

  #afterPlugins(c: Client, route: CompiledRoute, run: PluginRun, ps: UdpPrereadSession, v: PluginVerdict, now: number): UdpSession | undefined {
    if (v !== 'continue') {
      this.#refused(c, route, run, v);
      return undefined;
    }
    const s = this.#start(c, route, ps.upstreamKey, run, now);
    // Not started (no upstream, no node, table full): what the plugins counted for it is released now.
    if (s === undefined) this.#refused(c, route, run, { end: 'NoHealthyNode' });
    return s;
  }

  /** A session that never opened: no bytes went anywhere; its record is logged and its plugins' cleanups run. */
  #refused(c: Client, route: CompiledRoute, run: PluginRun, v: { readonly end: EndReason }): void {
    const now = this.#deps.now();
    const end: UdpEnd = {
      clientAddr: unmapV4(c.address), clientPort: c.port, serverAddr: c.serverAddr, serverPort: c.serverPort,
      routeId: route.id, serviceId: route.conf.serviceId, upstreamAddr: undefined, bytesFromClient: 0, bytesToClient: 0, startedAt: now,
    };
    this.#deps.onEnd(udpRecord(end, v.end, now, run.status), run, this.addr);
  }

  #start(c: Client, route: CompiledRoute, upstreamKey: string | undefined, run: PluginRun | undefined, now: number): UdpSession | undefined {
    const d = this.#deps;
    const snap = d.runtime.current;
    const remote = unmapV4(c.address);
    const up = upstreamKey !== undefined ? snap.upstreams.get(upstreamKey) : undefined;
    if (up === undefined) {
      d.onDrop('no_route');
      return undefined;
    }
    const node = up.balancer.pick(
      { remoteAddr: remote, remotePort: c.port, serverAddr: c.serverAddr, serverPort: c.serverPort, sni: undefined, mqttClientId: undefined },
      new Set(),
    );
    if (node === undefined || node.ip === undefined) {
      d.onDrop('no_node');
      return undefined;
    }
    if (Atomics.load(d.shared, d.sharedSlot) >= d.maxSessions()) {
      const oldest = this.#sessions.values().next().value;
      if (oldest === undefined) {
        d.onDrop('table_full');
        return undefined;
      }
      this.#end(oldest, 'LimitReached');
    }
    const t = up.conf.timeout;
    const idleMs = up.conf.timeoutSet ? Math.min(d.sessionTimeoutMs(), Math.max(t.send, t.read) * 1000) : d.sessionTimeoutMs();
    const nat = c.nativeId !== undefined ? this.#native?.n : undefined;
    const sock = nat === undefined ? createSocket(isIP(node.ip) === 6 ? 'udp6' : 'udp4') : undefined;
    const s = new UdpSession(this.#deps.nextId(), c.key, c, route, up, node, sock, now, idleMs, run);
    s.serverAddr = c.serverAddr;
    s.serverPort = c.serverPort;
    if (nat !== undefined && c.nativeId !== undefined) {
      const sink: NativeSink = { connected: () => undefined, dialFailed: () => undefined, ended: (r) => this.#endedNatively(s, r) };
      if (nat.udpOpen(sink, c.nativeId, node.ip, node.port, idleMs) !== 0) {
        d.onDrop('no_node');
        return undefined;
      }
      s.connected = true;
    }
    this.#sessions.set(c.key, s);
    Atomics.add(d.shared, d.sharedSlot, 1);
    Atomics.add(d.shared, d.workerSlot, 1);
    d.nodes.open(node.slot);
    if (sock === undefined) return s;
    sock.on('message', (reply) => {
      s.lastActive = this.#deps.now();
      s.bytesToClient += reply.length;
      s.datagramsToClient++;
      if (this.socket.getSendQueueSize() > SEND_QUEUE_CAP) {
        s.dropped++;
        this.#deps.onDrop('send_queue_full');
        return;
      }
      this.socket.send(reply, s.clientPort, s.clientAddr);
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      // On a connected UDP socket an ICMP port unreachable surfaces as ECONNREFUSED: the node is down.
      const refused = err.code === 'ECONNREFUSED';
      if (refused) d.onOutcome(node, 'failed');
      this.#end(s, refused ? 'ConnectFailed' : 'UpstreamReset');
    });
    sock.connect(node.port, node.ip, () => {
      if (s.endReason !== undefined) return;
      s.connected = true;
      const q = s.queue;
      s.queue = [];
      for (const m of q) this.#sendUp(s, m);
    });
    return s;
  }

  /** The open sessions, with their byte counts as of now (a native one's from the addon). */
  *live(): Generator<{ readonly s: UdpSession; readonly from: number; readonly to: number }> {
    for (const s of this.#sessions.values()) {
      const b = s.nativeId !== undefined ? this.#native?.n.udpBytes(s.nativeId) : undefined;
      yield { s, from: b?.from ?? s.bytesFromClient, to: b?.to ?? s.bytesToClient };
    }
  }

  /** Ends an open session now (the connections API): end reason killed. */
  kill(s: UdpSession): void {
    this.#end(s, 'killed');
  }

  /** Ends a session from here; a native one in the addon too, which answers with its byte counts. */
  #end(s: UdpSession, reason: EndReason): void {
    if (s.endReason !== undefined) return;
    if (s.nativeId !== undefined && this.#native !== undefined) {
      const bytes = this.#native.n.udpEnd(s.nativeId);
      if (bytes !== undefined) {
        s.bytesFromClient = bytes.from;
        s.bytesToClient = bytes.to;
      }
    }
    this.#finish(s, reason);
  }

  /** The addon ended a native session (idle: Done; an ICMP refusal: ConnectFailed; its listener closed: Shutdown). */
  #endedNatively(s: UdpSession, r: RelayResult): void {
    s.bytesFromClient = r.bytesFromClient;
    s.bytesToClient = r.bytesToClient;
    if (r.reason === 'ConnectFailed') this.#deps.onOutcome(s.node, 'failed');
    this.#finish(s, r.reason);
  }

  #finish(s: UdpSession, reason: EndReason): void {
    if (s.endReason !== undefined) return;
    s.endReason = reason;
    s.queue = [];
    this.#sessions.delete(s.key);
    Atomics.sub(this.#deps.shared, this.#deps.sharedSlot, 1);
    Atomics.sub(this.#deps.shared, this.#deps.workerSlot, 1);
    this.#deps.nodes.close(s.node.slot);
    try { s.socket?.close(); } catch { /* already closed */ }
    const end: UdpEnd = {
      clientAddr: unmapV4(s.clientAddr), clientPort: s.clientPort, serverAddr: s.serverAddr, serverPort: s.serverPort, routeId: s.route.id,
      serviceId: s.route.conf.serviceId, upstreamAddr: s.node.addr, bytesFromClient: s.bytesFromClient, bytesToClient: s.bytesToClient,
      startedAt: s.startedAt,
    };
    this.#deps.onEnd(udpRecord(end, reason, this.#deps.now()), s.plugins, this.addr);
  }

  #expire(): void {
    if (this.#native !== undefined) return; // the addon expires its own sessions
    const now = this.#deps.now();
    for (const s of [...this.#sessions.values()]) if (now - s.lastActive >= s.idleMs) this.#end(s, 'Done');
  }
}

/** A UDP session being opened, as the plugins' preread hooks see it: no stream to read; traffic-split may choose. */
class UdpPrereadSession implements PrereadSession, LiveVars {
  readonly protocol = 'UDP';
  readonly remoteAddr: string;
  readonly remotePort: number;
  readonly peerAddr: string;
  readonly serverAddr: string;
  readonly serverPort: number;
  readonly routeId: string;
  readonly serviceId: string | undefined;
  readonly sni = undefined;
  mqttClientId: string | undefined;
  upstreamKey: string | undefined;
  readonly #run: PluginRun;
  readonly #route: CompiledRoute;

  constructor(remote: string, port: number, serverAddr: string, serverPort: number, route: CompiledRoute, run: PluginRun) {
    this.remoteAddr = remote;
    this.remotePort = port;
    this.peerAddr = remote;
    this.serverAddr = serverAddr;
    this.serverPort = serverPort;
    this.routeId = route.id;
    this.serviceId = route.conf.serviceId;
    this.mqttClientId = undefined;
    this.upstreamKey = route.conf.upstreamKey;
    this.#run = run;
    this.#route = route;
  }

  variable(name: string): string | undefined {
    return liveVariable(this, name);
  }

  readClient(): undefined {
    return undefined;
  }

  setMqttClientId(id: string): void {
    this.mqttClientId = id;
  }

  useUpstream(key: string | undefined): boolean {
    this.upstreamKey = key ?? this.#route.conf.upstreamKey;
    return true;
  }

  onEnd(fn: () => void): void {
    this.#run.onEnd(fn);
  }
}
