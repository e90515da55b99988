// traffic-split: weighted choice between upstreams. Schema as APISIX's (stream subset: no HTTP match rules).
import type { Plugin } from './plugin.ts';

export const trafficSplit: Plugin = {
  name: 'traffic-split',
  priority: 966,
  schema: {
    type: 'object',
    properties: {
      rules: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            match: { type: 'array' },
            weighted_upstreams: {
              type: 'array',
              minItems: 1,
              items: {
                type: 'object',
                properties: {
                  upstream_id: { anyOf: [{ type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-_.]+$' }, { type: 'integer', minimum: 1 }] },
                  upstream: { type: 'object' },
                  weight: { type: 'integer', minimum: 0, default: 1 },
                },
              },
            },
          },
        },
      },
    },
  },
};
