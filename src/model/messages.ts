// Messages between the primary (control plane) and the data-plane workers. Types only.
import type { ListenerSpec } from './config.ts';
import type { SnapshotData } from './snapshot.ts';
import type { AccessLogConf } from '../observe/access-log.ts';

export interface WorkerInit {
  readonly workerId: number;
  readonly listeners: readonly ListenerSpec[];
  /** Actual ports for listeners configured with port 0 (bound by the first worker), by listener key. */
  readonly portOverrides: Readonly<Record<string, number>>;
  readonly maxConnections: number;
  /** sluice.udp_max_sessions (gateway-wide) and sluice.udp_session_timeout (seconds). */
  readonly udpMaxSessions: number;
  readonly udpSessionTimeout: number;
  /** sluice.tls_handshake_timeout, seconds. */
  readonly tlsHandshakeTimeout: number;
  /** Gateway-wide counters (Int32Array slots in dataplane/state/stats.ts SHARED). */
  readonly shared: SharedArrayBuffer;
  /** Gateway-wide counts per key (lib/shared-counts.ts; limit-conn) and the number of workers sharing them. */
  readonly counts: SharedArrayBuffer;
  readonly workers: number;
  /** The shared node table (per-node connection counts and health). */
  readonly nodes: { readonly conns: SharedArrayBuffer; readonly health: SharedArrayBuffer };
  readonly logLevel: string;
  readonly accessLog: AccessLogConf;
  /** apisix.proxy_protocol (every TCP listener) and nginx_config.stream.real_ip_from. */
  readonly proxyProtocol: { readonly fromClients: boolean; readonly toUpstreams: boolean; readonly realIpFrom: readonly string[] };
  /** sluice.native_relay (also in `settings`: a change applies to new sessions). */
  readonly nativeRelay: 'auto' | 'off';
}

/** Connect outcome codes in `outcomes` messages. */
export const OUTCOME_CODE = { ok: 0, failed: 1, timeout: 2 } as const;

export interface SnapshotDelta {
  readonly version: number;
  readonly routes: SnapshotData['routes'];
  readonly ssls: SnapshotData['ssls'];
  readonly tls: SnapshotData['tls'];
  readonly streamPlugins: SnapshotData['streamPlugins'];
  readonly pluginMetadata: SnapshotData['pluginMetadata'];
  readonly changed: SnapshotData['upstreams'];
  readonly removed: readonly string[];
}

export interface ExplainQuery {
  readonly protocol: 'tcp' | 'udp' | 'tls' | 'tls_passthrough';
  readonly remote_addr: string;
  readonly remote_port: number;
  readonly server_addr: string;
  readonly server_port: number;
  readonly sni: string | undefined;
}

export interface ExplainAnswer {
  route_id: string | null;
  reason: string;
  candidates: { route_id: string; matched: boolean; why: string }[];
}

export interface WorkerStatsSnapshot {
  readonly sessions: number;
  readonly active: number;
  readonly rejectedMaxConn: number;
  readonly udpSessions: number;
  readonly udpDrops: Readonly<Record<string, number>>;
  /** Picks made while every node of the upstream was unhealthy (APISIX's fallback: all nodes are used). */
  readonly allUnhealthyPicks: number;
  readonly byReason: Readonly<Record<string, number>>;
  /** 'on' | 'off' | 'unavailable: <why>' (sluice.native_relay and whether the addon loaded). */
  readonly nativeRelay: string;
  readonly nativeRelayed: number;
  readonly nativeAccepted: number;
}

/** A worker's metric counters (dataplane/state/metrics.ts); multi-label keys are joined with U+0000. */
export interface WorkerMetricsSnapshot {
  /** By route label (prometheus plugin). */
  readonly connectionTotal: Readonly<Record<string, number>>;
  readonly refusals: Readonly<Record<string, number>>;
  /** `code␀listener␀node`. */
  readonly status: Readonly<Record<string, number>>;
  /** `reason␀route␀protocol`. */
  readonly sessions: Readonly<Record<string, number>>;
  /** By listener. */
  readonly bytesFromClients: Readonly<Record<string, number>>;
  readonly bytesToClients: Readonly<Record<string, number>>;
  /** Open TCP sessions by listener. */
  readonly activeByListener: Readonly<Record<string, number>>;
  /** Open UDP sessions by listener. */
  readonly udpByListener: Readonly<Record<string, number>>;
  readonly connect: { readonly counts: readonly number[]; readonly sum: number; readonly count: number };
  readonly tls: { readonly ok: number; readonly failed: number };
  readonly udpActive: number;
  readonly syslogDropped: number;
  /** Increments that found their family's label set full. */
  readonly unlabelled: number;
}

