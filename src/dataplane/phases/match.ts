// Phase: find the route in the snapshot's compiled tables, and its upstream (checked after the plugins ran).
import { parseIp } from '../../lib/ip.ts';
import type { SniMode } from '../router/router.ts';
import type { Verdict } from '../session/end.ts';
import type { Session } from '../session/session.ts';

export function matchPhase(s: Session, sniMode: SniMode): Verdict {
  s.action = 'matching a route';
  s.remoteIp = parseIp(s.remoteAddr);
  s.serverIp = parseIp(s.serverAddr);
  const route = s.snapshot.router.match({ remote: s.remoteIp, server: s.serverIp, serverPort: s.serverPort, sni: s.sni, sniMode });
  if (route === undefined) return { end: 'NoRoute' };
  s.route = route;
  const key = route.conf.upstreamKey;
  s.upstream = key !== undefined ? s.snapshot.upstreams.get(key) : undefined;
  return 'continue';
}

/** After the plugins (traffic-split may have chosen another upstream): is there one, with nodes? */
export function upstreamPhase(s: Session): Verdict {
  const up = s.upstream;
  if (up === undefined) return { end: 'NoUpstream' };
  if (up.balancer.nodes.length === 0) return { end: 'NoHealthyNode' };
  return 'continue';
}
