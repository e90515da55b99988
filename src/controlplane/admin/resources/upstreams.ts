// /apisix/admin/upstreams: APISIX's upstreams.lua. Unlike APISIX, a DELETE also checks stream routes (their
// upstream_id and their traffic-split references).
import { check } from '../../../lib/jsonschema.ts';
import { upstreamSchema } from '../../schema/apisix.ts';
import { adminError } from '../errors.ts';
import type { ResourceDef } from '../resource.ts';
import { checkUpstream } from './checks.ts';
import { splitUpstreamIds } from '../../plugin-confs.ts';

export const upstreams: ResourceDef = {
  name: 'upstreams',
  kind: 'upstream',
  validate: (conf) => check(upstreamSchema, conf),
  check: (_id, up, refs) => checkUpstream(up, refs),
  async deleteCheck(id, refs) {
    // APISIX's order: a plugin's reference (traffic-split upstream_id) is reported before a direct one
    for (const kind of ['stream_routes', 'services'] as const) {
      for (const [owner, value] of await refs.all(kind)) {
        if (splitUpstreamIds(value.plugins).some(([, u]) => u === id)) throw adminError('UPSTREAM_IN_PLUGIN', { kind: kind === 'services' ? 'service' : 'stream_route', id: owner });
      }
    }
    const routes = await refs.users('stream_routes', 'upstream_id', id);
    if (routes[0] !== undefined) throw adminError('UPSTREAM_IN_USE', { kind: 'stream_route', id: routes[0] });
    const services = await refs.users('services', 'upstream_id', id);
    if (services[0] !== undefined) throw adminError('UPSTREAM_IN_USE', { kind: 'service', id: services[0] });
  },
};
