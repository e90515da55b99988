// /apisix/admin/plugin_metadata/{plugin name}: APISIX's admin/plugin_metadata.lua — PUT, GET, DELETE (POST and PATCH
// unsupported); the id is the plugin's name, the body is checked against that plugin's metadata schema.
// Unlike APISIX, a plugin without a metadata schema is refused instead of getting an empty injected one: its
// metadata would be stored and do nothing (syslog's log_format is the one stream plugin metadata that acts).
import { check } from '../../../lib/jsonschema.ts';
import { adminError } from '../errors.ts';
import type { ResourceDef } from '../resource.ts';

export const pluginMetadata: ResourceDef = {
  name: 'plugin_metadata',
  kind: 'plugin_metadata',
  unsupportedMethods: ['POST', 'PATCH'],
  validate: (conf) => check({ type: 'object' }, conf),
  // eslint-disable-next-line @typescript-eslint/require-await -- the ResourceDef hook is async for reference look-ups
  async check(id, conf, refs) {
    const reg = refs.plugins();
    const { id: _id, create_time: _c, update_time: _u, ...body } = conf;
    const r = reg.checkMetadata(id, body);
    if (r.ok) {
      Object.assign(conf, body);
      return;
    }
    if (r.kind === 'unknown') throw adminError('INVALID_PLUGIN_NAME');
    throw adminError('SCHEMA_INVALID', { reason: `invalid configuration: ${r.reason}` });
  },
};
