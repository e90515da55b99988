import { test, type TestContext } from 'node:test';
import { settleOnce, type SettleTimers } from './settle.ts';

/** Timers driven by hand: advance(ms) runs what is due. */
function manual(): SettleTimers & { advance(ms: number): void; pending(): number } {
  let now = 0;
  let next = 1;
  const due = new Map<number, { at: number; fn: () => void }>();
  return {
    setTimeout: (fn, ms) => { const id = next++; due.set(id, { at: now + ms, fn }); return id; },
    clearTimeout: (h) => { due.delete(h as number); },
    advance(ms) {
      now += ms;
      for (const [id, d] of [...due]) if (d.at <= now) { due.delete(id); d.fn(); }
    },
    pending: () => due.size,
  };
}

test('settleOnce: the first finish wins, the timer is cleared, cleanup runs once before it settles', async (t: TestContext) => {
  const timers = manual();
  const order: string[] = [];
  let first: ((v: string) => boolean) | undefined;
  const p = settleOnce(100, () => 'timeout', (o) => { first = (v) => o.finish(v); return () => order.push('cleanup'); }, { timers });
  t.assert.equal(first?.('a'), true);
  t.assert.equal(first?.('b'), false);
  t.assert.equal(await p, 'a');
  t.assert.deepStrictEqual(order, ['cleanup']);
  t.assert.equal(timers.pending(), 0);
});

test('settleOnce: the timeout answers, rearm gives a second step its own time, a synchronous finish still cleans up', async (t: TestContext) => {
  const timers = manual();
  const late = settleOnce(100, () => 'timed out', () => undefined, { timers });
  timers.advance(100);
  t.assert.equal(await late, 'timed out');

  const steps = settleOnce(100, () => 'connect timed out', (o) => { o.rearm(50, () => 'handshake timed out'); return undefined; }, { timers });
  timers.advance(60);
  t.assert.equal(await steps, 'handshake timed out');

  let cleaned = 0;
  const sync = settleOnce(100, () => 'no', (o) => { o.finish('at once'); return () => { cleaned++; }; }, { timers });
  t.assert.equal(await sync, 'at once');
  t.assert.equal(cleaned, 1);
  t.assert.equal(timers.pending(), 0);
});
