// GET /sluice/v1/status: the gateway's counters, summed over every data-plane worker (same keys and roles as the
// Admin API). Sessions, the active count, refusals at max_connections, UDP drops and session ends by reason.
import type { ExtraRoute } from '../controlplane/admin/routes.ts';
import type { SnapshotBuilder } from '../controlplane/snapshot.ts';
import { SHARED } from '../dataplane/state/stats.ts';
import type { WorkerPool } from './workers.ts';

function sum(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

export function statusRoute(pool: WorkerPool, builder: SnapshotBuilder): ExtraRoute {
  return {
    method: 'GET',
    path: '/sluice/v1/status',
    async handle() {
      const per = await pool.stats();
      const byReason: Record<string, number> = {};
      const udpDrops: Record<string, number> = {};
      let sessions = 0;
      let udpSessions = 0;
      let allUnhealthy = 0;
      let nativeRelayed = 0;
      let nativeAccepted = 0;
      for (const w of per) {
        sessions += w.sessions;
        udpSessions += w.udpSessions;
        allUnhealthy += w.allUnhealthyPicks;
        nativeRelayed += w.nativeRelayed;
        nativeAccepted += w.nativeAccepted;
        sum(byReason, w.byReason);
        sum(udpDrops, w.udpDrops);
      }
      const shared = pool.sharedCounters;
      return {
        status: 200,
        body: {
          config_version: builder.current?.version ?? 0,
          workers: per.length,
          workers_restarted: pool.lostWorkers,
          sessions_lost_with_a_worker: Atomics.load(pool.sharedCounters, SHARED.lostSessions),
          tcp: { sessions, active: Atomics.load(shared, SHARED.active), rejected_max_connections: Atomics.load(shared, SHARED.rejected), native_relayed: nativeRelayed, native_accepted: nativeAccepted },
          udp: { sessions: udpSessions, active: Atomics.load(shared, SHARED.udpSessions), dropped: udpDrops },
          ended_by_reason: byReason,
          picks_with_every_node_unhealthy: allUnhealthy,
          // every worker's own answer; when they differ (one could not load the addon), the first that is not 'on'
          native_relay: per.find((w) => w.nativeRelay !== 'on')?.nativeRelay ?? per[0]?.nativeRelay ?? 'off',
        },
      };
    },
  };
}
