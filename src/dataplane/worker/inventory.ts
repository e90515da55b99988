// The connections API's view of one worker (CONTRACT §7): its live TCP and UDP sessions, listed with their byte counts
// as of the question, filtered here (so the answer carries only what was asked for), and ended on demand. Nothing is
// kept per session for it: the list is read from the sessions the worker holds anyway, and the addon's counts are
// read in one call per question.
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

  /** How many sessions match, and the first `limit` of them (oldest first). */
  list(f: ConnectionFilter, limit: number): { total: number; list: ConnectionInfo[] } {
    const { workerId, now } = this.#src;
    const match = matcher(f, workerId, this.#start);
    const wallOffset = Date.now() - now();
    const list: ConnectionInfo[] = [];
    let total = 0;
    if (f.protocol !== 'udp') {
      const counts = this.#src.native.loaded?.counts();
      for (const s of this.#src.tcp) {
        // one being ended (its sockets closed, its end not yet run) is not live any more
        if (s.endReason !== undefined || !match(s.id, 'tcp', s.remoteAddr, s.route?.id, s.node)) continue;
        if (total++ >= limit) continue;
        const nat = s.nativeId !== undefined ? counts?.get(s.nativeId) : undefined;
        const sock = s.relayedNatively ? undefined : s.client;
        list.push({
          id: connectionId(workerId, this.#start, s.id, 'tcp'), protocol: 'tcp', listener: s.listener.addr,
          remote_addr: s.remoteAddr, remote_port: s.remotePort, server_addr: s.serverAddr, server_port: s.serverPort,
          sni: s.sni ?? null, route_id: s.route?.id ?? null, node: s.node !== undefined ? nodeAddr(s.node) : null,
          started_at: Math.round(s.startedAt + wallOffset),
          bytes_from_client: nat?.from ?? sock?.bytesRead ?? s.bytesFromClient, bytes_to_client: nat?.to ?? sock?.bytesWritten ?? s.bytesToClient,
          state: tcpState(s),
        });
      }
    }
    if (f.protocol !== 'tcp') {
      for (const l of this.#src.udp()) {
        for (const { s, from, to } of l.live()) {
          if (!match(s.id, 'udp', s.clientAddr, s.route.id, s.node)) continue;
          if (total++ >= limit) continue;
          list.push({
            id: connectionId(workerId, this.#start, s.id, 'udp'), protocol: 'udp', listener: l.addr,
            remote_addr: s.clientAddr, remote_port: s.clientPort, server_addr: s.serverAddr, server_port: s.serverPort,
            sni: null, route_id: s.route.id, node: nodeAddr(s.node), started_at: Math.round(s.startedAt + wallOffset),
            bytes_from_client: from, bytes_to_client: to, state: 'relaying',
          });
        }
      }
    }
    return { total, list };
  }

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
