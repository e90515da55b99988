// One gateway: config → store → (data plane) → Admin API. Readiness: listeners are bound before the Admin API answers.
import path from 'node:path';
import { startAdmin } from '../controlplane/admin/index.ts';
import type { AdminServer } from '../controlplane/admin/server.ts';
import { EmbeddedStore } from '../controlplane/store/embedded.ts';
import type { ConfigStore } from '../controlplane/store/store.ts';
import type { LoadedConfig } from '../model/config.ts';
import type { Logger } from '../observe/log.ts';
import { ALL_PLUGINS } from '../plugins/index.ts';
import { PluginRegistry } from '../plugins/plugin.ts';

export interface GatewayOptions {
  readonly loaded: LoadedConfig;
  readonly log: Logger;
  /** Seconds since the epoch; injected by tests. */
  readonly now?: () => number;
}

export interface Gateway {
  readonly store: ConfigStore;
  readonly admin: AdminServer | undefined;
  close(): Promise<void>;
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const { loaded, log } = opts;
  const cfg = loaded.config;
  const dataDir = path.resolve(loaded.prefix, cfg.sluice.data_dir);
  const store = new EmbeddedStore({ dir: dataDir });
  const plugins = new PluginRegistry(ALL_PLUGINS, cfg.stream_plugins);
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  let admin: AdminServer | undefined;
  try {
    if (cfg.deployment.admin.enable_admin) {
      const a = cfg.deployment.admin;
      admin = await startAdmin(
        {
          store, log, prefix: '/apisix',
          streamEnabled: () => loaded.streamEnabled,
          plugins: () => plugins,
          published: () => Promise.resolve(),
          now,
        },
        { host: a.admin_listen.ip, port: a.admin_listen.port, keys: a.admin_key, keyRequired: a.admin_key_required, allow: a.allow_admin },
      );
      log.info({ addr: `${a.admin_listen.ip}:${admin.port}` }, 'admin api listening');
    }
  } catch (err) {
    await store.close();
    throw err;
  }
  return {
    store,
    admin,
    async close() {
      await admin?.close();
      await store.close();
    },
  };
}
