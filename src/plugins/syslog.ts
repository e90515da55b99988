// syslog: ship session records to a syslog server. Schema as APISIX's stream syslog.
import type { Plugin } from './plugin.ts';

export const syslog: Plugin = {
  name: 'syslog',
  priority: 401,
  schema: {
    type: 'object',
    properties: {
      host: { type: 'string' },
      port: { type: 'integer' },
      flush_limit: { type: 'integer', minimum: 1, default: 4096 },
      drop_limit: { type: 'integer', default: 1048576 },
      timeout: { type: 'integer', minimum: 1, default: 3000 },
      sock_type: { type: 'string', default: 'tcp', enum: ['tcp', 'udp'] },
      pool_size: { type: 'integer', minimum: 5, default: 5 },
      tls: { type: 'boolean', default: false },
      log_format: { type: 'object' },
    },
    required: ['host', 'port'],
  },
};
