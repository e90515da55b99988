// Store revision → resolved, validated, frozen snapshot. Watches the store from the revision it listed at, keeps a
// copy of every stream_route, upstream and service, and after each batch of changes rebuilds the snapshot whole:
// every item validated again (items from etcd or a file were never seen by the Admin API), bad items skipped and
// logged, domain nodes resolved (waiting a bounded time), node slots allocated; then the pure assembly
// (snapshot-assemble.ts, snapshot-upstream.ts) builds the snapshot from those inputs and returns its problems, logged here.
import { check } from '../lib/jsonschema.ts';
import { deepFreeze } from '../lib/freeze.ts';
import type { SnapshotData } from '../model/snapshot.ts';
import type { Logger } from '../observe/log.ts';
import { serviceSchema, sslSchema, streamRouteSchema, upstreamSchema } from './schema/apisix.ts';
import { routeNotForStreams, serviceNotForStreams, sslNotForStreams, upstreamNotForStreams } from './schema/l4-only.ts';
import { Keyring } from '../lib/keyring.ts';
import { isIP } from 'node:net';
import type { Schema } from '../lib/jsonschema.ts';
import { type ConfigStore, type JsonObject, type StoreItem, type WatchEvent, type Watcher } from './store/store.ts';
import { DnsCache } from './dns.ts';
import { NODE_SLOTS } from '../lib/node-table.ts';
import { PluginRegistry } from '../plugins/plugin.ts';
import { pluginProblem } from './plugin-confs.ts';
import { assembleSnapshot, upstreamSources } from './snapshot-assemble.ts';
import { slotKey, UpstreamMemo } from './snapshot-upstream.ts';
import { SlotAllocator } from './node-slots.ts';

const RESOURCES = ['stream_routes', 'upstreams', 'services', 'ssls', 'plugin_metadata'] as const;
type ResourceName = (typeof RESOURCES)[number];
const SCHEMAS: Record<ResourceName, Schema> = {
  stream_routes: streamRouteSchema, upstreams: upstreamSchema, services: serviceSchema, ssls: sslSchema, plugin_metadata: { type: 'object' },
};
/** The same L4 refusals as the Admin API's, for items that come from etcd or apisix.yaml (skipped and logged). */
const NOT_FOR_STREAMS: Partial<Record<ResourceName, (v: JsonObject) => string | undefined>> = {
  stream_routes: routeNotForStreams, upstreams: upstreamNotForStreams, services: serviceNotForStreams, ssls: sslNotForStreams,
};

const DNS_WAIT_MS = 300;

export interface SnapshotBuilderOptions {
  readonly store: ConfigStore;
  readonly prefix: string;
  readonly log: Logger;
  readonly publish: (snap: SnapshotData) => void;
  /** `apisix.dns_resolver`; empty = the system resolver. */
  readonly dnsServers?: readonly string[];
  /** Decrypts private keys (apisix.data_encryption.keyring). */
  readonly keyring?: Keyring;
  readonly fallbackSni?: string;
  /** PEM of apisix.ssl.ssl_trusted_certificate. */
  readonly trustedCa?: string;
  /** The enabled stream plugins (config.yaml stream_plugins): items are checked with their schemas. */
  readonly plugins?: PluginRegistry;
}

export class SnapshotBuilder {
  readonly #opts: SnapshotBuilderOptions;
  readonly #items = new Map<ResourceName, Map<string, StoreItem>>(RESOURCES.map((r) => [r, new Map()]));
  #revision = 0;
  #watcher: Watcher | undefined;
  #scheduled = false;
  #building = false;
  #again = false;
  #closed = false;
  readonly #slots = new SlotAllocator(NODE_SLOTS);
  readonly #memo = new UpstreamMemo();
  readonly #keyring: Keyring;
  readonly #dns: DnsCache;
  /** Problems already logged, so that a bad item is reported once per change, not on every rebuild. */
  #reported = new Set<string>();
  current: SnapshotData | undefined;

