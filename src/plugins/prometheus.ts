// prometheus: the route's sessions are counted in apisix_stream_connection_total{route} (label: the route id, or
// its name with prefer_name), at the session's end as APISIX's log phase does. The exporter itself (every family of
// CONTRACT §5) listens on plugin_attr.prometheus.export_addr when the plugin is in stream_plugins.
import type { Plugin, PluginCounters } from './plugin.ts';

interface Counted {
  readonly label: string;
  readonly counters: PluginCounters;
}

export const prometheus: Plugin<{ prefer_name: boolean }, Counted> = {
  name: 'prometheus',
  priority: 500,
  schema: { type: 'object', properties: { prefer_name: { type: 'boolean', default: false } } },
  compile: (c, env, ctx) => ({ label: c.prefer_name && ctx.routeName !== undefined ? ctx.routeName : ctx.routeId, counters: env.counters }),
  log(c) {
    const m = c.counters.connectionTotal;
    m.set(c.label, (m.get(c.label) ?? 0) + 1);
  },
};
