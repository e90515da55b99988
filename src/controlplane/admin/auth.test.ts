import { test, type TestContext } from 'node:test';
import { AdminAuth, FREE_FAILURES } from './auth.ts';

const KEYS = [{ name: 'admin', key: 'a'.repeat(32), role: 'admin' as const }, { name: 'viewer', key: 'v'.repeat(32), role: 'viewer' as const }];

test('admin auth: finds the key equal to the token (any length, no prefix match)', (t: TestContext) => {
  const auth = new AdminAuth(KEYS);
  t.assert.equal(auth.find('a'.repeat(32))?.name, 'admin');
  t.assert.equal(auth.find('v'.repeat(32))?.name, 'viewer');
  for (const wrong of ['', 'a', 'a'.repeat(31), 'a'.repeat(33), 'x'.repeat(1000)]) t.assert.equal(auth.find(wrong), undefined);
  auth.setKeys([]);
  t.assert.equal(auth.find('a'.repeat(32)), undefined);
});

test('admin auth: the first wrong keys of an address go at once, the next wait 250 ms doubling to 5 s; a good key clears it', (t: TestContext) => {
  let now = 0;
  const auth = new AdminAuth(KEYS, () => now);
  const waits = Array.from({ length: FREE_FAILURES + 7 }, () => { const w = auth.failed('10.0.0.1'); if (w > 0) auth.done(); return w; });
  t.assert.deepStrictEqual(waits, [0, 0, 0, 0, 0, 250, 500, 1000, 2000, 4000, 5000, 5000]);
  t.assert.equal(auth.failed('10.0.0.2'), 0, 'another address is not slowed');
  auth.succeeded('10.0.0.1');
  t.assert.equal(auth.failed('10.0.0.1'), 0, 'after a good key the count starts again');
  // a minute without a wrong key forgets the count too
  for (let i = 0; i < FREE_FAILURES; i++) auth.failed('10.0.0.3');
  t.assert.ok(auth.failed('10.0.0.3') > 0);
  auth.done();
  now += 60_001;
  t.assert.equal(auth.failed('10.0.0.3'), 0);
  t.assert.deepStrictEqual(auth.counters(), { failedAtOnce: FREE_FAILURES + 1 + 1 + FREE_FAILURES + 1, failedDelayed: 7 + 1 });
});

test('admin auth: bounded — at most 4096 addresses tracked, at most 256 answers held back at once', (t: TestContext) => {
  const auth = new AdminAuth(KEYS, () => 0);
  for (let i = 0; i < 10_000; i++) auth.failed(`addr-${i}`);
  t.assert.equal(auth.tracked, 4096);
  const one = new AdminAuth(KEYS, () => 0);
  let held = 0;
  for (let i = 0; i < 1000; i++) if (one.failed('10.0.0.9') > 0) held++;
  t.assert.equal(held, 256, 'past 256 held answers the 401 goes out at once');
  one.done();
  t.assert.ok(one.failed('10.0.0.9') > 0, 'room again once one was sent');
});
