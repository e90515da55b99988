// The gateway's metric families (CONTRACT §5), declared once: the exporter (prometheus-exporter.ts), the docs test and
// the dashboard read this list. GatewayMetrics is one scrape's numbers, already summed over the workers
// (process/metrics.ts fills it); each family says how to read its samples from it.
//
// The four `stream_*` families are APISIX's (apisix/plugins/prometheus/exporter.lua, stream subsystem) and take
// plugin_attr.prometheus.metric_prefix (default `apisix_`); their names stay exactly APISIX's, including counters
// without a `_total` suffix. Sluice's own families are always `sluice_`-prefixed. APISIX's stream subsystem exports
// nothing else (node_info, etcd_reachable, ... belong to its HTTP subsystem's exporter).

export interface GatewayMetrics {
  /** Store revision of the config in force on every worker. */
  readonly configRevision: number;
  /** Sessions of routes carrying the prometheus plugin, by route label (route id, or its name with prefer_name). */
  readonly connectionTotal: Readonly<Record<string, number>>;
  /** Open sessions (TCP and UDP) by listen_addr (the listener as written in config.yaml, e.g. 0.0.0.0:9100). */
  readonly activeByListener: Readonly<Record<string, number>>;
  /** Ended sessions by status code, listener and upstream node ('' when no node was chosen). */
  readonly status: readonly { readonly code: number; readonly listenAddr: string; readonly node: string; readonly value: number }[];
  /** Bytes by listener, APISIX's labels: type ingress|egress, side downstream|upstream (ingress/downstream = received
   *  from clients, egress/downstream = sent to clients, ingress/upstream = received from upstreams, egress/upstream =
   *  sent to upstreams). */
  readonly bandwidth: readonly { readonly listenAddr: string; readonly type: 'ingress' | 'egress'; readonly side: 'downstream' | 'upstream'; readonly value: number }[];
  /** Ended sessions by end reason, route id ('' = none) and protocol. */
  readonly sessions: readonly { readonly reason: string; readonly route: string; readonly protocol: 'tcp' | 'udp'; readonly value: number }[];
  /** Upstream connect time: non-cumulative counts per bucket (upper bounds in seconds, ascending; the last count is
   *  the +Inf overflow, so counts.length === bounds.length + 1), the sum in seconds and the count. */
  readonly connectSeconds: { readonly bounds: readonly number[]; readonly counts: readonly number[]; readonly sum: number; readonly count: number };
  /** Health of every node that has an active or passive checker. */
  readonly nodeHealth: readonly { readonly upstream: string; readonly node: string; readonly healthy: boolean }[];
  readonly udpSessionsActive: number;
  readonly tlsHandshakes: { readonly ok: number; readonly failed: number };
  /** Sessions refused by a plugin, by plugin name. */
  readonly pluginRefusals: Readonly<Record<string, number>>;
  /** Records the syslog plugin dropped (queue full, server unreachable past its retries). */
  readonly syslogDropped: number;
  /** Samples not recorded because their family had LABEL_CAP label sets already (dataplane/state/metrics.ts). */
  readonly unlabelled: number;
  /** Admin API requests with a wrong key: answered at once, or held back (the address kept guessing). */
  readonly adminAuthFailures: { readonly atOnce: number; readonly delayed: number };
}

export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  /** Histogram series: `_bucket`, `_sum` or `_count` (appended to the family's name). */
  readonly suffix?: '_bucket' | '_sum' | '_count';
}

export interface MetricFamily {
  /** Without the prefix for APISIX's families (`apisix: true`), whole for Sluice's. */
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly labels: readonly string[];
  /** APISIX's family: metric_prefix applies. */
  readonly apisix: boolean;
  readonly samples: (m: GatewayMetrics) => Sample[];
}

function byLabel(label: string, values: Readonly<Record<string, number>>): Sample[] {
  return Object.entries(values).map(([k, value]) => ({ labels: { [label]: k }, value }));
}

function histogram(h: GatewayMetrics['connectSeconds']): Sample[] {
  const out: Sample[] = [];
  let cumulative = 0;
  h.bounds.forEach((le, i) => {
    cumulative += h.counts[i] ?? 0;
    out.push({ labels: { le: String(le) }, value: cumulative, suffix: '_bucket' });
  });
  out.push({ labels: { le: '+Inf' }, value: h.count, suffix: '_bucket' });
  out.push({ labels: {}, value: h.sum, suffix: '_sum' });
  out.push({ labels: {}, value: h.count, suffix: '_count' });
  return out;
}

