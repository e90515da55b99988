// limit-conn: cap concurrent sessions per key (gateway-wide). Schema as APISIX's.
import type { Plugin } from './plugin.ts';

export const limitConn: Plugin = {
  name: 'limit-conn',
  priority: 1003,
  schema: {
    type: 'object',
    properties: {
      conn: { type: 'integer', exclusiveMinimum: 0 },
      burst: { type: 'integer', minimum: 0 },
      default_conn_delay: { type: 'number', exclusiveMinimum: 0 },
      only_use_default_delay: { type: 'boolean', default: false },
      key_type: { type: 'string', enum: ['var', 'var_combination'], default: 'var' },
      key: { type: 'string' },
      allow_degradation: { type: 'boolean', default: false },
    },
    required: ['conn', 'burst', 'default_conn_delay', 'key'],
  },
};