  constructor(opts: SnapshotBuilderOptions) {
    this.#opts = opts;
    this.#plugins = opts.plugins ?? new PluginRegistry([], []);
    this.#keyring = opts.keyring ?? new Keyring([]);
    this.#dns = new DnsCache({ servers: opts.dnsServers ?? [], log: opts.log, onChange: () => this.#schedule() });
  }

  /** SIGHUP: new TLS settings apply with the next snapshot, built now. */
  setTlsSettings(fallbackSni: string, trustedCa: string | undefined): void {
    this.#tlsSettings = { fallbackSni: fallbackSni.toLowerCase(), trustedCa };
    this.#schedule();
  }

  #tlsSettings: { fallbackSni: string; trustedCa: string | undefined } | undefined;
  #plugins: PluginRegistry;

  /** SIGHUP changed stream_plugins: every item is checked again with the new set, and the snapshot rebuilt. */
  setPlugins(plugins: PluginRegistry): void {
    this.#plugins = plugins;
    this.#validated.clear();
    this.#schedule();
  }

  /** Lists everything, publishes the first snapshot, then follows the store. */
  async start(): Promise<void> {
    await this.#resync();
  }

  close(): void {
    this.#closed = true;
    this.#watcher?.close();
    this.#dns.close();
  }

  /** Lists again until the store answers (the data plane keeps its snapshot meanwhile). */
  #resyncUntilDone(attempt = 0): void {
    if (this.#closed) return;
    this.#resync().catch((err: unknown) => {
      if (attempt === 0) this.#opts.log.error({ err: (err as Error).message }, 'config resync failed; retrying');
      setTimeout(() => this.#resyncUntilDone(attempt + 1), Math.min(2000, 100 * 2 ** attempt)).unref();
    });
  }

  async #resync(): Promise<void> {
    this.#watcher?.close();
    const { items, revision } = await this.#opts.store.list(`${this.#opts.prefix}/`);
    for (const m of this.#items.values()) m.clear();
    this.#validated.clear();
    this.#memo.clear();
    for (const it of items) this.#apply({ type: 'put', revision, item: it });
    this.#revision = revision;
    await this.#build();
    if (this.#closed) return;
    this.#watcher = this.#opts.store.watch(revision, {
      onEvents: (evs) => {
        for (const e of evs) this.#apply(e);
        this.#schedule();
      },
      onResync: (reason) => {
        this.#opts.log.warn({ reason }, 'config watch lost its place; listing the store again');
        this.#resyncUntilDone();
      },
    });
  }

  #apply(e: WatchEvent): void {
    if (e.revision > this.#revision) this.#revision = e.revision;
    const key = e.type === 'put' ? e.item.key : e.key;
    const rest = key.slice(this.#opts.prefix.length + 1);
    const slash = rest.indexOf('/');
    if (slash < 0) return;
    const res = rest.slice(0, slash) as ResourceName;
    const map = this.#items.get(res);
    if (map === undefined) return;
    const id = rest.slice(slash + 1);
    if (e.type === 'put') map.set(id, e.item);
    else {
      map.delete(id);
      this.#validated.delete(key);
    }
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (!this.#closed) this.#rebuild();
    });
  }

  /** One build at a time; changes that arrive during a build trigger one more. */
  #rebuild(): void {
    if (this.#building) {
      this.#again = true;
      return;
    }
    this.#building = true;
    this.#build().catch((err: unknown) => this.#opts.log.error({ err }, 'snapshot build failed; keeping the previous snapshot')).finally(() => {
      this.#building = false;
      if (this.#again && !this.#closed) {
        this.#again = false;
        this.#rebuild();
      }
    });
  }

  #problem(key: string, msg: string): void {
    const k = `${key} ${msg}`;
    if (this.#reported.has(k)) return;
    this.#reported.add(k);
    if (this.#reported.size > 10_000) this.#reported.clear();
    this.#opts.log.warn({ item: key }, msg);
  }

  /** Validated copies by key, reused while the item's modifiedIndex stays the same (writes stay O(change)). */
  readonly #validated = new Map<string, { mod: number; value: JsonObject | undefined }>();

  /** Validated copies (defaults filled) of one resource's items; invalid ones are skipped and logged. */
  #valid(res: ResourceName): Map<string, { item: StoreItem; value: JsonObject }> {
    const out = new Map<string, { item: StoreItem; value: JsonObject }>();
    for (const [id, item] of this.#items.get(res) ?? []) {
      let hit = this.#validated.get(item.key);
      if (hit === undefined || hit.mod !== item.modifiedIndex) {
        const value = structuredClone(item.value);
        const err = check(SCHEMAS[res], value) ?? NOT_FOR_STREAMS[res]?.(value) ?? this.#checkPlugins(res, id, value);
        if (err !== undefined) this.#problem(item.key, `skipped invalid ${res} item: ${err}`);
        hit = { mod: item.modifiedIndex, value: err === undefined ? deepFreeze(value) : undefined };
        this.#validated.set(item.key, hit);
      }
      if (hit.value !== undefined) out.set(id, { item, value: hit.value });
    }
    return out;
  }

  /** The same plugin checks as the Admin API's (an unknown plugin or a bad conf skips the item). */
  #checkPlugins(res: ResourceName, id: string, value: JsonObject): string | undefined {
    if (res === 'plugin_metadata') {
      const r = this.#plugins.checkMetadata(id, value);
      return r.ok ? undefined : r.kind === 'unknown' ? `unknown plugin [${id}]` : `invalid plugin_metadata of [${id}]: ${r.reason}`;
    }
    if (res !== 'stream_routes' && res !== 'services') return undefined;
    return pluginProblem(this.#plugins, value.plugins);
  }

  async #build(): Promise<void> {
    const upstreams = this.#valid('upstreams');
    const services = this.#valid('services');
    const routes = this.#valid('stream_routes');
    const metadata = this.#valid('plugin_metadata');
    const ssls = this.#valid('ssls');
    const sources = upstreamSources({ upstreams, services, routes });
    // Resolve every domain node first, so that the snapshot carries IPs only. A config change must be in force
    // within 1 s: wait for new domains at most DNS_WAIT_MS; an answer that comes later triggers another build.
    const hosts = new Set<string>();
    for (const [key, up] of sources) for (const n of this.#memo.nodes(key, up)) if (isIP(n.host) === 0) hosts.add(n.host);
    const resolving = this.#dns.prepare(hosts);
    const inTime = await Promise.race([resolving.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), DNS_WAIT_MS).unref())]);
    if (!inTime) void resolving.then(() => this.#schedule());
    const ips = new Map<string, string>();
    for (const h of hosts) {
      const ip = this.#dns.get(h);
      if (ip !== undefined) ips.set(h, ip);
    }
    const slots = new Map<string, number>();
    for (const [key, up] of sources) for (const n of this.#memo.nodes(key, up)) slots.set(slotKey(key, n), 0);
    for (const k of slots.keys()) slots.set(k, this.#slots.slot(k));
    this.#slots.retain(slots);
    const { snapshot, problems } = assembleSnapshot({
      version: this.#revision, upstreams, services, routes, ssls, metadata,
      streamPlugins: this.#plugins.names(),
      tls: this.#tlsSettings ?? { fallbackSni: (this.#opts.fallbackSni ?? '').toLowerCase(), trustedCa: this.#opts.trustedCa },
      ips, slots, keyring: this.#keyring, memo: this.#memo,
    });
    for (const p of problems) this.#problem(p.key, p.msg);
    this.#memo.retain(snapshot.upstreams);
    this.current = snapshot;
    this.#opts.publish(snapshot);
  }
}