/** Which live sessions a connections query or kill means (CONTRACT §7); every field set must match. */
export interface ConnectionFilter {
  /** One session by its id (a kill by id). */
  readonly id?: string;
  readonly routeId?: string;
  /** An IP or a CIDR. */
  readonly remoteAddr?: string;
  /** `ip:port` of the upstream node. */
  readonly node?: string;
  readonly protocol?: 'tcp' | 'udp';
}

/**
 * A session's id in the connections API: `<worker>-<start>-<n>`, the worker that holds it, that worker's start
 * (base 36 ms, so a restarted worker's new sessions never take a dead one's ids) and its number there.
 */
export function connectionId(workerId: number, start: string, n: number, protocol: 'tcp' | 'udp'): string {
  return `${workerId}-${start}-${protocol === 'udp' ? 'u' : ''}${n}`;
}

/** The worker an id names, or undefined for an id no worker gave. */
export function connectionWorker(id: string): number | undefined {
  const m = /^(\d{1,3})-[0-9a-z]{1,12}-u?\d{1,16}$/.exec(id);
  return m === null ? undefined : Number(m[1]);
}

/** One live session as GET /sluice/v1/connections lists it (CONTRACT §7). */
export interface ConnectionInfo {
  readonly id: string;
  readonly protocol: 'tcp' | 'udp';
  readonly listener: string;
  readonly remote_addr: string;
  readonly remote_port: number;
  readonly server_addr: string;
  readonly server_port: number;
  readonly sni: string | null;
  readonly route_id: string | null;
  readonly node: string | null;
  /** Unix ms. */
  readonly started_at: number;
  readonly bytes_from_client: number;
  readonly bytes_to_client: number;
  readonly state: 'handshake' | 'connecting' | 'relaying';
}

export type ToWorker =
  | { readonly type: 'snapshot'; readonly data: SnapshotData }
  /** The next snapshot as a change to the one this worker was sent last: cloning only what changed keeps a write on
   * a large config cheap. */
  | { readonly type: 'snapshotDelta'; readonly delta: SnapshotDelta }
  | { readonly type: 'explain'; readonly requestId: number; readonly query: ExplainQuery }
  | { readonly type: 'settings'; readonly maxConnections: number; readonly udpMaxSessions: number; readonly udpSessionTimeout: number; readonly accessLog: AccessLogConf; readonly nativeRelay: 'auto' | 'off' }
  | { readonly type: 'stats'; readonly requestId: number }
  | { readonly type: 'metrics'; readonly requestId: number }
  /** The live sessions matching `filter`: how many, and the first `limit` of them. */
  | { readonly type: 'connections'; readonly requestId: number; readonly filter: ConnectionFilter; readonly limit: number }
  /** Ends the live sessions matching `filter` now (end reason killed). */
  | { readonly type: 'killConnections'; readonly requestId: number; readonly filter: ConnectionFilter }
  /** SIGHUP: the full set of listeners wanted now; removed ones stop accepting (their sessions go on). */
  | { readonly type: 'listeners'; readonly requestId: number; readonly listeners: readonly ListenerSpec[] }
  | { readonly type: 'stop' }
  /** Tests only (WorkerPool.crashForTest): the worker throws an uncaught exception, as a bug would. */
  | { readonly type: 'crash' }
  /** Tests only (WorkerPool.hangForTest): the worker's event loop spins for good, as a runaway loop would. */
  | { readonly type: 'hang' }
  | { readonly type: 'kill' };

export type ToPrimary =
  | { readonly type: 'bound'; readonly bound: readonly { key: string; port: number }[]; readonly errors: readonly string[] }
  | { readonly type: 'ack'; readonly version: number }
  | { readonly type: 'relistened'; readonly requestId: number; readonly errors: readonly string[] }
  | { readonly type: 'explained'; readonly requestId: number; readonly result: ExplainAnswer }
  | { readonly type: 'stats'; readonly requestId: number; readonly stats: WorkerStatsSnapshot }
  | { readonly type: 'metrics'; readonly requestId: number; readonly metrics: WorkerMetricsSnapshot }
  /** The listed sessions' ConnectionInfo JSON texts, oldest first, joined by commas in `text` (one string crosses the
   * thread boundary as one copy; 10,000 objects or strings cost a clone each): entry i ends at ends[i] and started at
   * started[i]. */
  | { readonly type: 'connections'; readonly requestId: number; readonly total: number; readonly text: string; readonly ends: readonly number[]; readonly started: readonly number[] }
  | { readonly type: 'killed'; readonly requestId: number; readonly count: number }
  | { readonly type: 'drained' }
  /** Connect outcomes since the last batch, as flat pairs [slot, OUTCOME_CODE, slot, code, ...] (passive health). */
  | { readonly type: 'outcomes'; readonly pairs: readonly number[] };