export const METRIC_FAMILIES: readonly MetricFamily[] = [
  {
    name: 'stream_connection_total', apisix: true, type: 'counter', labels: ['route'],
    help: 'Total number of connections handled per stream route in APISIX',
    samples: (m) => byLabel('route', m.connectionTotal),
  },
  {
    name: 'stream_active_connections', apisix: true, type: 'gauge', labels: ['listen_addr'],
    help: 'Number of stream sessions currently being proxied per listening address',
    samples: (m) => byLabel('listen_addr', m.activeByListener),
  },
  {
    name: 'stream_status', apisix: true, type: 'counter', labels: ['code', 'listen_addr', 'node'],
    help: 'Stream sessions per termination status in APISIX',
    samples: (m) => m.status.map((s) => ({ labels: { code: String(s.code), listen_addr: s.listenAddr, node: s.node }, value: s.value })),
  },
  {
    name: 'stream_bandwidth', apisix: true, type: 'counter', labels: ['listen_addr', 'type', 'side'],
    help: 'Total bandwidth in bytes proxied by the stream subsystem in APISIX',
    samples: (m) => m.bandwidth.map((b) => ({ labels: { listen_addr: b.listenAddr, type: b.type, side: b.side }, value: b.value })),
  },
  {
    name: 'sluice_sessions_total', apisix: false, type: 'counter', labels: ['reason', 'route', 'protocol'],
    help: 'Ended sessions by end reason, route id and protocol',
    samples: (m) => m.sessions.map((s) => ({ labels: { reason: s.reason, route: s.route, protocol: s.protocol }, value: s.value })),
  },
  {
    name: 'sluice_upstream_connect_seconds', apisix: false, type: 'histogram', labels: [],
    help: 'Time to connect to an upstream node (TCP, and TLS to the upstream when it is used), seconds',
    samples: (m) => histogram(m.connectSeconds),
  },
  {
    name: 'sluice_upstream_node_healthy', apisix: false, type: 'gauge', labels: ['upstream', 'node'],
    help: 'Health of an upstream node as its checker sees it: 1 healthy, 0 unhealthy',
    samples: (m) => m.nodeHealth.map((n) => ({ labels: { upstream: n.upstream, node: n.node }, value: n.healthy ? 1 : 0 })),
  },
  {
    name: 'sluice_udp_sessions_active', apisix: false, type: 'gauge', labels: [],
    help: 'Open UDP sessions',
    samples: (m) => [{ labels: {}, value: m.udpSessionsActive }],
  },
  {
    name: 'sluice_tls_handshakes_total', apisix: false, type: 'counter', labels: ['result'],
    help: 'TLS handshakes with clients on TLS listeners, by result',
    samples: (m) => [{ labels: { result: 'ok' }, value: m.tlsHandshakes.ok }, { labels: { result: 'failed' }, value: m.tlsHandshakes.failed }],
  },
  {
    name: 'sluice_config_revision', apisix: false, type: 'gauge', labels: [],
    help: 'Store revision of the configuration in force',
    samples: (m) => [{ labels: {}, value: m.configRevision }],
  },
  {
    name: 'sluice_plugin_refusals_total', apisix: false, type: 'counter', labels: ['plugin'],
    help: 'Sessions refused by a stream plugin, by plugin',
    samples: (m) => byLabel('plugin', m.pluginRefusals),
  },
  {
    name: 'sluice_syslog_dropped_total', apisix: false, type: 'counter', labels: [],
    help: 'Log records the syslog plugin dropped (queue full, or the server unreachable past the retries)',
    samples: (m) => [{ labels: {}, value: m.syslogDropped }],
  },
  {
    name: 'sluice_metrics_unlabelled_total', apisix: false, type: 'counter', labels: [],
    help: 'Samples not recorded because their family reached its cap of label sets (10,000 per worker)',
    samples: (m) => [{ labels: {}, value: m.unlabelled }],
  },
  {
    name: 'sluice_admin_auth_failures_total', apisix: false, type: 'counter', labels: ['answer'],
    help: 'Admin API requests with a wrong key, by how they were answered (at_once, or delayed: the address kept guessing)',
    samples: (m) => [
      { labels: { answer: 'at_once' }, value: m.adminAuthFailures.atOnce },
      { labels: { answer: 'delayed' }, value: m.adminAuthFailures.delayed },
    ],
  },
];

/** The exposed name of a family under a metric_prefix. */
export function familyName(f: MetricFamily, prefix: string): string {
  return f.apisix ? prefix + f.name : f.name;
}
