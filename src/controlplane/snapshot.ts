// Store revision → resolved, validated, frozen snapshot. Watches the store from the revision it listed at, keeps a
// copy of every stream_route, upstream and service, and after each batch of changes rebuilds the snapshot whole:
// every item validated again (items from etcd or a file were never seen by the Admin API), bad items skipped and
// logged, domain nodes resolved, node slots allocated, keys decrypted; then the pure assembly (snapshot-assemble.ts)
// resolves the references (a route's upstream_id wins, then its inline upstream, then the service's).
import { check } from '../lib/jsonschema.ts';
import { deepFreeze } from '../lib/freeze.ts';
import type { NodeConf, SnapshotData, UpstreamConf, UpstreamTlsConf } from '../model/snapshot.ts';
import type { Logger } from '../observe/log.ts';
import { serviceSchema, sslSchema, streamRouteSchema, upstreamSchema } from './schema/apisix.ts';
import { routeNotForStreams, serviceNotForStreams, sslNotForStreams, upstreamNotForStreams } from './schema/l4-only.ts';
import { Keyring } from '../lib/keyring.ts';
import { isIP } from 'node:net';
import type { Schema } from '../lib/jsonschema.ts';
import { isJsonObject, type ConfigStore, type JsonObject, type StoreItem, type WatchEvent, type Watcher } from './store/store.ts';
import { idOf, splitNodeKey } from '../lib/addr.ts';
import { DnsCache } from './dns.ts';
import { NODE_SLOTS } from '../lib/node-table.ts';
import { PluginRegistry } from '../plugins/plugin.ts';
import { inlineSplitUpstreams, mergedPlugins, pluginProblem } from './plugin-confs.ts';
import { assembleSnapshot } from './snapshot-assemble.ts';

const RESOURCES = ['stream_routes', 'upstreams', 'services', 'ssls', 'plugin_metadata'] as const;
type ResourceName = (typeof RESOURCES)[number];
const SCHEMAS: Record<ResourceName, Schema> = {
  stream_routes: streamRouteSchema, upstreams: upstreamSchema, services: serviceSchema, ssls: sslSchema, plugin_metadata: { type: 'object' },
};
/** The same L4 refusals as the Admin API's, for items that come from etcd or apisix.yaml (skipped and logged). */
const NOT_FOR_STREAMS: Partial<Record<ResourceName, (v: JsonObject) => string | undefined>> = {
  stream_routes: routeNotForStreams, upstreams: upstreamNotForStreams, services: serviceNotForStreams, ssls: sslNotForStreams,
};

export const DEFAULT_TIMEOUT = { connect: 60, send: 600, read: 600 } as const;
const DNS_WAIT_MS = 300;

function scheme(v: unknown): 'tcp' | 'tls' | 'udp' {
  if (v === 'tls' || v === 'https' || v === 'grpcs') return 'tls';
  if (v === 'udp') return 'udp';
  return 'tcp'; // APISIX: `http` (the schema default) means plain TCP in the stream subsystem
}

type RawNode = Omit<NodeConf, 'ip' | 'slot'>;

/** Nodes of an upstream in both APISIX forms; nodes that cannot be used are reported through `bad`. */
export function normalizeNodes(nodes: unknown, bad: (why: string) => void): RawNode[] {
  const out: RawNode[] = [];
  if (Array.isArray(nodes)) {
    for (const n of nodes) {
      if (!isJsonObject(n) || typeof n.host !== 'string') continue;
      const port = typeof n.port === 'number' ? n.port : undefined;
      if (port === undefined) { bad(`node ${n.host} has no port`); continue; }
      const host = n.host.startsWith('[') && n.host.endsWith(']') ? n.host.slice(1, -1) : n.host;
      out.push({ host, port, weight: typeof n.weight === 'number' ? n.weight : 1, priority: typeof n.priority === 'number' ? n.priority : 0 });
    }
  } else if (isJsonObject(nodes)) {
    for (const [addr, w] of Object.entries(nodes)) {
      const p = splitNodeKey(addr);
      if (p === undefined || p.port === undefined || p.port < 1 || p.port > 65535) { bad(`node ${addr} has no valid port`); continue; }
      out.push({ host: p.host, port: p.port, weight: typeof w === 'number' ? w : 1, priority: 0 });
    }
  }
  return out;
}

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

