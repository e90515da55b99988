// Session variables (CONTRACT §6) while a session is being set up — what limit-conn's key and traffic-split's vars
// read in the preread phase, for TCP and UDP alike. After the session ends, its record answers instead
// (observe/access-log.ts recordVariable). Variables that have no value yet are undefined.
import { timeLocal } from '../../observe/access-log.ts';

/** What both the TCP Session and a UDP session being opened expose. */
export interface LiveVars {
  readonly protocol: 'TCP' | 'UDP';
  readonly remoteAddr: string;
  readonly remotePort: number;
  readonly peerAddr: string;
  readonly serverAddr: string;
  readonly serverPort: number;
  readonly routeId: string | undefined;
  readonly serviceId: string | undefined;
  readonly sni: string | undefined;
  readonly mqttClientId: string | undefined;
}

export function liveVariable(v: LiveVars, name: string): string | undefined {
  switch (name) {
    case 'remote_addr': return v.remoteAddr;
    case 'remote_port': return String(v.remotePort);
    case 'realip_remote_addr': return v.peerAddr;
    case 'server_addr': return v.serverAddr;
    case 'server_port': return String(v.serverPort);
    case 'protocol': return v.protocol;
    case 'route_id': return v.routeId;
    case 'service_id': return v.serviceId;
    case 'ssl_server_name': return v.sni;
    case 'mqtt_client_id': return v.mqttClientId;
    case 'time_local': return timeLocal(Date.now());
    case 'time_iso8601': return new Date().toISOString().replace(/\.\d{3}Z$/, '+00:00');
    case 'msec': return (Date.now() / 1000).toFixed(3);
    default: return undefined;
  }
}
