// GET /sluice/v1/overview: what the status page (GET /sluice/ui/, ui-route.ts) shows that no other endpoint gives, in
// one answer: the listeners with their bound ports, the routes with their open and ended sessions, every upstream
// node with its health (the primary's health checkers) and its open sessions, and the role of the key that asked
// (the page hides its "end" buttons from viewers). Viewers may read it. Built from what the primary holds: the
// snapshot in force, the health checkers, the shared node table; the workers are asked twice (their metric counters,
// for the ended sessions per route; their live sessions, for the open ones per route), in parallel. Bounded: at most
// MAX_ITEMS routes and MAX_ITEMS upstreams are listed, MAX_NODES nodes per upstream, and the open sessions per route
// are counted over at most OPEN_SCAN sessions, the oldest (beyond that the counts are lower bounds: sessions.counted).
//
// 200 {
//   "config_version": <store revision of the snapshot in force>,
//   "role": "admin" | "viewer",                          // the key's role ("admin" when no key is required)
//   "time": <Unix ms of the answer>,                      // the page's clock for sessions/s
//   "sessions": {"open": <live sessions, every worker>, "counted": <how many of them the per-route counts saw>},
//   "listeners": [{"protocol": "tcp" | "udp", "addr": "<host:port as configured, the `listener` of a session>",
//                  "host": <ip> | null (every interface), "port": <configured>, "bound_port": <bound>,
//                  "tls": bool, "proxy_protocol": bool, "open_sessions": N}],
//   "routes": [{"id", "name": <string> | null, "server_addr": <string> | null, "server_port": <int> | null,
//               "snis": [...], "remote_addrs": [...], "upstream": "<upstream key>" | null,
//               "open_sessions": N, "sessions_ended": N}],          // ended since each worker started
//   "routes_total": N,
//   "upstreams": [{"key": "upstreams/<id>" | "stream_routes/<id>" | "services/<id>", "type", "scheme",
//                  "checked": bool,                                  // a health checker runs for it
//                  "nodes": [{"host", "ip": <string> | null, "port", "weight", "priority",
//                             "health": "healthy" | "mostly_healthy" | "mostly_unhealthy" | "unhealthy" | null,
//                             "open_sessions": N}],                  // health null: no checks configured
//                  "nodes_total": N}],
//   "upstreams_total": N
// }
// Sessions/s is the page's: the change of open_sessions + sessions_ended between two answers over the change of time.
import type { ExtraRoute } from '../controlplane/admin/routes.ts';
import type { HealthManager } from '../controlplane/health/manager.ts';
import type { SnapshotBuilder } from '../controlplane/snapshot.ts';
import { LABEL_SEP } from '../dataplane/state/metrics.ts';
import { listenerAddr, listenerKey } from '../lib/addr.ts';
import { NodeTable, type NodeTableBuffers } from '../lib/node-table.ts';
import type { ListenerSpec } from '../model/config.ts';
import type { WorkerPool } from './workers.ts';

export const MAX_ITEMS = 1000;
export const MAX_NODES = 200;
export const OPEN_SCAN = 2000;

export interface OverviewDeps {
  readonly pool: WorkerPool;
  readonly builder: SnapshotBuilder;
  readonly health: HealthManager;
  /** The shared node table (open sessions per node, gateway-wide). */
  readonly nodes: NodeTableBuffers;
  /** The listeners in force (config.yaml's, as the workers were last given them). */
  listeners(): readonly ListenerSpec[];
}

const add = (m: Map<string, number>, k: string, by: number): void => { m.set(k, (m.get(k) ?? 0) + by); };

export function overviewRoute(deps: OverviewDeps): ExtraRoute {
  const table = new NodeTable(deps.nodes);
  return {
    method: 'GET',
    path: '/sluice/v1/overview',
    async handle(req) {
      const { pool, builder, health } = deps;
      const [metrics, live] = await Promise.all([pool.metrics(), pool.connectionList({}, OPEN_SCAN)]);
      const ended = new Map<string, number>();
      const openByListener = new Map<string, number>();
      for (const w of metrics) {
        for (const [k, v] of Object.entries(w.sessions)) add(ended, k.split(LABEL_SEP)[1] ?? '', v);
        for (const [k, v] of Object.entries(w.activeByListener)) add(openByListener, k, v);
        for (const [k, v] of Object.entries(w.udpByListener)) add(openByListener, k, v);
      }
      const openByRoute = new Map<string, number>();
      for (const c of live.list) if (c.route_id !== null) add(openByRoute, c.route_id, 1);

      const ports = pool.ports();
      const listeners = deps.listeners().map((l) => {
        const addr = listenerAddr(l);
        return {
          protocol: l.proto, addr, host: l.host, port: l.port, bound_port: ports[listenerKey(l)] ?? l.port,
          tls: l.tls, proxy_protocol: l.proxyProtocol, open_sessions: Math.max(0, openByListener.get(addr) ?? 0),
        };
      });

      const snap = builder.current;
      const allRoutes = snap?.routes ?? [];
      const routes = allRoutes.slice(0, MAX_ITEMS).map((r) => ({
        id: r.id, name: r.name ?? null, server_addr: r.serverAddr ?? null, server_port: r.serverPort ?? null,
        snis: r.snis, remote_addrs: r.remoteAddrs, upstream: r.upstreamKey ?? null,
        open_sessions: openByRoute.get(r.id) ?? 0, sessions_ended: ended.get(r.id) ?? 0,
      }));

      const allUpstreams = Object.values(snap?.upstreams ?? {}).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      const upstreams = allUpstreams.slice(0, MAX_ITEMS).map((u) => {
        const checker = health.checker(u.key);
        const bySlot = new Map(checker?.nodes.map((h) => [h.node.slot, h.status]) ?? []);
        return {
          key: u.key, type: u.type, scheme: u.scheme, checked: checker !== undefined,
          nodes: u.nodes.slice(0, MAX_NODES).map((n) => ({
            host: n.host, ip: n.ip ?? null, port: n.port, weight: n.weight, priority: n.priority,
            health: bySlot.get(n.slot) ?? null, open_sessions: Math.max(0, table.active(n.slot)),
          })),
          nodes_total: u.nodes.length,
        };
      });

      return {
        status: 200,
        body: {
          config_version: snap?.version ?? 0,
          role: req.role ?? 'viewer',
          time: Date.now(),
          sessions: { open: live.total, counted: live.list.length },
          listeners,
          routes,
          routes_total: allRoutes.length,
          upstreams,
          upstreams_total: allUpstreams.length,
        },
      };
    },
  };
}
