// The worker's view of the config: each snapshot is compiled once (routes → Router with their plugin chains,
// upstreams → balancers) and swapped in with one assignment. A session reads `current` once at accept and keeps it
// to the end. Compiled upstreams whose source did not change are carried over, so balancer state survives unrelated
// changes.
import type { SnapshotDelta } from '../model/messages.ts';
import type { SnapshotData, UpstreamConf } from '../model/snapshot.ts';
import { PriorityBalancer } from './balancers/priority.ts';
import { Router } from './router/router.ts';
import type { NodeTable } from '../lib/node-table.ts';
import { CertTable } from './tls/certs.ts';
import { ALL_PLUGINS } from '../plugins/index.ts';
import type { AnyPlugin } from '../plugins/plugin.ts';
import { compileChain } from './phases/plugins.ts';
import type { WorkerPluginEnv } from './plugin-env.ts';

export const EMPTY_SNAPSHOT: SnapshotData = {
  version: 0, routes: [], upstreams: {}, ssls: [], streamPlugins: [], pluginMetadata: {}, tls: { fallbackSni: '', trustedCa: undefined },
};

export class CompiledUpstream {
  readonly conf: UpstreamConf;
  readonly balancer: PriorityBalancer;
  constructor(conf: UpstreamConf, table: NodeTable) {
    this.conf = conf;
    this.balancer = new PriorityBalancer(conf, table);
  }
}

export class CompiledSnapshot {
  readonly version: number;
  readonly router: Router;
  readonly upstreams: ReadonlyMap<string, CompiledUpstream>;
  readonly certs: CertTable;
  /** Whether any route wants TLS passthrough (only then do plain listeners peek at a ClientHello). */
  readonly passthroughPorts: ReadonlySet<number> | 'any' | undefined;
  readonly trustedCa: string | undefined;
  constructor(data: SnapshotData, previous: CompiledSnapshot | undefined, table: NodeTable, env: WorkerPluginEnv) {
    this.version = data.version;
    const enabled = new Set(data.streamPlugins);
    const byName = new Map<string, AnyPlugin>(ALL_PLUGINS.filter((p) => enabled.has(p.name)).map((p) => [p.name, p]));
    env.beginCompile(data.pluginMetadata, data.tls.trustedCa);
    this.router = new Router(data.routes, (r) => (Object.keys(r.plugins).length === 0 ? undefined : compileChain(r, byName, env)));
    env.endCompile();
    this.certs = new CertTable(data, previous?.certs);
    this.trustedCa = data.tls.trustedCa;
    const pt = data.routes.filter((r) => r.tlsPassthrough);
    this.passthroughPorts = pt.length === 0 ? undefined : pt.some((r) => r.serverPort === undefined) ? 'any' : new Set(pt.map((r) => r.serverPort as number));
    const ups = new Map<string, CompiledUpstream>();
    for (const [key, conf] of Object.entries(data.upstreams)) {
      const prev = previous?.upstreams.get(key);
      ups.set(key, prev !== undefined && prev.conf.version === conf.version ? prev : new CompiledUpstream(conf, table));
    }
    this.upstreams = ups;
  }
}

export class Runtime {
  current: CompiledSnapshot;
  /** The snapshot data last received, compiled or not: the primary's base for its next delta. */
  #data: SnapshotData = EMPTY_SNAPSHOT;
  readonly #table: NodeTable;
  readonly env: WorkerPluginEnv;
  constructor(table: NodeTable, env: WorkerPluginEnv) {
    this.#table = table;
    this.env = env;
    this.current = new CompiledSnapshot(EMPTY_SNAPSHOT, undefined, table, env);
  }
  /** Compiles and swaps; a throw leaves the previous snapshot in force. */
  apply(data: SnapshotData): CompiledSnapshot {
    this.#data = data;
    const next = new CompiledSnapshot(data, this.current, this.#table, this.env);
    this.current = next;
    return next;
  }
  /** A delta on the data last received (upstreams changed and removed; the rest whole). */
  applyDelta(d: SnapshotDelta): CompiledSnapshot {
    return this.apply(withDelta(this.#data, d));
  }
}

export function withDelta(base: SnapshotData, d: SnapshotDelta): SnapshotData {
  const upstreams: Record<string, SnapshotData['upstreams'][string]> = { ...base.upstreams };
  for (const k of d.removed) delete upstreams[k];
  Object.assign(upstreams, d.changed);
  return { version: d.version, routes: d.routes, ssls: d.ssls, tls: d.tls, streamPlugins: d.streamPlugins, pluginMetadata: d.pluginMetadata, upstreams };
}
