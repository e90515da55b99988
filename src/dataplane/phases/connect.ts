// Phase: pick a node and dial it; on a connect failure retry another node not yet tried, within `retries` and the
// `retry_timeout` deadline; `timeout.connect` bounds each attempt. Never retries once bytes have flowed (the relay
// has not started yet when this phase runs).
import { connect as netConnect, type Socket } from 'node:net';
import type { UpstreamNode } from '../balancers/balancer.ts';
import type { EndReason, Verdict } from '../session/end.ts';
import type { Session } from '../session/session.ts';

type DialResult = { ok: true; socket: Socket } | { ok: false; reason: 'ConnectFailed' | 'ConnectTimeout'; error: string };

/** One connect attempt, resolved (never rejected) with the socket or the failure. */
export function dial(node: UpstreamNode, timeoutMs: number): Promise<DialResult> {
  return new Promise((resolve) => {
    const sock = netConnect({ host: node.host, port: node.port, allowHalfOpen: true, noDelay: true });
    let done = false;
    const finish = (r: DialResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.removeListener('connect', onConnect);
      sock.removeListener('error', onError);
      if (!r.ok) sock.destroy();
      resolve(r);
    };
    const onConnect = (): void => finish({ ok: true, socket: sock });
    const onError = (err: NodeJS.ErrnoException): void => finish({ ok: false, reason: 'ConnectFailed', error: err.code ?? err.message });
    const timer = setTimeout(() => finish({ ok: false, reason: 'ConnectTimeout', error: `timed out after ${timeoutMs} ms` }), timeoutMs);
    sock.once('connect', onConnect);
    sock.once('error', onError);
  });
}

export async function connectPhase(s: Session, now: () => number): Promise<Verdict> {
  const up = s.upstream;
  if (up === undefined) return { end: 'Internal' };
  const conf = up.conf;
  const nodes = up.balancer.nodes.length;
  const attempts = 1 + Math.max(0, Math.min(conf.retries ?? nodes - 1, 64));
  const connectMs = conf.timeout.connect * 1000;
  const deadline = conf.retryTimeout !== undefined && conf.retryTimeout > 0 ? now() + conf.retryTimeout * 1000 : Infinity;
  let last: EndReason = 'NoHealthyNode';
  const ctx = { remoteAddr: s.remoteAddr, remotePort: s.remotePort, serverAddr: s.serverAddr, serverPort: s.serverPort, sni: s.sni };
  for (let i = 0; i < attempts; i++) {
    const left = deadline - now();
    if (left <= 0) break;
    const node = up.balancer.pick(ctx, s.tried);
    if (node === undefined) break;
    s.tried.add(node);
    s.node = node;
    s.action = `connecting to upstream ${node.addr}`;
    const t0 = now();
    const r = await dial(node, Math.max(1, Math.min(connectMs, left)));
    if (s.clientClosed) {
      if (r.ok) r.socket.destroy();
      return { end: 'ClientClosed' };
    }
    if (r.ok) {
      up.balancer.report(node, 'ok', now() - t0);
      s.upstreamSocket = r.socket;
      return 'continue';
    }
    up.balancer.report(node, r.reason === 'ConnectTimeout' ? 'timeout' : 'failed', now() - t0);
    last = r.reason;
  }
  return { end: last };
}
