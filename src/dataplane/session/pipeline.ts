// The session lifecycle, written down once (docs/lifecycle.md draws it with each phase's end statuses):
//   accept → [proxy-protocol] → [tls | ClientHello peek] → match → [plugins] → connect (retries) → relay → log
// Bracketed phases arrive with their issues. Each phase returns a Verdict; the first `{ end }` stops the session.
import type { Logger } from '../../observe/log.ts';
import { connectPhase, type ConnectDeps } from '../phases/connect.ts';
import { matchPhase } from '../phases/match.ts';
import { relay } from '../phases/relay.ts';
import type { WorkerStats } from '../state/stats.ts';
import { STATUS, type EndReason, type Verdict } from './end.ts';
import type { Session } from './session.ts';

export interface PipelineDeps extends ConnectDeps {
  readonly stats: WorkerStats;
  readonly log: Logger;
  readonly onEnd: (s: Session, reason: EndReason) => void;
}

export async function runSession(s: Session, deps: PipelineDeps): Promise<void> {
  let reason: EndReason;
  try {
    let v: Verdict = matchPhase(s, 'none');
    if (v === 'continue') v = await connectPhase(s, deps);
    if (v === 'continue' && s.upstreamSocket !== undefined && s.upstream !== undefined) {
      s.action = 'proxying';
      const t = s.upstream.conf.timeout;
      const r = await relay(s.client, s.upstreamSocket, Math.max(t.send, t.read) * 1000);
      reason = r.reason;
      s.bytesFromClient = r.bytesFromClient;
      s.bytesToClient = r.bytesToClient;
    } else {
      reason = v === 'continue' ? 'Internal' : v.end;
      // closed with no bytes sent (CONTRACT §4)
      s.client.destroy();
    }
  } catch (err) {
    reason = 'Internal';
    deps.log.error({ err, client: `${s.remoteAddr}:${s.remotePort}`, listener: s.listener.addr }, `session failed while ${s.action}`);
    s.client.destroy();
    s.upstreamSocket?.destroy();
  }
  s.endReason = reason;
  if (STATUS[reason] === 502 && s.node !== undefined && reason !== 'IdleTimeout') {
    deps.log.warn({ client: `${s.remoteAddr}:${s.remotePort}`, upstream: s.node.addr, reason }, `upstream failed while ${s.action}`);
  }
  deps.onEnd(s, reason);
}
