// One gateway: config → store → snapshot builder → data-plane workers (snapshot applied, listeners bound) → Admin API.
// Readiness: the first snapshot is built, every worker has it and has bound every listener, before the Admin API answers.
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Keyring } from '../lib/keyring.ts';
import { startAdmin } from '../controlplane/admin/index.ts';
import type { AdminServer } from '../controlplane/admin/server.ts';
import { SnapshotBuilder } from '../controlplane/snapshot.ts';
import { EmbeddedStore } from '../controlplane/store/embedded.ts';
import { EtcdStore } from '../controlplane/store/etcd.ts';
import { YamlStore } from '../controlplane/store/yaml.ts';
import { StoreUnavailableError } from '../controlplane/store/store.ts';
import type { ConfigStore } from '../controlplane/store/store.ts';
import type { LoadedConfig } from '../model/config.ts';
import type { Logger } from '../observe/log.ts';
import type { AccessLogConf } from '../observe/access-log.ts';
import { ALL_PLUGINS } from '../plugins/index.ts';
import { PluginRegistry } from '../plugins/plugin.ts';
import { explainRoute } from './explain.ts';
import { connectionsRoutes } from './connections.ts';
import { historyRoute } from './history.ts';
import { statusRoute } from './status.ts';
import { openApiRoute } from './openapi-route.ts';
import { overviewRoute } from './overview.ts';
import { uiRoute } from './ui-route.ts';
import { gatherMetrics } from './metrics.ts';
import { metricsRoute } from './metrics-route.ts';
import { startMetricsExporter } from '../observe/prometheus-exporter.ts';
import { WorkerPool } from './workers.ts';
import { listenerKey } from '../lib/addr.ts';
import { createNodeTableBuffers, NodeTable } from '../lib/node-table.ts';
import { HealthManager } from '../controlplane/health/manager.ts';
import { startControlApi, type ControlApi } from '../controlplane/health/control-api.ts';

export interface GatewayOptions {
  readonly loaded: LoadedConfig;
  readonly log: Logger;
  readonly logLevel?: string;
  /** Seconds since the epoch; injected by tests. */
  readonly now?: () => number;
}

export interface Gateway {
  readonly store: ConfigStore;
  readonly admin: AdminServer | undefined;
  readonly pool: WorkerPool;
  readonly builder: SnapshotBuilder;
  readonly health: HealthManager;
  readonly control: ControlApi | undefined;
  /** The Prometheus exporter's bound port (undefined when it does not listen). */
  metricsPort(): number | undefined;
  /** The bound port of a listener, by its config entry (resolves port 0). */
  port(proto: 'tcp' | 'udp', host: string | null, port: number, source?: string): number;
  /** SIGHUP: applies a new, already validated config live; resolves with what could not be applied. */
  reload(next: LoadedConfig): Promise<string[]>;
  /** Graceful stop: listeners close, sessions drain up to shutdown_timeout, then the rest are closed. */
  close(): Promise<void>;
}

/** nginx_config.stream's access log settings, the path resolved against the prefix. */
function accessLogConf(loaded: LoadedConfig): AccessLogConf {
  const st = loaded.config.nginx_config.stream;
  return { enabled: st.enable_access_log, file: path.resolve(loaded.prefix, st.access_log), format: st.access_log_format, escape: st.access_log_format_escape };
}

/** The config store the deployment asks for: embedded (default), etcd, or the standalone yaml file. */
function openStore(loaded: LoadedConfig, log: Logger): { store: ConfigStore; prefix: string } {
  const cfg = loaded.config;
  const d = cfg.deployment;
  if (d.role === 'data_plane') {
    const file = path.resolve(loaded.prefix, 'conf/apisix.yaml');
    return { store: new YamlStore({ file, shown: path.relative(process.cwd(), file) || file, log, prefix: '/apisix' }), prefix: '/apisix' };
  }
  if (d.role_traditional.config_provider === 'etcd') {
    const t = d.etcd.tls;
    const read = (f: string | undefined): string | undefined => (f === undefined ? undefined : readFileSync(path.resolve(loaded.prefix, f), 'utf8'));
    const store = new EtcdStore({ conf: d.etcd, log, tls: { cert: read(t?.cert), key: read(t?.key), ca: readTrustedCa(loaded) } });
    return { store, prefix: store.prefix };
  }
  return { store: new EmbeddedStore({ dir: path.resolve(loaded.prefix, cfg.sluice.data_dir) }), prefix: '/apisix' };
}

