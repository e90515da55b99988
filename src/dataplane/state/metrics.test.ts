import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LABEL_CAP, LABEL_SEP, WorkerMetrics, type SessionEnded } from './metrics.ts';

const end = (over: Partial<SessionEnded> = {}): SessionEnded => ({
  listener: 'L1', status: 200, node: '127.0.0.1:6379', route: '1', reason: 'Done', protocol: 'tcp', toClient: 3, fromClient: 4, ...over,
});
const extra = { connectionTotal: {}, refusals: {}, udpActive: 0, udpByListener: {}, syslogDropped: 0 };

test('ended sessions count by status/listener/node and by reason/route/protocol; bytes by listener', () => {
  const m = new WorkerMetrics();
  m.ended(end());
  m.ended(end());
  m.ended(end({ listener: 'L2', status: 403, node: undefined, reason: 'Forbidden', protocol: 'udp', toClient: 0 }));
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
  for (let i = 0; i < LABEL_CAP + 5; i++) m.ended(end({ listener: 'L', route: `r${i}`, toClient: 0, fromClient: 0 }));
  m.ended(end({ listener: 'L', route: 'r0', toClient: 0, fromClient: 0 }));
  const s = m.snapshot(extra);
  assert.equal(Object.keys(s.sessions).length, LABEL_CAP);
  assert.equal(s.sessions[['Done', 'r0', 'tcp'].join(LABEL_SEP)], 2);
  assert.equal(s.unlabelled, 5);
});
