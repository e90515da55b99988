// Semantic checks shared by resources, run after the schema (APISIX: upstream.lua check_upstream_conf,
// stream/router/ip_port.lua stream_route_checker, plugin.lua stream_check_schema).
import { compileCidr } from '../../../lib/ip.ts';
import { CHASH_VAR_KEY } from '../../schema/apisix.ts';
import { isJsonObject, type JsonObject } from '../../store/store.ts';
import { idOf, splitNodeKey } from '../../../lib/addr.ts';
import { adminError } from '../errors.ts';
import type { Refs } from '../refs.ts';
import { checkPair } from './ssls.ts';
import { firstPluginProblem, inlineSplitUpstreams, splitUpstreamIds } from '../../plugin-confs.ts';
import { upstreamNotForStreams } from '../../schema/l4-only.ts';

export { idOf };

export async function checkUpstream(up: JsonObject, refs: Refs): Promise<void> {
  const l4 = upstreamNotForStreams(up);
  if (l4 !== undefined) throw adminError('INVALID_CONF', { reason: l4 });
  const nodes = up.nodes;
  if (isJsonObject(nodes)) {
    for (const key of Object.keys(nodes)) {
      const parsed = splitNodeKey(key);
      if (parsed === undefined) throw adminError('INVALID_NODE', { node: key });
      if (parsed.port !== undefined && (parsed.port < 1 || parsed.port > 65535)) throw adminError('INVALID_PORT', { port: parsed.port });
    }
  }
  if (up.type === 'chash') {
    const hashOn = typeof up.hash_on === 'string' ? up.hash_on : 'vars';
    if (hashOn !== 'consumer' && (typeof up.key !== 'string' || up.key === '')) throw adminError('CHASH_MISSING_KEY');
    if (hashOn === 'vars' && typeof up.key === 'string' && !CHASH_VAR_KEY.test(up.key)) {
      throw adminError('INVALID_CONF', { reason: `failed to match pattern "${CHASH_VAR_KEY.source.replace(/\\/g, '\\\\')}" with "${up.key}"` });
    }
  }
  const tls = up.tls;
  if (isJsonObject(tls) && typeof tls.client_cert === 'string' && typeof tls.client_key === 'string') {
    checkPair(tls.client_cert, tls.client_key, refs.keyring(), { cert: 'tls.client_cert', key: 'tls.client_key' });
  }
  if (isJsonObject(tls) && tls.client_cert_id !== undefined && tls.client_cert_id !== null) {
    const id = idOf(tls.client_cert_id);
    const ssl = await refs.get('ssls', id);
    if (ssl === undefined) throw adminError('SSL_NOT_FOUND', { id });
    if (ssl.type !== 'client') throw adminError('SSL_WRONG_TYPE', { id });
  }
}

export async function checkPlugins(conf: JsonObject, refs: Refs): Promise<void> {
  const p = firstPluginProblem(refs.plugins(), conf.plugins);
  if (p !== undefined) {
    if (p.kind === 'unknown') throw adminError('UNKNOWN_PLUGIN', { name: p.name });
    if (p.kind === 'not_object') throw adminError('PLUGIN_CONF_TYPE', { name: p.name, conf: p.conf });
    throw adminError('PLUGIN_CONF', { name: p.name, reason: p.reason });
  }
  // traffic-split: inline upstreams get the upstream checks, upstream_id references must exist
  for (const [, up] of inlineSplitUpstreams(conf.plugins)) await checkUpstream(up, refs);
  for (const [, id] of splitUpstreamIds(conf.plugins)) {
    if (!(await refs.exists('upstreams', id))) throw adminError('UPSTREAM_NOT_FOUND', { id });
  }
}

export function checkAddr(field: string, v: unknown): void {
  if (typeof v === 'string' && compileCidr(v) === undefined) throw adminError('INVALID_ADDR', { field, addr: v });
}
