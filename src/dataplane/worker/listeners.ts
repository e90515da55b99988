// The worker's listeners: binds each listener spec itself (SO_REUSEPORT: every worker has its own accept queue),
// rebinds on SIGHUP without a moment where the port refuses, and closes them on stop. A plain TCP listener is accepted
// on by the addon when the native relay is in force (Node's server is closed; the socket listens on through the
// addon's dup of its fd); TLS and PROXY-protocol listeners always accept in Node.
import type { Server, Socket } from 'node:net';
import type { ListenerSpec } from '../../model/config.ts';
import type { WorkerInit } from '../../model/messages.ts';
import type { Logger } from '../../observe/log.ts';
import { listenerAddr, listenerKey } from '../../lib/addr.ts';
import { listenTcp } from '../listen/tcp.ts';
import { UdpListener, type UdpDeps } from '../udp/proxy.ts';
import type { ListenerInfo } from '../session/session.ts';
import type { Native } from '../native/native.ts';
import type { NativeLoader } from './native-loader.ts';

/** A connection the addon accepted: its fd (ours: dialed, closed or wrapped) and its two ends. */
export type NativeAccept = (n: Native, info: ListenerInfo, fd: number, remoteAddr: string, remotePort: number, localAddr: string, localPort: number) => void;

export interface ListenerDeps {
  readonly log: Logger;
  readonly native: NativeLoader;
  /** A connection Node accepted. */
  readonly accept: (info: ListenerInfo, sock: Socket) => void;
  readonly acceptNative: NativeAccept;
  readonly udp: UdpDeps;
  readonly portOverrides: WorkerInit['portOverrides'];
  readonly proxyProtocol: WorkerInit['proxyProtocol'];
}

interface TcpListener {
  readonly spec: ListenerSpec;
  readonly close: () => void;
}

export class ListenerManager {
  readonly #tcp = new Map<string, TcpListener>();
  readonly #udp = new Map<string, UdpListener>();
  readonly #deps: ListenerDeps;
  constructor(deps: ListenerDeps) {
    this.#deps = deps;
  }

  get udpListeners(): IterableIterator<UdpListener> {
    return this.#udp.values();
  }

  /** Binds what is missing of `specs`; reports the bound ports and the errors. */
  async bind(specs: readonly ListenerSpec[]): Promise<{ bound: { key: string; port: number }[]; errors: string[] }> {
    const bound: { key: string; port: number }[] = [];
    const errors: string[] = [];
    for (const spec of specs) {
      const key = listenerKey(spec);
      if (this.#tcp.has(key) || this.#udp.has(key)) continue;
      const port = this.#deps.portOverrides[key] ?? spec.port;
      const r = spec.proto === 'udp' ? await this.#bindUdp(key, spec, port) : await this.#bindTcp(key, spec, port);
      if (typeof r === 'number') bound.push({ key, port: r });
      else errors.push(r.error);
    }
    return { bound, errors };
  }

  /** SIGHUP: closes the listeners no longer wanted (open sessions go on), binds the new and the changed ones. */
  async relisten(specs: readonly ListenerSpec[]): Promise<string[]> {
    const wanted = new Map(specs.map((s) => [listenerKey(s), s]));
    // A listener whose options changed at the same address (e.g. tls: true) is bound anew: the new server first (the
    // port is SO_REUSEPORT), then the old one closes, so the port does not refuse in between.
    const replaced = new Map<string, TcpListener>();
    for (const [key, l] of this.#tcp) {
      const spec = wanted.get(key);
      if (spec !== undefined && sameOptions(spec, l.spec)) continue;
      this.#tcp.delete(key);
      if (spec !== undefined) replaced.set(key, l);
      else l.close();
    }
    for (const [key, u] of this.#udp) {
      if (wanted.has(key)) continue;
      u.close();
      this.#udp.delete(key);
    }
    const { errors } = await this.bind(specs);
    for (const [key, l] of replaced) {
      if (this.#tcp.has(key)) l.close();
      else this.#tcp.set(key, l); // the new one could not be bound (reported): the old one goes on
    }
    return errors;
  }

  close(): void {
    for (const l of this.#tcp.values()) l.close();
    this.#tcp.clear();
    for (const u of this.#udp.values()) u.close();
    this.#udp.clear();
  }

  async #bindUdp(key: string, spec: ListenerSpec, port: number): Promise<number | { error: string }> {
    try {
      const u = await UdpListener.bind(spec, port, this.#deps.udp);
      this.#udp.set(key, u);
      return u.port;
    } catch (err) {
      return { error: `${spec.source}: cannot listen on udp ${spec.host ?? '*'}:${spec.port}: ${errCode(err)}` };
    }
  }

  async #bindTcp(key: string, spec: ListenerSpec, port: number): Promise<number | { error: string }> {
    const pp = this.#deps.proxyProtocol;
    const info: ListenerInfo = {
      addr: listenerAddr(spec),
      tls: spec.tls,
      proxyProtocol: spec.proxyProtocol || pp.fromClients,
      proxyProtocolToUpstream: spec.proxyProtocolToUpstream || pp.toUpstreams,
      proxyProtocolVersion: spec.proxyProtocolToUpstreamVersion,
    };
    try {
      const srv = await listenTcp(spec, port, (sock) => this.#deps.accept(info, sock));
      srv.on('error', (err) => this.#deps.log.error({ err, listener: info.addr }, 'listener error'));
      const addr = srv.address();
      this.#tcp.set(key, { spec, close: this.#nativeListen(srv, info) ?? (() => srv.close()) });
      return typeof addr === 'object' && addr !== null ? addr.port : spec.port;
    } catch (err) {
      return { error: `${spec.source}: cannot listen on tcp ${info.addr}: ${errCode(err)}` };
    }
  }

  /** Hands a plain TCP listener to the addon's accept; returns how to close it, or undefined if Node keeps it. */
  #nativeListen(srv: Server, info: ListenerInfo): (() => void) | undefined {
    const n = !info.tls && !info.proxyProtocol ? this.#deps.native.native() : undefined;
    const fd = (srv as Server & { _handle?: { fd?: number } | null })._handle?.fd;
    if (n === undefined || typeof fd !== 'number' || fd < 0) return undefined;
    const lid = n.listen(fd, (cfd, ra, rp, la, lp) => this.#deps.acceptNative(n, info, cfd, ra, rp, la, lp));
    if (lid < 0) {
      this.#deps.log.warn({ listener: info.addr, errno: lid }, 'the native accept could not take the listener; Node accepts on it');
      return undefined;
    }
    srv.close(); // its fd only: the socket listens on through the addon's dup
    return () => n.unlisten(lid);
  }
}

function sameOptions(a: ListenerSpec, b: ListenerSpec): boolean {
  return a.tls === b.tls && a.proxyProtocol === b.proxyProtocol && a.proxyProtocolToUpstream === b.proxyProtocolToUpstream
    && a.proxyProtocolToUpstreamVersion === b.proxyProtocolToUpstreamVersion;
}

function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? String(err);
}
