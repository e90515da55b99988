// config.yaml keys APISIX has that Sluice does not act on (issue 14: no accepted key may be silently inert). The HTTP
// and Lua ones are warned about and ignored, like unknown nginx_config keys (CONTRACT §2), so an APISIX file still
// loads; the ones whose value would promise something Sluice does not do are refused, naming the key.
import { ALL_PLUGINS } from '../../plugins/index.ts';
import { ConfigError, formatPath } from './errors.ts';
import type { PathSeg } from './env-vars.ts';

/** apisix.* keys that only concern APISIX's HTTP proxy or its Lua runtime. */
const APISIX_HTTP_ONLY = [
  'node_listen', 'enable_http2', 'enable_server_tokens', 'show_upstream_status_in_response_header', 'extra_lua_path',
  'extra_lua_cpath', 'delete_uri_tail_slash', 'normalize_uri_like_servlet', 'router', 'lua_module_hook', 'events',
  'disable_sync_configuration_during_start',
];

type Raw = Record<string, unknown>;
const obj = (v: unknown): Raw => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Raw : {});

/** Warns about (in `warnings`) or refuses (ConfigError) the keys above; `line` finds a key's line. */
export function checkApisixKeys(raw: Raw, file: string, line: (segs: readonly PathSeg[]) => number, warnings: string[]): void {
  const refuse = (segs: PathSeg[], problem: string): never => { throw new ConfigError(file, line(segs), formatPath(segs), problem); };
  const warn = (segs: PathSeg[], why: string): void => { warnings.push(`${file}:${line(segs)}: ${formatPath(segs)}: ${why}, ignored`); };
  const apisix = obj(raw.apisix);
  for (const k of APISIX_HTTP_ONLY) if (apisix[k] !== undefined) warn(['apisix', k], 'an APISIX HTTP/Lua setting, not used by Sluice');
  if (apisix.enable_reuseport !== undefined && apisix.enable_reuseport !== true) {
    refuse(['apisix', 'enable_reuseport'], "Sluice's workers share every listener with SO_REUSEPORT; it cannot be turned off");
  }
  if (apisix.enable_resolv_search_opt !== undefined) {
    warn(['apisix', 'enable_resolv_search_opt'], "the system resolver applies resolv.conf's search list as it is; with apisix.dns_resolver names are looked up as written");
  }
  const admin = obj(obj(raw.deployment).admin);
  if (admin.https_admin !== undefined && admin.https_admin !== false) {
    refuse(['deployment', 'admin', 'https_admin'], 'HTTPS for the Admin API is not supported by Sluice; keep it on loopback, or put a TLS proxy in front of it');
  }
  if (admin.admin_ssl !== undefined) warn(['deployment', 'admin', 'admin_ssl'], 'only for https_admin, which Sluice does not support');
  if (raw.plugins !== undefined) warn(['plugins'], "APISIX's HTTP plugin list, not used by Sluice (its stream plugins are stream_plugins)");
  for (const k of Object.keys(obj(raw.plugin_attr))) if (k !== 'prometheus') warn(['plugin_attr', k], 'not used by Sluice');
  const known = ALL_PLUGINS.map((p) => p.name);
  const wanted = Array.isArray(raw.stream_plugins) ? raw.stream_plugins : [];
  wanted.forEach((name, i) => {
    if (typeof name === 'string' && !known.includes(name)) refuse(['stream_plugins', i], `unknown stream plugin "${name}" (Sluice has: ${known.join(', ')})`);
  });
}
