// The connections API's view of one worker (CONTRACT §7): its live TCP and UDP sessions, listed with their byte counts
// as of the question, filtered here (so the answer carries only what was asked for), and ended on demand. The data
// path keeps nothing for it: the list is read from the sessions the worker holds anyway, the addon's counts in one
// call per question; only a session once listed keeps the fixed part of its text (a WeakMap, gone with the session).
import { hostPort } from '../../lib/addr.ts';
import { CidrSet } from '../../lib/cidr.ts';
import { connectionId, type ConnectionFilter, type ConnectionInfo } from '../../model/messages.ts';
import type { UpstreamNode } from '../balancers/balancer.ts';
import type { Session } from '../session/session.ts';
import type { UdpListener, UdpSession } from '../udp/proxy.ts';
import type { NativeLoader } from './native-loader.ts';

export interface InventorySource {
  readonly workerId: number;
  readonly tcp: ReadonlySet<Session>;
  readonly udp: () => Iterable<UdpListener>;
  readonly native: NativeLoader;
  /** performance.now() ms. */
  readonly now: () => number;
}

/** A matcher for `f`; `remoteAddr` was checked by the API (an IP or a CIDR). */
function matcher(f: ConnectionFilter, workerId: number, start: string): (id: number, proto: 'tcp' | 'udp', remote: string, route: string | undefined, node: UpstreamNode | undefined) => boolean {
  const remote = f.remoteAddr !== undefined ? CidrSet.parse([f.remoteAddr]) : undefined;
  return (id, proto, addr, route, node) => (f.protocol === undefined || f.protocol === proto)
    && (f.routeId === undefined || f.routeId === route)
    && (f.node === undefined || (node !== undefined && (f.node === node.addr || f.node === nodeAddr(node))))
    && (remote === undefined || remote.has(addr))
    && (f.id === undefined || f.id === connectionId(workerId, start, id, proto));
}

const nodeAddr = (n: UpstreamNode): string => hostPort(n.ip ?? n.host, n.port);

/** A ConnectionInfo's text up to started_at (key order as ConnectionInfo's); strings through JSON.stringify. */
function entryHead(id: string, protocol: 'tcp' | 'udp', listener: string, remote: string, remotePort: number, server: string, serverPort: number,
  sni: string | undefined, route: string | undefined, node: UpstreamNode | undefined, started: number): string {
  const str = (v: string | undefined): string => (v === undefined ? 'null' : JSON.stringify(v));
  return `{"id":${str(id)},"protocol":"${protocol}","listener":${str(listener)},"remote_addr":${str(remote)},"remote_port":${remotePort},`
    + `"server_addr":${str(server)},"server_port":${serverPort},"sni":${str(sni)},"route_id":${str(route)},`
    + `"node":${str(node !== undefined ? nodeAddr(node) : undefined)},"started_at":${started}`;
}

function entryTail(head: string, from: number, to: number, state: ConnectionInfo['state']): string {
  return `${head},"bytes_from_client":${from},"bytes_to_client":${to},"state":"${state}"}`;
}

function tcpState(s: Session): ConnectionInfo['state'] {
  if (s.action === 'proxying') return 'relaying';
  return s.upstream !== undefined ? 'connecting' : 'handshake';
}

export class Inventory {
  readonly #src: InventorySource;
  /** This worker's start, in every id it gives (a restarted worker's ids never name a dead one's sessions). */
  readonly #start = Date.now().toString(36);
  constructor(src: InventorySource) {
    this.#src = src;
  }

