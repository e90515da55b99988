import { test, type TestContext } from 'node:test';
import { Worker } from 'node:worker_threads';
import { SharedCounts } from './shared-counts.ts';

test('counts per key up to max, then rejects; leaving frees a place', (t: TestContext) => {
  t.plan(6);
  const c = new SharedCounts(SharedCounts.create(64, 2), 2);
  t.assert.deepStrictEqual(c.incoming('a', 2, 0), { ok: true, count: 1 });
  t.assert.deepStrictEqual(c.incoming('a', 2, 1), { ok: true, count: 2 });
  t.assert.deepStrictEqual(c.incoming('a', 2, 0), { ok: false, why: 'rejected' });
  t.assert.deepStrictEqual(c.incoming('b', 2, 0), { ok: true, count: 1 });
  c.leaving('a', 1);
  t.assert.deepStrictEqual(c.incoming('a', 2, 0), { ok: true, count: 2 });
  t.assert.strictEqual(c.count('a'), 2);
});

test('a full table refuses new keys, and idle keys are evicted (counted) to make room', (t: TestContext) => {
  t.plan(5);
  const c = new SharedCounts(SharedCounts.create(4, 1), 1);
  for (const k of ['k1', 'k2', 'k3', 'k4']) c.incoming(k, 10, 0);
  t.assert.deepStrictEqual(c.incoming('k5', 10, 0), { ok: false, why: 'table_full' });
  t.assert.strictEqual(c.fullEvents, 1);
  c.leaving('k2', 0);
  t.assert.deepStrictEqual(c.incoming('k5', 10, 0), { ok: true, count: 1 });
  t.assert.strictEqual(c.evictions, 1);
  t.assert.strictEqual(c.count('k2'), 0);
});

test('a dead worker\'s sessions leave every key', (t: TestContext) => {
  t.plan(3);
  const c = new SharedCounts(SharedCounts.create(64, 2), 2);
  c.incoming('x', 9, 0);
  c.incoming('x', 9, 1);
  c.incoming('y', 9, 1);
  t.assert.strictEqual(c.releaseWorker(1), 2);
  t.assert.strictEqual(c.count('x'), 1);
  t.assert.strictEqual(c.count('y'), 0);
});

test('threads racing on one key never admit more than max', async (t: TestContext) => {
  t.plan(2);
  const buf = SharedCounts.create(256, 4);
  const src = `
    const { workerData, parentPort } = require('node:worker_threads');
    import(${JSON.stringify(new URL('./shared-counts.ts', import.meta.url).href)}).then(({ SharedCounts }) => {
      const c = new SharedCounts(workerData.buf, 4);
      let admitted = 0;
      for (let i = 0; i < 20000; i++) {
        const r = c.incoming('hot', 50, workerData.id);
        if (r.ok) { admitted++; if (r.count > 50) throw new Error('over max'); if (i % 2) { c.leaving('hot', workerData.id); admitted--; } }
      }
      parentPort.postMessage(admitted);
    });`;
  const held = await Promise.all([0, 1, 2, 3].map((id) => new Promise<number>((resolve, reject) => {
    const w = new Worker(src, { eval: true, workerData: { buf, id } });
    w.once('message', (n: number) => { resolve(n); void w.terminate(); });
    w.once('error', reject);
  })));
  const c = new SharedCounts(buf, 4);
  t.assert.strictEqual(c.count('hot'), held.reduce((a, b) => a + b, 0));
  t.assert.ok(c.count('hot') <= 50);
});