/** The first full sync with a shared store waits for it (etcd may start after the gateway), up to `limitMs`. */
async function startWithRetry(fn: () => Promise<void>, limitMs: number, log: Logger): Promise<void> {
  const until = Date.now() + limitMs;
  for (let attempt = 0; ; attempt++) {
    try {
      await fn();
      return;
    } catch (err) {
      if (!(err instanceof StoreUnavailableError) || Date.now() > until) throw err;
      if (attempt === 0) log.warn({ err: err.message }, 'config store unavailable at start; retrying');
      await new Promise((r) => setTimeout(r, Math.min(1000, 100 * 2 ** attempt)));
    }
  }
}

/** apisix.ssl.ssl_trusted_certificate (a path, relative to the prefix), read once at start. */
function readTrustedCa(loaded: LoadedConfig): string | undefined {
  const f = loaded.config.apisix.ssl.ssl_trusted_certificate;
  if (f === undefined || f === '') return undefined;
  return readFileSync(path.resolve(loaded.prefix, f), 'utf8');
}

export function workerCount(w: number | 'auto'): number {
  return w === 'auto' ? Math.max(1, availableParallelism()) : w;
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const { loaded, log } = opts;
  const cfg = loaded.config;
  const { store, prefix } = openStore(loaded, log);
  let current = loaded;
  let plugins = new PluginRegistry(ALL_PLUGINS, cfg.stream_plugins);
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  const keyring = new Keyring(cfg.apisix.data_encryption.keyring, cfg.apisix.data_encryption.enable_encrypt_fields);
  const nodeBuffers = createNodeTableBuffers();
  const health = new HealthManager(new NodeTable(nodeBuffers), log);
  const pool = new WorkerPool({
    count: workerCount(cfg.sluice.workers),
    listeners: loaded.streamEnabled ? loaded.listeners : [],
    maxConnections: cfg.sluice.max_connections,
    nativeRelay: cfg.sluice.native_relay,
    tlsHandshakeTimeout: cfg.sluice.tls_handshake_timeout,
    accessLog: accessLogConf(loaded),
    proxyProtocol: {
      fromClients: cfg.apisix.proxy_protocol.enable_tcp_pp,
      toUpstreams: cfg.apisix.proxy_protocol.enable_tcp_pp_to_upstream,
      realIpFrom: cfg.nginx_config.stream.real_ip_from,
    },
    udpMaxSessions: cfg.sluice.udp_max_sessions,
    udpSessionTimeout: cfg.sluice.udp_session_timeout,
    nodes: nodeBuffers,
    onOutcomes: (pairs) => health.onOutcomes(pairs),
    log,
    logLevel: opts.logLevel ?? 'warn',
  });
  const builder = new SnapshotBuilder({
    store, prefix, log, dnsServers: cfg.apisix.dns_resolver, keyring,
    fallbackSni: cfg.apisix.ssl.fallback_sni, trustedCa: readTrustedCa(loaded), plugins,
    publish: (snap) => {
      health.sync(snap);
      pool.publish(snap);
    },
  });
  let admin: AdminServer | undefined;
  let control: ControlApi | undefined;
  let exporter: { port: number; close(): Promise<void> } | undefined;
  const prom = cfg.plugin_attr.prometheus;
  const promOn = cfg.stream_plugins.includes('prometheus');
  const collect = (): ReturnType<typeof gatherMetrics> => gatherMetrics(pool, builder, health, admin?.authCounters());
  try {
    // The first snapshot before the workers: each applies it before binding its listeners, so a listener never
    // accepts a connection (e.g. a client reconnecting to a restarted gateway) without the stored config.
    await startWithRetry(() => builder.start(), cfg.deployment.etcd.timeout * 2000, log);
    await pool.start();
    await pool.published(builder.current?.version ?? 0);
    if (cfg.apisix.enable_control) {
      control = await startControlApi(health, cfg.apisix.control.ip, cfg.apisix.control.port);
      log.info({ addr: `${cfg.apisix.control.ip}:${control.port}` }, 'control api listening');
    }
    if (promOn && prom.enable_export_server) {
      const e = await startMetricsExporter({
        host: prom.export_addr.ip, port: prom.export_addr.port, uri: prom.export_uri, prefix: prom.metric_prefix,
        refreshMs: prom.refresh_interval * 1000, collect, log,
      });
      exporter = e;
      log.info({ addr: `${prom.export_addr.ip}:${e.port}${prom.export_uri}` }, 'prometheus exporter listening');
    }
    if (cfg.deployment.admin.enable_admin && cfg.apisix.enable_admin !== false) {
      const a = cfg.deployment.admin;
      admin = await startAdmin(
        {
          store, log, prefix,
          streamEnabled: () => current.streamEnabled,
          plugins: () => plugins,
          published: (rev) => pool.published(rev),
          keyring,
          now,
        },
        { host: a.admin_listen.ip, port: a.admin_listen.port, keys: a.admin_key, keyRequired: a.admin_key_required, allow: a.allow_admin, cors: a.enable_admin_cors === true },
        [explainRoute(pool), statusRoute(pool, builder), openApiRoute(), ...connectionsRoutes(pool), historyRoute(store, prefix, keyring), overviewRoute({ pool, builder, health, nodes: nodeBuffers, listeners: () => (current.streamEnabled ? current.listeners : []) }), uiRoute(log), ...(promOn && !prom.enable_export_server ? [metricsRoute(prom.export_uri, prom.metric_prefix, collect)] : [])],
      );
      log.info({ addr: `${a.admin_listen.ip}:${admin.port}` }, 'admin api listening');
    }
  } catch (err) {
    builder.close();
    health.close();
    await control?.close();
    await exporter?.close();
    await pool.terminate();
    await store.close();
    throw err;
  }
  const ports = pool.ports();
  return {
    store, admin, pool, builder, health, control,
    metricsPort: () => exporter?.port,
    port: (proto, host, p, source = '') => ports[listenerKey({ proto, host, port: p, source })] ?? p,
    async reload(next) {
      const problems: string[] = [];
      const was = current.config;
      const now = next.config;
      if (workerCount(now.sluice.workers) !== workerCount(was.sluice.workers)) problems.push('sluice.workers: a change takes effect at the next start');
      if (now.sluice.data_dir !== was.sluice.data_dir) problems.push('sluice.data_dir: a change takes effect at the next start');
      if (JSON.stringify(now.deployment.admin.admin_listen) !== JSON.stringify(was.deployment.admin.admin_listen)) problems.push('deployment.admin.admin_listen: a change takes effect at the next start');
      if (JSON.stringify(now.apisix.control) !== JSON.stringify(was.apisix.control) || now.apisix.enable_control !== was.apisix.enable_control) problems.push('apisix.control: a change takes effect at the next start');
      // Read once at start by the store, the keyring, the DNS resolver or the workers: say so rather than ignore them.
      const atStart: [string, unknown, unknown][] = [
        ['sluice.tls_handshake_timeout', now.sluice.tls_handshake_timeout, was.sluice.tls_handshake_timeout],
        ['apisix.dns_resolver', now.apisix.dns_resolver, was.apisix.dns_resolver],
        ['apisix.data_encryption', now.apisix.data_encryption, was.apisix.data_encryption],
        ['deployment.role', now.deployment.role, was.deployment.role],
        ['deployment.role_traditional', now.deployment.role_traditional, was.deployment.role_traditional],
        ['deployment.etcd', now.deployment.etcd, was.deployment.etcd],
        ['deployment.admin.enable_admin', now.deployment.admin.enable_admin, was.deployment.admin.enable_admin],
        ['apisix.enable_admin', now.apisix.enable_admin, was.apisix.enable_admin],
        ['deployment.admin.enable_admin_cors', now.deployment.admin.enable_admin_cors, was.deployment.admin.enable_admin_cors],
        // the workers read them when they start (their listeners' defaults)
        ['apisix.proxy_protocol', now.apisix.proxy_protocol, was.apisix.proxy_protocol],
      ];
      for (const [key, a, b] of atStart) if (JSON.stringify(a) !== JSON.stringify(b)) problems.push(`${key}: a change takes effect at the next start`);
      current = next;
      if (JSON.stringify(now.stream_plugins) !== JSON.stringify(was.stream_plugins)) {
        plugins = new PluginRegistry(ALL_PLUGINS, now.stream_plugins);
        builder.setPlugins(plugins);
      }
      pool.setSettings({ maxConnections: now.sluice.max_connections, udpMaxSessions: now.sluice.udp_max_sessions, udpSessionTimeout: now.sluice.udp_session_timeout, accessLog: accessLogConf(next), nativeRelay: now.sluice.native_relay });
      problems.push(...await pool.setListeners(next.streamEnabled ? next.listeners : []));
      builder.setTlsSettings(now.apisix.ssl.fallback_sni, readTrustedCa(next));
      const a = now.deployment.admin;
      admin?.update({ keys: a.admin_key, keyRequired: a.admin_key_required, allow: a.allow_admin });
      return problems;
    },
    async close() {
      await admin?.close();
      await control?.close();
      await exporter?.close();
      builder.close();
      health.close();
      // The shutdown_timeout in force now (a SIGHUP may have changed it).
      await pool.stop(current.config.sluice.shutdown_timeout * 1000);
      await store.close();
    },
  };
}
