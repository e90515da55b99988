// prometheus: count stream metrics per session. Schema as APISIX's.
import type { Plugin } from './plugin.ts';

export const prometheus: Plugin = {
  name: 'prometheus',
  priority: 500,
  schema: { type: 'object', properties: { prefer_name: { type: 'boolean', default: false } } },
};
