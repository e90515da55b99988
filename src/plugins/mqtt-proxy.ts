// mqtt-proxy: reads the client's MQTT CONNECT (3.1, 3.1.1, 5.0; lib/mqtt.ts) before the upstream is picked, checks
// its protocol name and level, and sets mqtt_client_id (the chash key `mqtt_client_id`; an empty client id leaves it
// unset, so chash falls back to remote_addr, as APISIX). The bytes read are relayed to the upstream unchanged.
// Anything else — not a CONNECT, malformed, another name or level, the client gone or silent past PREREAD_MS —
// ends the session with 503 (APISIX's status; end reason ProtocolMismatch). Schema as APISIX's: only protocol_level
// is required, protocol_name defaults to MQTT. MQTT runs over TCP: on a UDP session it refuses too.
import { MQTT_CONNECT_MAX, parseConnect } from '../lib/mqtt.ts';
import type { Logger } from '../observe/log.ts';
import type { Plugin } from './plugin.ts';

/** How long a client may take to send its CONNECT (nginx's preread_timeout default, which bounds APISIX's peek). */
export const MQTT_PREREAD_MS = 30_000;

interface Conf {
  protocol_name: string;
  protocol_level: number;
}

interface Check {
  readonly name: string;
  readonly level: number;
  readonly log: Logger;
}

export const mqttProxy: Plugin<Conf, Check> = {
  name: 'mqtt-proxy',
  priority: 1000,
  schema: {
    type: 'object',
    properties: {
      protocol_name: { type: 'string', default: 'MQTT' },
      protocol_level: { type: 'integer' },
    },
    required: ['protocol_level'],
  },
  compile: (c, env) => ({ name: c.protocol_name, level: c.protocol_level, log: env.log }),
  async preread(c, s) {
    const read = s.readClient((b) => parseConnect(b).kind !== 'need_more', MQTT_CONNECT_MAX, MQTT_PREREAD_MS);
    if (read === undefined) return { end: 'ProtocolMismatch' };
    const buf = await read;
    if (buf === undefined) return { end: 'ClientClosed' };
    const r = parseConnect(buf);
    if (r.kind !== 'ok') {
      c.log.debug({ route: s.routeId, client: s.remoteAddr, reason: r.kind === 'bad' ? r.reason : 'incomplete CONNECT' }, 'mqtt-proxy: failed to parse the CONNECT');
      return { end: 'ProtocolMismatch' };
    }
    if (r.protocolName !== c.name || r.protocolLevel !== c.level) {
      c.log.debug({ route: s.routeId, client: s.remoteAddr, got: `${r.protocolName}/${r.protocolLevel}`, want: `${c.name}/${c.level}` }, 'mqtt-proxy: unexpected protocol name or level');
      return { end: 'ProtocolMismatch' };
    }
    if (r.clientId !== '') s.setMqttClientId(r.clientId);
    return 'continue';
  },
};
