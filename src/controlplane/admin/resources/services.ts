// /apisix/admin/services: APISIX's services.lua (the parts that matter to stream routes).
import { check } from '../../../lib/jsonschema.ts';
import { serviceSchema } from '../../schema/apisix.ts';
import type { JsonObject } from '../../store/store.ts';
import { adminError } from '../errors.ts';
import type { ResourceDef } from '../resource.ts';
import { checkPlugins, checkUpstream, idOf } from './checks.ts';
import { serviceNotForStreams } from '../../schema/l4-only.ts';

export const services: ResourceDef = {
  name: 'services',
  kind: 'service',
  validate: (conf) => check(serviceSchema, conf),
  async check(_id, svc, refs) {
    const l4 = serviceNotForStreams(svc);
    if (l4 !== undefined) throw adminError('INVALID_CONF', { reason: l4 });
    if (svc.upstream !== undefined) await checkUpstream(svc.upstream as JsonObject, refs);
    if (svc.upstream_id !== undefined) {
      const id = idOf(svc.upstream_id);
      if (!(await refs.exists('upstreams', id))) throw adminError('UPSTREAM_NOT_FOUND', { id });
    }
    await checkPlugins(svc, refs);
  },
  async deleteCheck(id, refs) {
    const routes = await refs.users('stream_routes', 'service_id', id);
    if (routes[0] !== undefined) throw adminError('SERVICE_IN_USE', { kind: 'stream_route', id: routes[0] });
  },
};
