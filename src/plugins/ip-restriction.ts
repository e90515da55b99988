// ip-restriction: allow (whitelist) or deny (blacklist) client CIDRs. Schema as APISIX's stream plugin.
import type { Schema } from '../lib/jsonschema.ts';
import type { Plugin } from './plugin.ts';

const ipOrCidr: Schema = {
  type: 'string',
  anyOf: [
    { type: 'string', format: 'ipv4' },
    { type: 'string', pattern: '^([0-9]{1,3}\\.){3}[0-9]{1,3}/([12]?[0-9]|3[0-2])$' },
    { type: 'string', format: 'ipv6' },
    { type: 'string', pattern: '^([a-fA-F0-9]{0,4}:){1,8}(:[a-fA-F0-9]{0,4}){0,8}([a-fA-F0-9]{0,4})?/[0-9]{1,3}$' },
  ],
};

export const ipRestriction: Plugin = {
  name: 'ip-restriction',
  priority: 3000,
  schema: {
    type: 'object',
    properties: {
      message: { type: 'string', minLength: 1, maxLength: 1024, default: 'Your IP address is not allowed' },
      whitelist: { type: 'array', items: ipOrCidr, minItems: 1 },
      blacklist: { type: 'array', items: ipOrCidr, minItems: 1 },
    },
    oneOf: [{ required: ['whitelist'] }, { required: ['blacklist'] }],
  },
};
