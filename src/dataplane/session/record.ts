// The record of an ended session — one shape for TCP and UDP — that the access log, the plugins' log hooks and the
// counters read.
import type { AccessRecord } from '../../observe/access-log.ts';
import { STATUS, type EndReason } from './end.ts';
import type { Session } from './session.ts';

/** A TCP session's status: a refusing plugin's own (limit-conn's rejected_code), else its end reason's. */
export function sessionStatus(s: Session, reason: EndReason): number {
  return s.plugins?.status ?? STATUS[reason];
}

export function tcpRecord(s: Session, reason: EndReason, now: number): AccessRecord {
  return {
    protocol: 'TCP', remoteAddr: s.remoteAddr, remotePort: s.remotePort, serverAddr: s.serverAddr, serverPort: s.serverPort,
    status: sessionStatus(s, reason), bytesSent: s.bytesToClient, bytesReceived: s.bytesFromClient,
    sessionTime: (now - s.startedAt) / 1000, upstreamAddr: s.node?.addr, routeId: s.route?.id, serviceId: s.route?.conf.serviceId,
    sni: s.sni, realipRemoteAddr: s.peerAddr, mqttClientId: s.mqttClientId, endReason: reason, endedAt: Date.now(),
  };
}

export interface UdpEnd {
  readonly clientAddr: string;
  readonly clientPort: number;
  readonly serverAddr: string;
  readonly serverPort: number;
  readonly routeId: string | undefined;
  readonly serviceId: string | undefined;
  readonly upstreamAddr: string | undefined;
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
  readonly startedAt: number;
}

/** `status`: a refusing plugin's own (limit-conn's rejected_code), else the end reason's. */
export function udpRecord(u: UdpEnd, reason: EndReason, now: number, status?: number): AccessRecord {
  return {
    protocol: 'UDP', remoteAddr: u.clientAddr, remotePort: u.clientPort, serverAddr: u.serverAddr, serverPort: u.serverPort,
    status: status ?? STATUS[reason], bytesSent: u.bytesToClient, bytesReceived: u.bytesFromClient, sessionTime: (now - u.startedAt) / 1000,
    upstreamAddr: u.upstreamAddr, routeId: u.routeId, serviceId: u.serviceId, sni: undefined, realipRemoteAddr: u.clientAddr,
    mqttClientId: undefined, endReason: reason, endedAt: Date.now(),
  };
}
