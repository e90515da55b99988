// GET /apisix/admin/plugins/list, /apisix/admin/plugins/{name} and /apisix/admin/plugins?all=true, as APISIX's
// admin/plugins.lua answers them. Sluice is L4 only: its http subsystem has no plugins (an empty list, 404 for a name);
// the stream subsystem is `stream_plugins` ∩ implemented, in priority order.
import type { AnyPlugin, PluginRegistry } from '../../plugins/plugin.ts';
import { adminError } from './errors.ts';
import type { HandlerResult } from './resource.ts';

/** What APISIX's get_all picks for `all=true` (version, priority, schema, metadata_schema; no consumer or scope here). */
function describe(p: AnyPlugin): Record<string, unknown> {
  return { version: 0.1, priority: p.priority, schema: p.schema, ...(p.metadataSchema !== undefined ? { metadata_schema: p.metadataSchema } : {}) };
}

/** `name` is segs[3] (undefined for /apisix/admin/plugins). */
export function pluginsAnswer(reg: PluginRegistry, name: string | undefined, params: URLSearchParams): HandlerResult {
  if (name === 'list') {
    const subsystem = params.get('subsystem') ?? 'http';
    if (subsystem === 'http') return { status: 200, body: [] };
    if (subsystem === 'stream') return { status: 200, body: reg.names() };
    throw adminError('INVALID_SUBSYSTEM');
  }
  const subsystem = params.get('subsystem') ?? 'http';
  if (subsystem !== 'http' && subsystem !== 'stream') throw adminError('UNSUPPORTED_SUBSYSTEM', { subsystem });
  if (params.get('all') === 'true') {
    return { status: 200, body: subsystem === 'stream' ? Object.fromEntries(reg.enabled.map((p) => [p.name, describe(p)])) : {} };
  }
  const plugin = subsystem === 'stream' && name !== undefined ? reg.get(name) : undefined;
  if (plugin === undefined) throw adminError('PLUGIN_NOT_FOUND', { subsystem });
  // schema_type=consumer: stream plugins have no consumer schema (APISIX: "not found schema")
  if (params.get('schema_type') === 'consumer') throw adminError('SCHEMA_NOT_FOUND');
  return { status: 200, body: plugin.schema };
}
