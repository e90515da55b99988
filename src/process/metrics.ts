// One scrape: every worker's counters summed into the gateway-wide GatewayMetrics the exporter renders
// (observe/prometheus-exporter.ts), plus what only the primary knows (node health, the config revision).
// A worker that died takes its counters with it: they restart from 0 (a counter reset, which Prometheus' rate()
// handles), while the gateway-wide open-session counts stay right (shared memory).
import type { AuthCounters } from '../controlplane/admin/auth.ts';
import type { HealthManager } from '../controlplane/health/manager.ts';
import type { SnapshotBuilder } from '../controlplane/snapshot.ts';
import { CONNECT_BOUNDS, LABEL_SEP } from '../dataplane/state/metrics.ts';
import type { GatewayMetrics } from '../observe/metrics.ts';
import type { WorkerPool } from './workers.ts';

function add(into: Map<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [k, v] of Object.entries(from)) into.set(k, (into.get(k) ?? 0) + v);
}

export async function gatherMetrics(pool: WorkerPool, builder: SnapshotBuilder, health: HealthManager, auth: AuthCounters | undefined): Promise<GatewayMetrics> {
  const per = await pool.metrics();
  const conn = new Map<string, number>();
  const refusals = new Map<string, number>();
  const status = new Map<string, number>();
  const sessions = new Map<string, number>();
  const bytesIn = new Map<string, number>();
  const bytesOut = new Map<string, number>();
  const active = new Map<string, number>();
  const counts = new Array<number>(CONNECT_BOUNDS.length + 1).fill(0);
  let sum = 0;
  let count = 0;
  let tlsOk = 0;
  let tlsFailed = 0;
  let udpActive = 0;
  let syslogDropped = 0;
  let unlabelled = 0;
  for (const w of per) {
    add(conn, w.connectionTotal);
    add(refusals, w.refusals);
    add(status, w.status);
    add(sessions, w.sessions);
    add(bytesIn, w.bytesFromClients);
    add(bytesOut, w.bytesToClients);
    add(active, w.activeByListener);
    add(active, w.udpByListener);
    w.connect.counts.forEach((n, i) => { counts[i] = (counts[i] ?? 0) + n; });
    sum += w.connect.sum;
    count += w.connect.count;
    tlsOk += w.tls.ok;
    tlsFailed += w.tls.failed;
    udpActive += w.udpActive;
    syslogDropped += w.syslogDropped;
    unlabelled += w.unlabelled;
  }
  const bandwidth: GatewayMetrics['bandwidth'][number][] = [];
  for (const [l, v] of bytesIn) bandwidth.push({ listenAddr: l, type: 'ingress', side: 'downstream', value: v }, { listenAddr: l, type: 'egress', side: 'upstream', value: v });
  for (const [l, v] of bytesOut) bandwidth.push({ listenAddr: l, type: 'egress', side: 'downstream', value: v }, { listenAddr: l, type: 'ingress', side: 'upstream', value: v });
  const nodeHealth: GatewayMetrics['nodeHealth'][number][] = [];
  for (const c of health.checkers()) for (const n of c.nodes) nodeHealth.push({ upstream: c.key, node: n.addr, healthy: n.healthy });
  return {
    configRevision: builder.current?.version ?? 0,
    connectionTotal: Object.fromEntries(conn),
    activeByListener: Object.fromEntries(active),
    status: [...status].map(([k, value]) => {
      const [code, listenAddr, node] = k.split(LABEL_SEP);
      return { code: Number(code), listenAddr: listenAddr ?? '', node: node ?? '', value };
    }),
    bandwidth,
    sessions: [...sessions].map(([k, value]) => {
      const [reason, route, protocol] = k.split(LABEL_SEP);
      return { reason: reason ?? '', route: route ?? '', protocol: protocol === 'udp' ? 'udp' : 'tcp', value };
    }),
    connectSeconds: { bounds: CONNECT_BOUNDS, counts, sum, count },
    nodeHealth,
    udpSessionsActive: udpActive,
    tlsHandshakes: { ok: tlsOk, failed: tlsFailed },
    pluginRefusals: Object.fromEntries(refusals),
    syslogDropped,
    unlabelled,
    adminAuthFailures: { atOnce: auth?.failedAtOnce ?? 0, delayed: auth?.failedDelayed ?? 0 },
  };
}
