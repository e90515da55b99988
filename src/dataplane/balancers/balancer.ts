// The picker interface every balancing algorithm implements, and the node type they share.
import type { NodeConf } from '../../model/snapshot.ts';

export class UpstreamNode {
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  readonly priority: number;
  /** `host:port` (`[v6]:port`), as in logs, metrics and the health table. */
  readonly addr: string;
  constructor(n: NodeConf) {
    this.host = n.host;
    this.port = n.port;
    this.weight = n.weight;
    this.priority = n.priority;
    this.addr = n.host.includes(':') ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`;
  }
}

/** What a picker may read about the session (for hashing). */
export interface PickContext {
  readonly remoteAddr: string;
  readonly remotePort: number;
  readonly serverAddr: string;
  readonly serverPort: number;
  readonly sni: string | undefined;
}

export type ConnectOutcome = 'ok' | 'failed' | 'timeout';

export interface Balancer {
  /** A node not in `tried`, or undefined when none is left. Never throws. */
  pick(ctx: PickContext, tried: ReadonlySet<UpstreamNode>): UpstreamNode | undefined;
  /** Connect outcome of a node this balancer picked (ewma, passive health). */
  report(node: UpstreamNode, outcome: ConnectOutcome, connectMs: number): void;
  /** The session that used the node ended (least_conn). */
  release(node: UpstreamNode): void;
}
