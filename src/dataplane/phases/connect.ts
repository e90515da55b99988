// Phase: pick a node and dial it; on a connect failure retry another node not yet tried, within `retries` and the
// `retry_timeout` deadline; `timeout.connect` bounds each attempt. Never retries once bytes have flowed (the relay
// has not started yet when this phase runs).
import { connect as netConnect, isIP, type NetConnectOpts, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
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
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: DialResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.removeListener(ready, onReady);
      sock.removeListener('error', onError);
      client?.removeListener('close', onClientGone);
      if (!r.ok) sock.destroy();
      resolve(r);
    };
    const onClientGone = (): void => finish({ ok: false, reason: 'ClientClosed', error: 'the client went away' });
    const onReady = (): void => finish({ ok: true, socket: sock });
    const onError = (err: NodeJS.ErrnoException): void => finish({ ok: false, reason: 'ConnectFailed', error: err.code ?? err.message });
    const timer = setTimeout(() => finish({ ok: false, reason: 'ConnectTimeout', error: `${what} timed out after ${timeoutMs} ms` }), timeoutMs);
    sock.once(ready, onReady);
    sock.once('error', onError);
    if (client !== undefined) {
      if (client.closed) onClientGone();
      else client.once('close', onClientGone);
    }
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

export async function connectPhase(s: Session, deps: ConnectDeps): Promise<Verdict> {
  const now = deps.now;
  const up = s.upstream;
  if (up === undefined) return { end: 'Internal' };
  const conf = up.conf;
  const nodes = up.balancer.nodes.length;
  const attempts = 1 + Math.max(0, Math.min(conf.retries ?? nodes - 1, 64));
  const connectMs = conf.timeout.connect * 1000;
  const deadline = conf.retryTimeout !== undefined && conf.retryTimeout > 0 ? now() + conf.retryTimeout * 1000 : Infinity;
  let last: EndReason = 'NoHealthyNode';
  // Nodes this session has tried: local to the connect phase, so an established session does not keep it.
  const tried = new Set<UpstreamNode>();
  const ctx: PickContext = {
    remoteAddr: s.remoteAddr, remotePort: s.remotePort, serverAddr: s.serverAddr, serverPort: s.serverPort,
    sni: s.sni, mqttClientId: s.mqttClientId,
  };
  for (let i = 0; i < attempts; i++) {
    const left = deadline - now();
    if (left <= 0) break;
    const node = up.balancer.pick(ctx, tried);
    if (node === undefined) break;
    tried.add(node);
    s.node = node;
    s.action = `connecting to upstream ${node.addr}`;
    const t0 = now();
    deps.nodes.open(node.slot);
    const r = await dial(node.ip ?? node.host, node.port, Math.max(1, Math.min(connectMs, left)), s.client);
    if (!r.ok && r.reason === 'ClientClosed') {
      deps.nodes.close(node.slot);
      return { end: 'ClientClosed' };
    }
    const outcome: ConnectOutcome = r.ok ? 'ok' : r.reason === 'ConnectTimeout' ? 'timeout' : 'failed';
    up.balancer.report(node, outcome, now() - t0);
    if (r.ok) deps.metrics.connected(now() - t0);
    deps.onOutcome(node, outcome);
    if (!r.ok) deps.nodes.close(node.slot);
    if (s.client.closed) {
      if (r.ok) {
        r.socket.destroy();
        deps.nodes.close(node.slot);
      }
      return { end: 'ClientClosed' };
    }
    // PROXY protocol to the upstream: the header goes first on the raw connection (before any TLS), per attempt.
    if (r.ok && s.listener.proxyProtocolToUpstream) {
      r.socket.write(encodeProxyHeader(s.listener.proxyProtocolVersion, { srcAddr: s.remoteAddr, srcPort: s.remotePort, dstAddr: s.serverAddr, dstPort: s.serverPort }));
    }
    if (r.ok && up.conf.scheme === 'tls') {
      s.action = `TLS handshake with upstream ${node.addr}`;
      const t = await upstreamTls(r.socket, s, up.conf.tls, Math.max(1, Math.min(connectMs, deadline - now())));
      if (t.ok) {
        s.upstreamSocket = t.socket;
        return 'continue';
      }
      deps.nodes.close(node.slot);
      last = t.reason;
      continue;
    }
    if (r.ok) {
      s.upstreamSocket = r.socket;
      return 'continue';
    }
    last = r.reason;
  }
  return { end: last };
}