/**
 * Stable slots in the shared node table for (upstream, node) pairs: kept while the pair exists, never handed out
 * again until the table wraps (NODE_SLOTS allocations later), so a late release from an old session cannot land on
 * a different node's counter.
 */
class SlotAllocator {
  readonly #slots = new Map<string, number>();
  #next = 1;
  readonly #size: number;
  constructor(size: number) {
    this.#size = size;
  }
  slot(key: string): number {
    let s = this.#slots.get(key);
    if (s === undefined) {
      s = this.#next;
      this.#next = this.#next + 1 >= this.#size ? 1 : this.#next + 1;
      this.#slots.set(key, s);
    }
    return s;
  }
  /** Forgets pairs that are no longer used. */
  retain(used: ReadonlySet<string>): void {
    for (const k of this.#slots.keys()) if (!used.has(k)) this.#slots.delete(k);
  }
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
  readonly #usedSlots = new Set<string>();
  readonly #dns: DnsCache;
  /** Problems already logged, so that a bad item is reported once per change, not on every rebuild. */
  #reported = new Set<string>();
  current: SnapshotData | undefined;

  constructor(opts: SnapshotBuilderOptions) {
    this.#opts = opts;
    this.#plugins = opts.plugins ?? new PluginRegistry([], []);
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
    this.#upCache.clear();
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

  /** Nodes of an upstream source object, parsed once per object (validated values are frozen and kept). */
  readonly #rawNodes = new WeakMap<JsonObject, RawNode[]>();
  /** Resolved upstreams by key, reused while their source object, DNS answers and client certificate stay the same:
   * a write then costs the changed item, not the whole config. */
  readonly #upCache = new Map<string, { src: JsonObject; sig: string; slotKeys: string[]; conf: UpstreamConf }>();

  #nodesOf(key: string, up: JsonObject): RawNode[] {
    let raw = this.#rawNodes.get(up);
    if (raw === undefined) {
      raw = normalizeNodes(up.nodes, (why) => this.#problem(key, `upstream ${key}: ${why}`));
      this.#rawNodes.set(up, raw);
    }
    return raw;
  }

  #upstream(key: string, up: JsonObject): UpstreamConf {
    const raw = this.#nodesOf(key, up);
    let sig = '';
    for (const n of raw) if (isIP(n.host) === 0) sig += `${n.host}=${this.#dns.get(n.host) ?? '?'},`;
    const tls = isJsonObject(up.tls) ? up.tls : undefined;
    if (tls?.client_cert_id !== undefined && tls.client_cert_id !== null) {
      sig += `|ssl@${this.#sslItems.get(idOf(tls.client_cert_id))?.item.modifiedIndex ?? 0}`;
    }
    const hit = this.#upCache.get(key);
    if (hit !== undefined && hit.src === up && hit.sig === sig) {
      for (const k of hit.slotKeys) this.#usedSlots.add(k);
      return hit.conf;
    }
    const slotKeys: string[] = [];
    const nodes = raw.map((n): NodeConf => {
      const slotKey = `${key}|${n.host}|${n.port}`;
      slotKeys.push(slotKey);
      this.#usedSlots.add(slotKey);
      return { ...n, ip: this.#dns.get(n.host), slot: this.#slots.slot(slotKey) };
    });
    const conf = deepFreeze(this.#upstreamConf(key, up, nodes));
    this.#upCache.set(key, { src: up, sig, slotKeys, conf });
    return conf;
  }

  #upstreamConf(key: string, up: JsonObject, nodes: NodeConf[]): UpstreamConf {
    const t = isJsonObject(up.timeout) ? up.timeout : undefined;
    const num = (v: unknown, d: number): number => (typeof v === 'number' && v > 0 ? v : d);
    const conf: Omit<UpstreamConf, 'version'> = {
      key,
      type: typeof up.type === 'string' ? up.type : 'roundrobin',
      nodes,
      scheme: scheme(up.scheme),
      hashOn: typeof up.hash_on === 'string' ? up.hash_on : 'vars',
      hashKey: typeof up.key === 'string' ? up.key : undefined,
      retries: typeof up.retries === 'number' ? up.retries : undefined,
      retryTimeout: typeof up.retry_timeout === 'number' ? up.retry_timeout : undefined,
      timeout: {
        connect: num(t?.connect, DEFAULT_TIMEOUT.connect),
        send: num(t?.send, DEFAULT_TIMEOUT.send),
        read: num(t?.read, DEFAULT_TIMEOUT.read),
      },
      timeoutSet: t !== undefined,
      tls: this.#upstreamTls(key, up.tls),
      checks: isJsonObject(up.checks) ? up.checks : undefined,
    };
    return { ...conf, version: JSON.stringify(conf) };
  }

  #decrypt(from: string, v: unknown): string | undefined {
    if (typeof v !== 'string') return undefined;
    const plain = (this.#opts.keyring ?? new Keyring([])).decrypt(v);
    if (plain === undefined) this.#problem(from, `${from}: cannot decrypt a private key with any key of apisix.data_encryption.keyring`);
    return plain;
  }

  /** An upstream's `tls`: inline client cert/key, or the `type: client` SSL named by client_cert_id. */
  #upstreamTls(key: string, tls: unknown): UpstreamTlsConf | undefined {
    if (!isJsonObject(tls)) return undefined;
    let cert = typeof tls.client_cert === 'string' ? tls.client_cert : undefined;
    let pkey = this.#decrypt(key, tls.client_key);
    if (tls.client_cert_id !== undefined && tls.client_cert_id !== null) {
      const ssl = this.#sslItems.get(idOf(tls.client_cert_id))?.value;
      if (ssl === undefined || ssl.type !== 'client') {
        this.#problem(key, `upstream ${key}: client_cert_id ${idOf(tls.client_cert_id)} is not an SSL of type client`);
      } else {
        cert = typeof ssl.cert === 'string' ? ssl.cert : undefined;
        pkey = this.#decrypt(`ssls/${idOf(tls.client_cert_id)}`, ssl.key);
      }
    }
    return { clientCert: cert, clientKey: pkey, verify: tls.verify === true };
  }

  #sslItems = new Map<string, { item: StoreItem; value: JsonObject }>();

  async #build(): Promise<void> {
    const upstreams = this.#valid('upstreams');
    const services = this.#valid('services');
    const routes = this.#valid('stream_routes');
    const metadata = this.#valid('plugin_metadata');
    this.#sslItems = this.#valid('ssls');
    // Resolve every domain node first, so that the snapshot carries IPs only.
    const hosts: string[] = [];
    const collect = (key: string, up: unknown): void => {
      if (isJsonObject(up)) for (const n of this.#nodesOf(key, up)) if (isIP(n.host) === 0) hosts.push(n.host);
    };
    for (const [id, { value }] of upstreams) collect(`upstreams/${id}`, value);
    for (const [id, { value }] of services) collect(`services/${id}`, value.upstream);
    for (const [id, { value }] of routes) {
      collect(`stream_routes/${id}`, value.upstream);
      const svc = value.service_id !== undefined ? services.get(idOf(value.service_id))?.value : undefined;
      for (const [i, up] of inlineSplitUpstreams(mergedPlugins(svc, value))) collect(`stream_routes/${id}#traffic-split/${i}`, up);
    }
    // A config change must be in force within 1 s: wait for new domains at most DNS_WAIT_MS; an answer that comes
    // later triggers another build.
    const resolving = this.#dns.prepare(hosts);
    const inTime = await Promise.race([resolving.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), DNS_WAIT_MS).unref())]);
    if (!inTime) void resolving.then(() => this.#schedule());
    this.#usedSlots.clear();
    const snap = assembleSnapshot({
      version: this.#revision, upstreams, services, routes, ssls: this.#sslItems, metadata,
      streamPlugins: this.#plugins.names(),
      tls: this.#tlsSettings ?? { fallbackSni: (this.#opts.fallbackSni ?? '').toLowerCase(), trustedCa: this.#opts.trustedCa },
    }, {
      upstream: (key, up) => this.#upstream(key, up),
      decrypt: (from, v) => this.#decrypt(from, v),
      problem: (key, msg) => this.#problem(key, msg),
    });
    const outUps = snap.upstreams;
    this.#slots.retain(this.#usedSlots);
    for (const k of this.#upCache.keys()) if (!(k in outUps)) this.#upCache.delete(k);
    this.current = snap;
    this.#opts.publish(snap);
  }
}