  /**
   * How many sessions match, and the oldest `limit` of them as ConnectionInfo JSON texts, with their started_at.
   * Texts, because they cross to the primary as one copy each and are joined there, not parsed and encoded again. The
   * part of a relaying session's text that can no longer change (all but its byte counts and state) is kept from one
   * question to the next, so a list of 10,000 costs a concatenation per session.
   */
  list(f: ConnectionFilter, limit: number): { total: number; entries: string[]; started: number[] } {
    const { workerId, now } = this.#src;
    const match = matcher(f, workerId, this.#start);
    const wallOffset = Date.now() - now();
    /** Sources (TCP, then each UDP listener), each oldest first: [started_at, text] pairs, at most `limit` each. */
    const sources: [number, string][][] = [];
    let total = 0;
    if (f.protocol !== 'udp') {
      const out: [number, string][] = [];
      const counts = this.#src.native.loaded?.counts();
      for (const s of this.#src.tcp) {
        // one being ended (its sockets closed, its end not yet run) is not live any more
        if (s.endReason !== undefined || !match(s.id, 'tcp', s.remoteAddr, s.route?.id, s.node)) continue;
        total++;
        if (out.length >= limit) continue;
        const state = tcpState(s);
        let head = this.#heads.get(s);
        if (head === undefined) {
          const started = Math.round(s.startedAt + wallOffset);
          head = {
            started,
            text: entryHead(connectionId(workerId, this.#start, s.id, 'tcp'), 'tcp', s.listener.addr, s.remoteAddr, s.remotePort, s.serverAddr, s.serverPort, s.sni, s.route?.id, s.node, started),
          };
          // fixed from the relay on (the node is chosen): kept; before that a session's route and node still change
          if (state === 'relaying') this.#heads.set(s, head);
        }
        const nat = s.nativeId !== undefined ? counts?.get(s.nativeId) : undefined;
        const sock = s.relayedNatively ? undefined : s.client;
        out.push([head.started, entryTail(head.text, nat?.from ?? sock?.bytesRead ?? s.bytesFromClient, nat?.to ?? sock?.bytesWritten ?? s.bytesToClient, state)]);
      }
      sources.push(out);
    }
    if (f.protocol !== 'tcp') {
      for (const l of this.#src.udp()) {
        const out: [number, string][] = [];
        for (const { s, from, to } of l.live()) {
          if (!match(s.id, 'udp', s.clientAddr, s.route.id, s.node)) continue;
          total++;
          if (out.length >= limit) continue;
          let head = this.#heads.get(s);
          if (head === undefined) {
            const started = Math.round(s.startedAt + wallOffset);
            head = { started, text: entryHead(connectionId(workerId, this.#start, s.id, 'udp'), 'udp', l.addr, s.clientAddr, s.clientPort, s.serverAddr, s.serverPort, undefined, s.route.id, s.node, started) };
            this.#heads.set(s, head);
          }
          out.push([head.started, entryTail(head.text, from, to, 'relaying')]);
        }
        sources.push(out);
      }
    }
    const all = sources.length === 1 ? (sources[0] as [number, string][]) : sources.flat().sort((a, b) => a[0] - b[0]);
    const kept = all.length > limit ? all.slice(0, limit) : all;
    return { total, entries: kept.map((e) => e[1]), started: kept.map((e) => e[0]) };
  }

  /** The fixed part of a listed session's text, by session (gone with the session). */
  readonly #heads = new WeakMap<object, { readonly started: number; readonly text: string }>();

  /** Ends every session matching `f` now, as `killed`: how many. */
  kill(f: ConnectionFilter): number {
    const match = matcher(f, this.#src.workerId, this.#start);
    const tcp: Session[] = [];
    for (const s of this.#src.tcp) if (s.endReason === undefined && match(s.id, 'tcp', s.remoteAddr, s.route?.id, s.node)) tcp.push(s);
    const udp: [UdpListener, UdpSession][] = [];
    if (f.protocol !== 'tcp') for (const l of this.#src.udp()) for (const { s } of l.live()) if (match(s.id, 'udp', s.clientAddr, s.route.id, s.node)) udp.push([l, s]);
    for (const s of tcp) this.#killTcp(s);
    for (const [l, s] of udp) l.kill(s);
    return tcp.length + udp.length;
  }

  #killTcp(s: Session): void {
    // the pipeline keeps a reason set before the end (endSession), whichever phase the session is in
    s.endReason = 'killed';
    const n = this.#src.native.loaded;
    if (s.nativeId !== undefined && n !== undefined && n.kill(s.nativeId)) return; // its record ends it this turn
    s.client.destroy();
    s.upstreamSocket?.destroy();
  }
}
