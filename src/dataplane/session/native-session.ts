// A connection the addon accepted (native/src/listen.c), from its fd to its end. Routing, the connect policy and the
// bookkeeping are the same TypeScript as the pipeline's (match.ts, ConnectPlan, endSession); only the sockets are
// native: the addon dials the node this picks, asks again when a dial fails, and relays. No Node socket is made.
// A connection that needs JavaScript (a ClientHello peek, stream plugins, TLS to the upstream, native_relay: off)
// is wrapped in a net.Socket from its fd and runs the pipeline from where this left it.
import { Socket } from 'node:net';
import { ConnectPlan, proxyHeaderFor } from '../phases/connect.ts';
import { matchPhase, upstreamPhase } from '../phases/match.ts';
import type { RelayResult } from '../phases/relay.ts';
import type { UpstreamNode } from '../balancers/balancer.ts';
import { SOCKET_HWM } from '../listen/tcp.ts';
import { NATIVE_CONNECT_TIMEOUT, type Native, type NativeSink } from '../native/native.ts';
import type { EndReason } from './end.ts';
import { endSession, runSession, wantsPeek, type PipelineDeps } from './pipeline.ts';
import type { Session } from './session.ts';

export interface NativeSessionDeps extends PipelineDeps {
  readonly native: Native;
}

/** The fd as a paused net.Socket (as a pauseOnConnect listener gives it), for the pipeline. */
export function socketFromFd(fd: number): Socket {
  // pauseOnCreate: net.Server's own option for pauseOnConnect (not in @types/node); Node reads nothing until asked
  const opts = { fd, allowHalfOpen: true, readable: true, writable: true, pauseOnCreate: true, highWaterMark: SOCKET_HWM };
  return new Socket(opts);
}

/** Into the JavaScript pipeline with the fd as its client socket. */
export function runInJs(s: Session, fd: number, deps: PipelineDeps): void {
  s.client = socketFromFd(fd);
  s.client.on('error', () => { /* reported through the phase that owns the socket */ });
  runSession(s, deps).catch((err: unknown) => { deps.log.error({ err }, 'session pipeline threw'); });
}

/** `s` is admitted and counted by the worker; `fd` is its client. */
export function runNative(s: Session, fd: number, deps: NativeSessionDeps): void {
  if (wantsPeek(s)) return runInJs(s, fd, deps);
  let v = matchPhase(s, 'none');
  if (v === 'continue' && s.route?.plugins !== undefined) return runInJs(s, fd, deps);
  if (v === 'continue') v = upstreamPhase(s);
  const up = s.upstream;
  if (v !== 'continue' || up === undefined) {
    deps.native.closeFd(fd); // closed with no bytes sent (CONTRACT §4)
    return endSession(s, v === 'continue' ? 'Internal' : v.end, deps);
  }
  if (up.conf.scheme === 'tls') return runInJs(s, fd, deps);
  new NativeSession(s, up, deps).start(fd);
}

class NativeSession implements NativeSink {
  readonly #s: Session;
  readonly #deps: NativeSessionDeps;
  readonly #plan: ConnectPlan;
  readonly #idleMs: number;
  #id = 0;
  #node: UpstreamNode | undefined;
  /** Why it ends when the connect policy gave up (the addon's record then only closes it). */
  #gaveUp: EndReason | undefined;

  constructor(s: Session, up: NonNullable<Session['upstream']>, deps: NativeSessionDeps) {
    this.#s = s;
    this.#deps = deps;
    this.#plan = new ConnectPlan(s, up, deps);
    const t = up.conf.timeout;
    this.#idleMs = Math.max(t.send, t.read) * 1000;
  }

  start(fd: number): void {
    const s = this.#s;
    // PROXY protocol to the upstream: the first bytes of every attempt (the addon keeps them until connected)
    const header = s.listener.proxyProtocolToUpstream ? proxyHeaderFor(s) : undefined;
    for (let a = this.#plan.next(); a !== undefined; a = this.#plan.next()) {
      const { id, rc } = this.#deps.native.dial(this, fd, a.node.ip ?? a.node.host, a.node.port, a.timeoutMs, this.#idleMs, header);
      if (rc === 0) {
        this.#id = id;
        s.nativeId = id;
        this.#node = a.node;
        return;
      }
      this.#plan.report(a.node, 'failed', 0); // refused at once (no route to the host, out of fds)
    }
    this.#deps.native.closeFd(fd);
    endSession(s, this.#plan.last, this.#deps);
  }

  dialFailed(code: number): void {
    const node = this.#node;
    if (node !== undefined) this.#plan.report(node, code === NATIVE_CONNECT_TIMEOUT ? 'timeout' : 'failed');
    this.#node = undefined;
    for (let a = this.#plan.next(); a !== undefined; a = this.#plan.next()) {
      if (this.#deps.native.redial(this.#id, a.node.ip ?? a.node.host, a.node.port, a.timeoutMs) === 0) {
        this.#node = a.node;
        return;
      }
      this.#plan.report(a.node, 'failed', 0);
    }
    this.#gaveUp = this.#plan.last;
  }

  connected(ms: number): void {
    const node = this.#node;
    if (node === undefined) return;
    this.#plan.report(node, 'ok', ms);
    const s = this.#s;
    s.action = 'proxying';
    s.relayedNatively = true; // connected: the worker gives the node's open count back at the end
    this.#deps.stats.nativeRelayed++;
  }

  ended(r: RelayResult): void {
    const s = this.#s;
    let reason = r.reason;
    if (!s.relayedNatively) {
      // ended while dialing: the policy gave up (the count was given back), or the client reset / a shutdown
      if (this.#gaveUp !== undefined) reason = this.#gaveUp;
      else if (this.#node !== undefined) this.#plan.abandon(this.#node);
    }
    s.bytesFromClient = r.bytesFromClient;
    s.bytesToClient = r.bytesToClient;
    endSession(s, reason, this.#deps);
  }
}
