// One proxied TCP connection, accept to log. Every field is set in the constructor (same shape for every session).
import type { Socket } from 'node:net';
import type { IpNum } from '../../lib/ip.ts';
import { unmapV4 } from '../../lib/cidr.ts';
import type { UpstreamNode } from '../balancers/balancer.ts';
import type { CompiledRoute } from '../router/router.ts';
import type { CompiledSnapshot, CompiledUpstream } from '../runtime.ts';
import type { EndReason } from './end.ts';
import type { PluginRun } from '../phases/plugins.ts';

export interface ListenerInfo {
  /** `ip:port` or `*:port` as configured, for logs and metrics. */
  readonly addr: string;
  readonly tls: boolean;
  /** Clients send a PROXY protocol header first (the listener's proxy_protocol, or apisix.proxy_protocol.enable_tcp_pp). */
  readonly proxyProtocol: boolean;
  /** Send a PROXY protocol header to upstreams, and which version. */
  readonly proxyProtocolToUpstream: boolean;
  readonly proxyProtocolVersion: 1 | 2;
}

/** A connection's two ends, as accept saw them (natively accepted connections have no socket to ask). */
export interface PeerAddrs {
  readonly remoteAddr: string;
  readonly remotePort: number;
  readonly localAddr: string;
  readonly localPort: number;
}

export class Session {
  readonly id: number;
  readonly startedAt: number;
  /** The client stream: the accepted socket, or the TLSSocket over it after termination. */
  client: Socket;
  readonly listener: ListenerInfo;
  readonly snapshot: CompiledSnapshot;
  /** The client: the peer, or the PROXY protocol header's source when the peer is trusted (real_ip_from). */
  remoteAddr: string;
  remotePort: number;
  /** The peer's own address ($realip_remote_addr), whatever a PROXY protocol header says. */
  readonly peerAddr: string;
  readonly serverAddr: string;
  readonly serverPort: number;
  remoteIp: IpNum | undefined;
  serverIp: IpNum | undefined;
  sni: string | undefined;
  /** Set by the mqtt-proxy plugin (chash key mqtt_client_id). */
  mqttClientId: string | undefined;
  route: CompiledRoute | undefined;
  upstream: CompiledUpstream | undefined;
  node: UpstreamNode | undefined;
  upstreamSocket: Socket | undefined;
  /** The native relay holds the two connections (client and upstreamSocket were let go: see relay-native.ts). */
  relayedNatively: boolean;
  /** Its relay's id in the addon once the addon dials or relays it (the connections API reads its counts there). */
  nativeId: number | undefined;
  /** The route's plugin chain in force on this session (undefined: the route has no plugins). */
  plugins: PluginRun | undefined;
  /** What the session is doing now; error logs end with "while <action>". */
  action: string;
  endReason: EndReason | undefined;
  bytesFromClient: number;
  bytesToClient: number;

  /** `peer`: the addresses, when `client` cannot tell them (natively accepted: already unmapped). */
  constructor(id: number, client: Socket, listener: ListenerInfo, snapshot: CompiledSnapshot, now: number, peer?: PeerAddrs) {
    this.id = id;
    this.startedAt = now;
    this.client = client;
    this.listener = listener;
    this.snapshot = snapshot;
    this.remoteAddr = peer?.remoteAddr ?? unmapV4(client.remoteAddress ?? '');
    this.remotePort = peer?.remotePort ?? client.remotePort ?? 0;
    this.peerAddr = this.remoteAddr;
    this.serverAddr = peer?.localAddr ?? unmapV4(client.localAddress ?? '');
    this.serverPort = peer?.localPort ?? client.localPort ?? 0;
    this.remoteIp = undefined;
    this.serverIp = undefined;
    this.sni = undefined;
    this.mqttClientId = undefined;
    this.route = undefined;
    this.upstream = undefined;
    this.node = undefined;
    this.upstreamSocket = undefined;
    this.relayedNatively = false;
    this.nativeId = undefined;
    this.plugins = undefined;
    this.action = 'accepting';
    this.endReason = undefined;
    this.bytesFromClient = 0;
    this.bytesToClient = 0;
  }
}
