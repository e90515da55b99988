// The session lifecycle, written down once (docs/lifecycle.md draws it with each phase's end statuses):
//   accept → [proxy-protocol] → [tls | ClientHello peek] → match → [plugins: preread] → upstream → connect (retries)
//   → relay → log (plugins: log, in onEnd)
// Bracketed phases run only when the listener or the route asks for them. Each phase returns a Verdict; the first
// `{ end }` stops the session.
import type { Logger } from '../../observe/log.ts';
import { connectPhase, type ConnectDeps } from '../phases/connect.ts';
import { matchPhase, upstreamPhase } from '../phases/match.ts';
import { PluginRun, runPreread } from '../phases/plugins.ts';
import { TcpPrereadSession } from '../phases/plugin-session.ts';
import type { PluginEnv } from '../../plugins/plugin.ts';
import type { WorkerMetrics } from '../state/metrics.ts';
import { relay, type RelayResult } from '../phases/relay.ts';
import { DETACHED, type NativeRelay } from '../native/relay-native.ts';
import { EarlyBytes } from '../phases/early.ts';
import { readProxyHeader } from '../phases/proxy-protocol.ts';
import type { CidrSet } from '../../lib/cidr.ts';
import { peekClientHello, terminateTls, type Peeked } from '../phases/tls.ts';
import type { SniMode } from '../router/router.ts';
import type { WorkerStats } from '../state/stats.ts';
import { STATUS, type EndReason, type Verdict } from './end.ts';
import type { Session } from './session.ts';

export interface PipelineDeps extends ConnectDeps {
  /** nginx_config.stream.real_ip_from: peers whose PROXY protocol header sets the client address. */
  readonly realIpFrom: CidrSet;
  /** sluice.tls_handshake_timeout in ms, counted from accept. */
  readonly handshakeMs: number;
  readonly stats: WorkerStats;
  readonly plugins: PluginEnv;
  readonly metrics: WorkerMetrics;
  readonly log: Logger;
  readonly onEnd: (s: Session, reason: EndReason) => void;
  /** The native relay when it is loaded and sluice.native_relay is auto (else the TypeScript relay runs). */
  readonly nativeRelay: () => NativeRelay | undefined;
}

/** Plain listeners peek at a ClientHello only when a tls_passthrough route could match this port. */
export function wantsPeek(s: Session): boolean {
  const p = s.snapshot.passthroughPorts;
  return p !== undefined && (p === 'any' || p.has(s.serverPort));
}

interface Prepared {
  readonly verdict: Verdict;
  /** Client bytes read before the relay (ClientHello peek, early read), and whether the client's FIN came too. */
  prefix: Buffer | undefined;
  readonly ended: boolean;
}

/** Every phase before the relay: TLS or peek, match, connect (reading the client meanwhile). */
async function setUp(s: Session, deps: PipelineDeps): Promise<Prepared> {
  let v: Verdict = 'continue';
  let sniMode: SniMode = 'none';
  let peeked: Peeked | undefined;
  if (s.listener.proxyProtocol) {
    const h = await readProxyHeader(s, deps.realIpFrom);
    if (h.verdict !== 'continue') return { verdict: h.verdict, prefix: undefined, ended: false };
    if (h.ended) peeked = { prefix: h.prefix, ended: true };
  }
  if (peeked !== undefined) {
    // the client ended right after the header: nothing more to read, no TLS to do
    if (s.listener.tls) return { verdict: { end: 'HandshakeFailed' }, prefix: undefined, ended: false };
  } else if (s.listener.tls) {
    v = await terminateTls(s, s.startedAt + deps.handshakeMs, deps.now);
    if (v === 'continue') deps.metrics.tlsOk++;
    else deps.metrics.tlsFailed++;
    sniMode = 'tls';
  } else if (wantsPeek(s)) {
    peeked = await peekClientHello(s, deps.handshakeMs);
    if (peeked === undefined) v = { end: 'ClientClosed' };
    else if (s.sni !== undefined) sniMode = 'peek';
  }
  // a natively accepted session handed to this path may have been matched already (session/native-session.ts)
  if (v === 'continue' && s.route === undefined) v = matchPhase(s, sniMode);
  if (v !== 'continue') return { verdict: v, prefix: undefined, ended: false };
  const chain = s.route?.plugins;
  if (chain !== undefined) {
    s.action = 'running the stream plugins';
    const run = (s.plugins = new PluginRun(chain));
    const ps = new TcpPrereadSession(s, run, peeked?.prefix, peeked?.ended ?? false);
    const r = runPreread(run, ps, deps.plugins);
    v = r instanceof Promise ? await r : r;
    if (v !== 'continue') return { verdict: v, prefix: undefined, ended: false };
    if (ps.prefix !== undefined || ps.ended) peeked = { prefix: ps.prefix ?? Buffer.alloc(0), ended: ps.ended };
  }
  v = upstreamPhase(s);
  if (v !== 'continue') return { verdict: v, prefix: undefined, ended: false };
  const early = new EarlyBytes(s.client, peeked?.prefix, peeked?.ended ?? false);
  v = await connectPhase(s, deps);
  return { verdict: v, prefix: early.stop(), ended: early.ended };
}

export async function runSession(s: Session, deps: PipelineDeps): Promise<void> {
  let reason: EndReason;
  try {
    let p: Prepared | undefined = await setUp(s, deps);
    if (p.verdict === 'continue' && s.upstreamSocket !== undefined && s.upstream !== undefined) {
      s.action = 'proxying';
      const t = s.upstream.conf.timeout;
      const idleMs = Math.max(t.send, t.read) * 1000;
      const native = deps.nativeRelay()?.relay(s.client, s.upstreamSocket, idleMs, p.prefix, p.ended);
      let pending: Promise<RelayResult>;
      if (native !== undefined) {
        pending = native.done;
        s.nativeId = native.id;
        deps.stats.nativeRelayed++;
        // an idle native session keeps no Node socket (their fds are the addon's now): memory per session
        s.relayedNatively = true;
        s.client = DETACHED;
        s.upstreamSocket = undefined;
      } else pending = relay(s.client, s.upstreamSocket, idleMs, p.prefix, p.ended);
      p = undefined; // an idle session keeps nothing it no longer needs (the first bytes went upstream)
      const r = await pending;
      reason = r.reason;
      s.bytesFromClient = r.bytesFromClient;
      s.bytesToClient = r.bytesToClient;
    } else {
      reason = p.verdict === 'continue' ? 'Internal' : p.verdict.end;
      // closed with no bytes sent (CONTRACT §4)
      s.client.destroy();
    }
  } catch (err) {
    reason = 'Internal';
    deps.log.error({ err, client: `${s.remoteAddr}:${s.remotePort}`, listener: s.listener.addr }, `session failed while ${s.action}`);
    s.client.destroy();
    s.upstreamSocket?.destroy();
  }
  endSession(s, reason, deps);
}

/** The session's end, however it ran: an upstream failure is logged, then the worker's bookkeeping (deps.onEnd). */
export function endSession(s: Session, given: EndReason, deps: PipelineDeps): void {
  // a session ended on demand (a graceful stop's shutdown_timeout) keeps that reason: the relay sees only sockets
  // closing under it, and would call it ClientClosed or UpstreamReset
  const reason = s.endReason ?? given;
  s.endReason = reason;
  if (STATUS[reason] === 502 && s.node !== undefined && reason !== 'IdleTimeout') {
    deps.log.warn({ client: `${s.remoteAddr}:${s.remotePort}`, upstream: s.node.addr, reason }, `upstream failed while ${s.action}`);
  }
  deps.onEnd(s, reason);
}
