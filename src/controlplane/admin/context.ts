// What the Admin API handlers need from the rest of the control plane.
import type { Logger } from '../../observe/log.ts';
import type { PluginRegistry } from '../../plugins/plugin.ts';
import type { Keyring } from '../../lib/keyring.ts';
import type { ConfigStore } from '../store/store.ts';

export interface AdminContext {
  readonly store: ConfigStore;
  readonly log: Logger;
  /** Key prefix in the store, `/apisix` (etcd's `deployment.etcd.prefix`). */
  readonly prefix: string;
  /** proxy_mode includes stream and stream_proxy is set (read live: SIGHUP may change it). */
  streamEnabled(): boolean;
  /** The enabled stream plugins (`stream_plugins` ∩ implemented). */
  plugins(): PluginRegistry;
  /** Resolves when the revision has been published to the data plane (or at once when there is none). */
  published(revision: number): Promise<void>;
  /** Encrypts private keys before they are stored (apisix.data_encryption). */
  readonly keyring: Keyring;
  /** Seconds since the epoch (injected so tests can pin it). */
  now(): number;
}
