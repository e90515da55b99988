// /apisix/admin/upstreams: APISIX's upstreams.lua. Unlike APISIX, a DELETE also checks stream routes.
import { check } from '../../../lib/jsonschema.ts';
import { upstreamSchema } from '../../schema/apisix.ts';
import { adminError } from '../errors.ts';
import type { ResourceDef } from '../resource.ts';
import { checkUpstream } from './checks.ts';

export const upstreams: ResourceDef = {
  name: 'upstreams',
  kind: 'upstream',
  validate: (conf) => check(upstreamSchema, conf),
  check: (_id, up, refs) => checkUpstream(up, refs),
  async deleteCheck(id, refs) {
    const routes = await refs.users('stream_routes', 'upstream_id', id);
    if (routes[0] !== undefined) throw adminError('UPSTREAM_IN_USE', { kind: 'stream_route', id: routes[0] });
    const services = await refs.users('services', 'upstream_id', id);
    if (services[0] !== undefined) throw adminError('UPSTREAM_IN_USE', { kind: 'service', id: services[0] });
  },
};
