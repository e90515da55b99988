// /apisix/admin/stream_routes: APISIX's stream_routes.lua, plus Sluice's remote_addrs, snis, tls_passthrough.
import { check } from '../../../lib/jsonschema.ts';
import { streamRouteSchema } from '../../schema/apisix.ts';
import type { JsonObject } from '../../store/store.ts';
import { adminError } from '../errors.ts';
import type { ResourceDef } from '../resource.ts';
import { checkAddr, checkPlugins, checkUpstream, idOf } from './checks.ts';

export const streamRoutes: ResourceDef = {
  name: 'stream_routes',
  kind: 'stream route',
  validate: (conf) => check(streamRouteSchema, conf),
  unsupportedMethods: ['PATCH'],
  requiresStream: true,
  listFilterFields: ['service_id', 'upstream_id'],
  async check(_id, route, refs) {
    if (route.upstream_id !== undefined) {
      const id = idOf(route.upstream_id);
      if (!(await refs.exists('upstreams', id))) throw adminError('UPSTREAM_NOT_FOUND', { id });
    }
    if (route.service_id !== undefined) {
      const id = idOf(route.service_id);
      if (!(await refs.exists('services', id))) throw adminError('SERVICE_NOT_FOUND', { id });
    }
    if (route.upstream !== undefined) await checkUpstream(route.upstream as JsonObject, refs);
    await checkPlugins(route, refs);
    checkAddr('remote_addr', route.remote_addr);
    checkAddr('server_addr', route.server_addr);
    // APISIX's xrpc.check_schema: Sluice implements no xRPC protocol, so every `protocol.name` is unknown there.
    const protocol = route.protocol;
    if (protocol !== null && typeof protocol === 'object' && !Array.isArray(protocol) && typeof protocol.name === 'string') {
      throw adminError('UNKNOWN_PROTOCOL', { name: protocol.name });
    }
    if (Array.isArray(route.remote_addrs)) for (const a of route.remote_addrs) checkAddr('remote_addrs', a);
    if (route.sni !== undefined && route.snis !== undefined) throw adminError('SNI_AND_SNIS');
  },
};
