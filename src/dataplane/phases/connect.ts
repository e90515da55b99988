// Phase: pick a node and dial it; on a connect failure retry another node not yet tried, within `retries` and the
// `retry_timeout` deadline; `timeout.connect` bounds each attempt. Never retries once bytes have flowed (the relay
// has not started yet when this phase runs).
import { connect as netConnect, isIP, type NetConnectOpts, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { settleOnce } from '../../lib/settle.ts';
import type { UpstreamTlsConf } from '../../model/snapshot.ts';
import { encodeProxyHeader } from '../../lib/proxy-protocol.ts';
import type { ConnectOutcome, PickContext, UpstreamNode } from '../balancers/balancer.ts';
import type { NodeTable } from '../../lib/node-table.ts';
import { SOCKET_HWM } from '../listen/tcp.ts';
import type { EndReason, Verdict } from '../session/end.ts';
import type { Session } from '../session/session.ts';

type DialResult =
  | { ok: true; socket: Socket }
  | { ok: false; reason: 'ConnectFailed' | 'ConnectTimeout' | 'ClientClosed'; error: string };

/**
 * Waits for `sock` to emit `ready` ('connect', 'secureConnect'), resolving (never rejecting) with the socket or the
 * failure: an error, the timeout, or — with `client` — the client closing meanwhile (the attempt is then abandoned
 * at once, so its session slot is not held until the timeout). A failed socket is destroyed.
 */
function awaitReady(sock: Socket, ready: string, timeoutMs: number, what: string, client?: Socket): Promise<DialResult> {
  return settleOnce<DialResult>(timeoutMs, () => ({ ok: false, reason: 'ConnectTimeout', error: `${what} timed out after ${timeoutMs} ms` }), (o) => {
    const onClientGone = (): void => { o.finish({ ok: false, reason: 'ClientClosed', error: 'the client went away' }); };
    const onReady = (): void => { o.finish({ ok: true, socket: sock }); };
    const onError = (err: NodeJS.ErrnoException): void => { o.finish({ ok: false, reason: 'ConnectFailed', error: err.code ?? err.message }); };
    sock.once(ready, onReady);
    sock.once('error', onError);
    if (client !== undefined) {
      if (client.closed) onClientGone();
      else client.once('close', onClientGone);
    }
    return (r) => {
      sock.removeListener(ready, onReady);
      sock.removeListener('error', onError);
      client?.removeListener('close', onClientGone);
      if (!r.ok) sock.destroy();
    };
  });
}

/** One connect attempt to a node (see awaitReady). */
function dial(ip: string, port: number, timeoutMs: number, client?: Socket): Promise<DialResult> {
  // highWaterMark reaches the socket's Duplex (Node passes the options through); @types/node does not list it.
  const opts: NetConnectOpts & { highWaterMark: number } = { host: ip, port, allowHalfOpen: true, noDelay: true, highWaterMark: SOCKET_HWM };
  return awaitReady(netConnect(opts), 'connect', timeoutMs, 'connect', client);
}

/** TLS to the node: SNI = the client's SNI when it spoke TLS, else `apisix_backend` (APISIX); verification off
 * unless the upstream sets tls.verify (then against apisix.ssl.ssl_trusted_certificate). */
function upstreamTls(raw: Socket, s: Session, conf: UpstreamTlsConf | undefined, timeoutMs: number): Promise<DialResult> {
  const servername = s.sni !== undefined && isIP(s.sni) === 0 ? s.sni : 'apisix_backend';
  const verify = conf?.verify === true;
  const ca = verify ? s.snapshot.trustedCa : undefined;
  const sock = tlsConnect({
    socket: raw, servername, rejectUnauthorized: verify,
    ...(ca !== undefined ? { ca } : {}),
    ...(conf?.clientCert !== undefined && conf.clientKey !== undefined ? { cert: conf.clientCert, key: conf.clientKey } : {}),
  });
  return awaitReady(sock, 'secureConnect', timeoutMs, 'TLS handshake');
}

export interface ConnectDeps {
  readonly now: () => number;
  readonly nodes: NodeTable;
  /** Every connect outcome, for passive health checks. */
  readonly onOutcome: (node: UpstreamNode, outcome: ConnectOutcome) => void;
  /** Connect times of successful attempts (the metrics' histogram). */
  readonly metrics: { connected(ms: number): void };
}

/**
 * The connect policy of one session, for whoever dials (the TypeScript dial below, or the native one:
 * native/src/dial.c): which node next, each attempt's timeout, within `retries` and the `retry_timeout` deadline, and
 * what each outcome does (balancer, passive health, the metrics, the node's open count).
 */
export class ConnectPlan {
  readonly #s: Session;
  readonly #deps: ConnectDeps;
  readonly #up: NonNullable<Session['upstream']>;
  readonly #attempts: number;
  readonly #connectMs: number;
  readonly #deadline: number;
  // Nodes this session has tried: local to the connect phase, so an established session does not keep it.
  readonly #tried = new Set<UpstreamNode>();
  readonly #ctx: PickContext;
  #i = 0;
  #t0 = 0;
  /** Why the session ends if no attempt succeeds. */
  last: EndReason = 'NoHealthyNode';

  constructor(s: Session, up: NonNullable<Session['upstream']>, deps: ConnectDeps) {
    this.#s = s;
    this.#deps = deps;
    this.#up = up;
    const conf = up.conf;
    this.#attempts = 1 + Math.max(0, Math.min(conf.retries ?? up.balancer.nodes.length - 1, 64));
    this.#connectMs = conf.timeout.connect * 1000;
    this.#deadline = conf.retryTimeout !== undefined && conf.retryTimeout > 0 ? deps.now() + conf.retryTimeout * 1000 : Infinity;
    this.#ctx = {
      remoteAddr: s.remoteAddr, remotePort: s.remotePort, serverAddr: s.serverAddr, serverPort: s.serverPort,
      sni: s.sni, mqttClientId: s.mqttClientId,
    };
  }

  /** The next node to dial (its open count taken, s.node set) and the attempt's timeout; undefined: give up (`last`). */
  next(): { node: UpstreamNode; timeoutMs: number } | undefined {
    if (this.#i >= this.#attempts) return undefined;
    this.#i++;
    const left = this.#deadline - this.#deps.now();
    if (left <= 0) return undefined;
    const node = this.#up.balancer.pick(this.#ctx, this.#tried);
    if (node === undefined) return undefined;
    this.#tried.add(node);
    this.#s.node = node;
    this.#s.action = `connecting to upstream ${node.addr}`;
    this.#t0 = this.#deps.now();
    this.#deps.nodes.open(node.slot);
    return { node, timeoutMs: Math.max(1, Math.min(this.#connectMs, left)) };
  }

  /** Time left for a step after the connect (the upstream TLS handshake). */
  stepMs(): number { return Math.max(1, Math.min(this.#connectMs, this.#deadline - this.#deps.now())); }

  /** The attempt on `node` ended: balancer, passive health, metrics; a failure gives the node's open count back. */
  report(node: UpstreamNode, outcome: ConnectOutcome, ms = this.#deps.now() - this.#t0): void {
    this.#up.balancer.report(node, outcome, ms);
    if (outcome === 'ok') this.#deps.metrics.connected(ms);
    this.#deps.onOutcome(node, outcome);
    if (outcome !== 'ok') {
      this.#deps.nodes.close(node.slot);
      this.last = outcome === 'timeout' ? 'ConnectTimeout' : 'ConnectFailed';
    }
  }

  /** The attempt was abandoned (the client went away): no outcome, the open count given back. */
  abandon(node: UpstreamNode): void { this.#deps.nodes.close(node.slot); }
}

export async function connectPhase(s: Session, deps: ConnectDeps): Promise<Verdict> {
  const up = s.upstream;
  if (up === undefined) return { end: 'Internal' };
  const plan = new ConnectPlan(s, up, deps);
  for (let a = plan.next(); a !== undefined; a = plan.next()) {
    const { node } = a;
    const r = await dial(node.ip ?? node.host, node.port, a.timeoutMs, s.client);
    if (!r.ok && r.reason === 'ClientClosed') {
      plan.abandon(node);
      return { end: 'ClientClosed' };
    }
    // With TLS to the node, the attempt's outcome is known after the handshake (nginx's proxy_ssl counts a failed
    // handshake as the peer's failure): an earlier 'ok' would reset the node's passive failure count every time.
    const tls = up.conf.scheme === 'tls';
    if (!r.ok || !tls) plan.report(node, r.ok ? 'ok' : r.reason === 'ConnectTimeout' ? 'timeout' : 'failed');
    if (s.client.closed) {
      if (r.ok) {
        r.socket.destroy();
        if (tls) plan.abandon(node);
        else deps.nodes.close(node.slot);
      }
      return { end: 'ClientClosed' };
    }
    if (!r.ok) continue;
    // PROXY protocol to the upstream: the header goes first on the raw connection (before any TLS), per attempt.
    if (s.listener.proxyProtocolToUpstream) r.socket.write(proxyHeaderFor(s));
    if (tls) {
      s.action = `TLS handshake with upstream ${node.addr}`;
      const t = await upstreamTls(r.socket, s, up.conf.tls, plan.stepMs());
      plan.report(node, t.ok ? 'ok' : t.reason === 'ConnectTimeout' ? 'timeout' : 'failed');
      if (t.ok) {
        s.upstreamSocket = t.socket;
        return 'continue';
      }
      continue;
    }
    s.upstreamSocket = r.socket;
    return 'continue';
  }
  return { end: plan.last };
}

/** The PROXY protocol header this session sends its upstream (listener's proxy_protocol_to_upstream). */
export function proxyHeaderFor(s: Session): Buffer {
  return encodeProxyHeader(s.listener.proxyProtocolVersion, { srcAddr: s.remoteAddr, srcPort: s.remotePort, dstAddr: s.serverAddr, dstPort: s.serverPort });
}
