// mqtt-proxy: read the MQTT CONNECT packet for the client id (chash key mqtt_client_id). Schema as APISIX's.
import type { Plugin } from './plugin.ts';

export const mqttProxy: Plugin = {
  name: 'mqtt-proxy',
  priority: 1000,
  schema: {
    type: 'object',
    properties: {
      protocol_name: { type: 'string' },
      protocol_level: { type: 'integer' },
    },
    required: ['protocol_name', 'protocol_level'],
  },
};
