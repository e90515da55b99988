// Phase: the route's stream plugins (CONTRACT §6). Each route's chain is compiled once per snapshot — the merged
// service + route confs, `_meta.disable` dropped, ordered by priority (or `_meta.priority`), only plugins listed in
// `stream_plugins` — so a session only runs hooks. A route without plugins has no chain and pays nothing.
// preread hooks run in order until one refuses; a refusal is a typed end reason, counted by plugin. A hook that
// throws (a bug) refuses the session as Internal (500), logged; it never escapes into the worker.
// At the session's end, however it ends, the run's cleanups (limit-conn's count) run first, then the log hooks.
import type { RouteConf } from '../../model/snapshot.ts';
import type { AnyPlugin, EndRecord, PluginEnv, PluginVerdict, PrereadSession } from '../../plugins/plugin.ts';

interface ChainEntry {
  readonly plugin: AnyPlugin;
  readonly compiled: unknown;
}

export class PluginChain {
  readonly prereads: readonly ChainEntry[];
  readonly logs: readonly ChainEntry[];
  /** Set when a plugin conf could not be compiled: every session of the route is refused (fail closed). */
  readonly broken: string | undefined;
  constructor(prereads: readonly ChainEntry[], logs: readonly ChainEntry[], broken: string | undefined) {
    this.prereads = prereads;
    this.logs = logs;
    this.broken = broken;
  }
}

/** Compiles a route's plugins; undefined when none is in force. */
export function compileChain(route: RouteConf, byName: ReadonlyMap<string, AnyPlugin>, env: PluginEnv): PluginChain | undefined {
  const entries: { plugin: AnyPlugin; compiled: unknown; priority: number }[] = [];
  for (const [name, raw] of Object.entries(route.plugins)) {
    const conf = raw as Record<string, unknown>;
    const meta = conf._meta as { disable?: boolean; priority?: number } | undefined;
    if (meta?.disable === true) continue;
    const plugin = byName.get(name);
    // The control plane skips items whose plugins are not enabled; a plugin missing here is refused, never ignored.
    if (plugin === undefined) return new PluginChain([], [], `plugin ${name} is not in stream_plugins`);
    try {
      const compiled: unknown = plugin.compile !== undefined ? plugin.compile(conf, env, { routeId: route.id, routeName: route.name, pluginUpstreams: route.pluginUpstreams }) : conf;
      entries.push({ plugin, compiled, priority: meta?.priority ?? plugin.priority });
    } catch (err) {
      env.log.error({ route: route.id, plugin: name, err: (err as Error).message }, 'plugin conf cannot be compiled; the route refuses its sessions');
      return new PluginChain([], [], `plugin ${name}: ${(err as Error).message}`);
    }
  }
  if (entries.length === 0) return undefined;
  entries.sort((a, b) => b.priority - a.priority);
  return new PluginChain(entries.filter((e) => e.plugin.preread !== undefined), entries.filter((e) => e.plugin.log !== undefined), undefined);
}

/** One session's run of a chain: what must happen when it ends, and who refused it. */
export class PluginRun {
  readonly chain: PluginChain;
  cleanups: (() => void)[] | undefined;
  refusedBy: string | undefined;
  /** The status the refusing plugin chose (limit-conn's rejected_code); undefined = the end reason's. */
  status: number | undefined;
  constructor(chain: PluginChain) {
    this.chain = chain;
    this.cleanups = undefined;
    this.refusedBy = undefined;
    this.status = undefined;
  }
  onEnd(fn: () => void): void {
    (this.cleanups ??= []).push(fn);
  }
}

function refuse(run: PluginRun, name: string, v: PluginVerdict, env: PluginEnv): PluginVerdict {
  if (v === 'continue') return v;
  run.refusedBy = name;
  run.status = v.status;
  env.counters.refusals.set(name, (env.counters.refusals.get(name) ?? 0) + 1);
  return v;
}

/** Runs the preread hooks from `from`; synchronous while every hook is (the common case: no promise per session). */
export function runPreread(run: PluginRun, s: PrereadSession, env: PluginEnv, from = 0): PluginVerdict | Promise<PluginVerdict> {
  const list = run.chain.prereads;
  if (run.chain.broken !== undefined) return { end: 'Internal' };
  for (let i = from; i < list.length; i++) {
    const e = list[i] as ChainEntry;
    let v: PluginVerdict | Promise<PluginVerdict>;
    try {
      v = (e.plugin.preread as NonNullable<AnyPlugin['preread']>)(e.compiled, s);
    } catch (err) {
      env.log.error({ route: s.routeId, plugin: e.plugin.name, err }, 'plugin preread failed');
      return refuse(run, e.plugin.name, { end: 'Internal' }, env);
    }
    if (v instanceof Promise) {
      return v.then(
        (r) => (r === 'continue' ? runPreread(run, s, env, i + 1) : refuse(run, e.plugin.name, r, env)),
        (err: unknown) => {
          env.log.error({ route: s.routeId, plugin: e.plugin.name, err }, 'plugin preread failed');
          return refuse(run, e.plugin.name, { end: 'Internal' }, env);
        },
      );
    }
    if (v !== 'continue') return refuse(run, e.plugin.name, v, env);
  }
  return 'continue';
}

/** The session ended: cleanups, then the log hooks (each isolated: one failing does not stop the others). */
export function runEnd(run: PluginRun, r: EndRecord, env: PluginEnv): void {
  const c = run.cleanups;
  run.cleanups = undefined;
  if (c !== undefined) {
    for (const fn of c) {
      try { fn(); } catch (err) { env.log.error({ err }, 'plugin cleanup failed'); }
    }
  }
  for (const e of run.chain.logs) {
    try {
      (e.plugin.log as NonNullable<AnyPlugin['log']>)(e.compiled, r);
    } catch (err) {
      env.log.error({ plugin: e.plugin.name, err }, 'plugin log hook failed');
    }
  }
}
