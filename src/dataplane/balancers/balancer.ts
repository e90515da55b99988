// The picker interface every balancing algorithm implements, and the node type they share.
import { hostPort } from '../../lib/addr.ts';
import type { NodeConf } from '../../model/snapshot.ts';

export class UpstreamNode {
  /** As configured: an IP or a domain. */
  readonly host: string;
  /** What to dial; undefined when the domain did not resolve (such a node is never usable). */
  readonly ip: string | undefined;
  readonly port: number;
  readonly weight: number;
  readonly priority: number;
  /** Slot in the shared node table (gateway-wide connection count, health). */
  readonly slot: number;
  /** `host:port` (`[v6]:port`), as in logs, metrics and the health table. */
  readonly addr: string;
  constructor(n: NodeConf) {
    this.host = n.host;
    this.ip = n.ip;
    this.port = n.port;
    this.weight = n.weight;
    this.priority = n.priority;
    this.slot = n.slot;
    this.addr = hostPort(n.host, n.port);
  }
}

/** What a picker may read about the session (for hashing). */
export interface PickContext {
  readonly remoteAddr: string;
  readonly remotePort: number;
  readonly serverAddr: string;
  readonly serverPort: number;
  readonly sni: string | undefined;
  readonly mqttClientId: string | undefined;
}

export type ConnectOutcome = 'ok' | 'failed' | 'timeout';

/** Whether a node may be picked now (not yet tried by this session; healthy, unless every node is unhealthy). */
export type Usable = (n: UpstreamNode) => boolean;

export interface Balancer {
  /** A usable node, or undefined when none is left. Never throws. */
  pick(ctx: PickContext, usable: Usable): UpstreamNode | undefined;
  /** Connect outcome of a node this balancer picked (ewma). */
  report(node: UpstreamNode, outcome: ConnectOutcome, connectMs: number): void;
}
