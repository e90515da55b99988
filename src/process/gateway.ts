// One gateway: config → store → data-plane workers (listeners bound) → snapshot builder → Admin API.
// Readiness: every listener is bound, and the first snapshot acknowledged, before the Admin API answers.
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { startAdmin } from '../controlplane/admin/index.ts';
import type { AdminServer } from '../controlplane/admin/server.ts';
import { SnapshotBuilder } from '../controlplane/snapshot.ts';
import { EmbeddedStore } from '../controlplane/store/embedded.ts';
import type { ConfigStore } from '../controlplane/store/store.ts';
import type { LoadedConfig } from '../model/config.ts';
import type { Logger } from '../observe/log.ts';
import { ALL_PLUGINS } from '../plugins/index.ts';
import { PluginRegistry } from '../plugins/plugin.ts';
import { explainRoute } from './explain.ts';
import { listenerKey, WorkerPool } from './workers.ts';

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
  /** The bound port of a listener, by its config entry (resolves port 0). */
  port(proto: 'tcp' | 'udp', host: string | null, port: number): number;
  /** Graceful stop: listeners close, sessions drain up to shutdown_timeout, then the rest are closed. */
  close(): Promise<void>;
}

export function workerCount(w: number | 'auto'): number {
  return w === 'auto' ? Math.max(1, availableParallelism()) : w;
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const { loaded, log } = opts;
  const cfg = loaded.config;
  const store = new EmbeddedStore({ dir: path.resolve(loaded.prefix, cfg.sluice.data_dir) });
  const plugins = new PluginRegistry(ALL_PLUGINS, cfg.stream_plugins);
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  const pool = new WorkerPool({
    count: workerCount(cfg.sluice.workers),
    listeners: loaded.streamEnabled ? loaded.listeners : [],
    maxConnections: cfg.sluice.max_connections,
    log,
    logLevel: opts.logLevel ?? 'warn',
  });
  const builder = new SnapshotBuilder({ store, prefix: '/apisix', log, publish: (snap) => pool.publish(snap) });
  let admin: AdminServer | undefined;
  try {
    await pool.start();
    await builder.start();
    await pool.published(builder.current?.version ?? 0);
    if (cfg.deployment.admin.enable_admin) {
      const a = cfg.deployment.admin;
      admin = await startAdmin(
        {
          store, log, prefix: '/apisix',
          streamEnabled: () => loaded.streamEnabled,
          plugins: () => plugins,
          published: (rev) => pool.published(rev),
          now,
        },
        { host: a.admin_listen.ip, port: a.admin_listen.port, keys: a.admin_key, keyRequired: a.admin_key_required, allow: a.allow_admin },
        [explainRoute(pool)],
      );
      log.info({ addr: `${a.admin_listen.ip}:${admin.port}` }, 'admin api listening');
    }
  } catch (err) {
    builder.close();
    await pool.terminate();
    await store.close();
    throw err;
  }
  const ports = pool.ports();
  return {
    store, admin, pool, builder,
    port: (proto, host, p) => ports[listenerKey({ proto, host, port: p } as Parameters<typeof listenerKey>[0])] ?? p,
    async close() {
      await admin?.close();
      builder.close();
      await pool.stop(cfg.sluice.shutdown_timeout * 1000);
      await store.close();
    },
  };
}
