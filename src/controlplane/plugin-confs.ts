// Plugin confs as the control plane reads them, for the Admin API and the snapshot builder alike (so items from etcd
// or apisix.yaml pass exactly the checks an Admin API write does): each conf against its plugin's schema, and
// traffic-split's weighted upstreams — inline ones against the upstream schema (APISIX's schema_def.upstream),
// upstream_id ones named so the caller can check that they exist.
import { check } from '../lib/jsonschema.ts';
import type { PluginRegistry } from '../plugins/plugin.ts';
import { upstreamSchema } from './schema/apisix.ts';
import { isJsonObject, type JsonObject } from './store/store.ts';
import { idOf } from '../lib/addr.ts';

/** The service's plugins merged under the route's: the route's conf wins for the same plugin (CONTRACT §6). */
export function mergedPlugins(svc: JsonObject | undefined, route: JsonObject): JsonObject {
  return { ...(isJsonObject(svc?.plugins) ? svc.plugins : {}), ...(isJsonObject(route.plugins) ? route.plugins : {}) };
}

function* splitEntries(plugins: unknown): Generator<[string, JsonObject]> {
  if (!isJsonObject(plugins)) return;
  const ts = plugins['traffic-split'];
  if (!isJsonObject(ts) || !Array.isArray(ts.rules)) return;
  for (const [r, rule] of ts.rules.entries()) {
    if (!isJsonObject(rule) || !Array.isArray(rule.weighted_upstreams)) continue;
    for (const [i, wu] of rule.weighted_upstreams.entries()) if (isJsonObject(wu)) yield [`${r}/${i}`, wu];
  }
}

/** traffic-split's inline upstreams, by `<rule>/<index>`. */
export function inlineSplitUpstreams(plugins: unknown): [string, JsonObject][] {
  const out: [string, JsonObject][] = [];
  for (const [at, wu] of splitEntries(plugins)) if (wu.upstream_id === undefined && isJsonObject(wu.upstream)) out.push([at, wu.upstream]);
  return out;
}

/** traffic-split's upstream_id references, by `<rule>/<index>`. */
export function splitUpstreamIds(plugins: unknown): [string, string][] {
  const out: [string, string][] = [];
  for (const [at, wu] of splitEntries(plugins)) if (wu.upstream_id !== undefined) out.push([at, idOf(wu.upstream_id)]);
  return out;
}

export type PluginProblem = { kind: 'unknown'; name: string } | { kind: 'not_object'; name: string; conf: string } | { kind: 'invalid'; name: string; reason: string };

/** Checks (and fills defaults into) every plugin conf of `plugins`; the first problem, or undefined. */
export function firstPluginProblem(reg: PluginRegistry, plugins: unknown): PluginProblem | undefined {
  if (!isJsonObject(plugins)) return undefined;
  for (const [name, raw] of Object.entries(plugins)) {
    // An empty [] conf is an empty Lua table, i.e. {} (kept as {} so the data plane always gets an object).
    const conf = Array.isArray(raw) && raw.length === 0 ? (plugins[name] = {}) : raw;
    const res = reg.checkConf(name, conf);
    if (!res.ok) return res.kind === 'unknown' ? { kind: 'unknown', name } : res.kind === 'not_object' ? { kind: 'not_object', name, conf: res.reason } : { kind: 'invalid', name, reason: res.reason };
  }
  for (const [at, up] of inlineSplitUpstreams(plugins)) {
    const err = check(upstreamSchema, up);
    if (err === undefined) continue;
    const [r, i] = at.split('/').map((n) => Number(n) + 1);
    return {
      kind: 'invalid', name: 'traffic-split',
      reason: `property "rules" validation failed: failed to validate item ${r}: property "weighted_upstreams" validation failed: failed to validate item ${i}: property "upstream" validation failed: ${err}`,
    };
  }
  return undefined;
}

/** The problem as the Admin API words it (for the builder's log). */
export function pluginProblem(reg: PluginRegistry, plugins: unknown): string | undefined {
  const p = firstPluginProblem(reg, plugins);
  if (p === undefined) return undefined;
  if (p.kind === 'unknown') return `unknown plugin [${p.name}]`;
  if (p.kind === 'not_object') return `invalid plugin conf ${p.conf} for plugin [${p.name}]`;
  return `failed to check the configuration of stream plugin [${p.name}]: ${p.reason}`;
}
