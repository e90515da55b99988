import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AccessRecord } from '../../observe/access-log.ts';
import { LABEL_CAP, LABEL_SEP, WorkerMetrics } from './metrics.ts';

const rec = (over: Partial<AccessRecord> = {}): AccessRecord => ({
  protocol: 'TCP', remoteAddr: '127.0.0.1', remotePort: 1, serverAddr: '127.0.0.1', serverPort: 9100, status: 200,
  bytesSent: 3, bytesReceived: 4, sessionTime: 0.01, upstreamAddr: '127.0.0.1:6379', routeId: '1', serviceId: undefined,
  sni: undefined, realipRemoteAddr: '127.0.0.1', mqttClientId: undefined, endReason: 'Done', endedAt: 0, ...over,
});
const extra = { connectionTotal: {}, refusals: {}, udpActive: 0, udpByListener: {}, syslogDropped: 0 };

test('ended sessions count by status/listener/node and by reason/route/protocol; bytes by listener', () => {
  const m = new WorkerMetrics();
  m.ended(rec(), 'L1');
  m.ended(rec(), 'L1');
  m.ended(rec({ status: 403, upstreamAddr: undefined, endReason: 'Forbidden', protocol: 'UDP', bytesSent: 0 }), 'L2');
  const s = m.snapshot(extra);
  const k = (...parts: string[]): string => parts.join(LABEL_SEP);
  assert.deepEqual(s.status, { [k('200', 'L1', '127.0.0.1:6379')]: 2, [k('403', 'L2', '')]: 1 });
  assert.deepEqual(s.sessions, { [k('Done', '1', 'tcp')]: 2, [k('Forbidden', '1', 'udp')]: 1 });
  assert.deepEqual(s.bytesToClients, { L1: 6 });
  assert.deepEqual(s.bytesFromClients, { L1: 8, L2: 4 });
  assert.equal(s.unlabelled, 0);
});

test('label sets are capped: past LABEL_CAP a new set is counted as unlabelled, known sets keep counting', () => {
  const m = new WorkerMetrics();
  for (let i = 0; i < LABEL_CAP + 5; i++) m.ended(rec({ routeId: `r${i}`, bytesSent: 0, bytesReceived: 0 }), 'L');
  m.ended(rec({ routeId: 'r0', bytesSent: 0, bytesReceived: 0 }), 'L');
  const s = m.snapshot(extra);
  assert.equal(Object.keys(s.sessions).length, LABEL_CAP);
  assert.equal(s.sessions[['Done', 'r0', 'tcp'].join(LABEL_SEP)], 2);
  assert.equal(s.unlabelled, 5);
});
