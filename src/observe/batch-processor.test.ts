// The batch processor against APISIX's t/utils/batch-processor.t cases, on a fake clock: each test moves time by
// hand and waits for the flush calls it expects (every wait bounded), never for time to pass.
import { test, type TestContext } from 'node:test';
import { BatchProcessor, REAL_CLOCK, type BatchConf, type Clock, type FlushResult } from './batch-processor.ts';

interface FakeTimer { at: number; seq: number; fn: () => void; keepAlive: boolean }

class FakeClock implements Clock {
  t = 0;
  #seq = 0;
  readonly timers = new Set<FakeTimer>();
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number, keepAlive: boolean): unknown {
    const h: FakeTimer = { at: this.t + ms, seq: this.#seq++, fn, keepAlive };
    this.timers.add(h);
    return h;
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as FakeTimer);
  }
  /** Moves time forward by `ms`, firing due timers in order (each at its own time). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: FakeTimer | undefined;
      for (const h of this.timers) if (h.at <= end && (next === undefined || h.at < next.at || (h.at === next.at && h.seq < next.seq))) next = h;
      if (next === undefined) break;
      this.timers.delete(next);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = end;
  }
}

/** In a Recorder script: the call is answered later, through `held`. */
const HOLD = Symbol('hold');

/** A flush function that records each call and answers from `script` (then `true`); `until(n)` waits for calls. */
class Recorder {
  readonly calls: string[][] = [];
  readonly #script: (FlushResult | typeof HOLD)[];
  readonly #waiters: (() => void)[] = [];
  readonly held: ((r: FlushResult) => void)[] = [];
  constructor(script: (FlushResult | typeof HOLD)[] = []) {
    this.#script = script;
  }
  readonly flush = (entries: readonly string[]): Promise<FlushResult> => {
    this.calls.push([...entries]);
    for (const w of this.#waiters.splice(0)) w();
    const r = this.#script.shift() ?? true;
    if (r === HOLD) return new Promise((resolve) => this.held.push(resolve));
    return Promise.resolve(r);
  };
  /** Resolves once `n` calls were made in all (rejects after 2 s). */
  async until(n: number): Promise<string[][]> {
    const deadline = performance.now() + 2000;
    while (this.calls.length < n) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`expected ${n} flush calls, saw ${this.calls.length}: ${JSON.stringify(this.calls)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
    return this.calls;
  }
}

/** Lets queued setImmediate callbacks and promise continuations run (the processor starts flushes from setImmediate). */
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

const conf = (over: Partial<BatchConf> = {}): BatchConf => ({
  name: 'log buffer', batch_max_size: 1000, inactive_timeout: 5, buffer_duration: 60, max_retry_count: 0, retry_delay: 1, ...over,
});

test('batch_max_size: a full buffer goes at once, in order, without a timer firing (APISIX TEST 7, 10)', async (t: TestContext) => {
  t.plan(2);
  const clock = new FakeClock();
  const rec = new Recorder();
  const bp = new BatchProcessor(conf({ batch_max_size: 2, max_retry_count: 2, retry_delay: 0 }), rec.flush, { clock });
  for (const m of ['1', '2', '3', '4']) bp.push(m);
  t.assert.deepStrictEqual(await rec.until(2), [['1', '2'], ['3', '4']]);
  await turn();
  t.assert.deepStrictEqual(bp.stats(), { pushed: 4, processed: 4, failed: 0, dropped: 0, pending: 0, pendingWeight: 0 });
});

test('batch_max_size 1: each entry goes on its own', async (t: TestContext) => {
  t.plan(1);
  const rec = new Recorder();
  const bp = new BatchProcessor(conf({ batch_max_size: 1 }), rec.flush, { clock: new FakeClock() });
  bp.push('a');
  bp.push('b');
  t.assert.deepStrictEqual(await rec.until(2), [['a'], ['b']]);
});

test('inactive_timeout: the buffer goes when no entry came for that long, and not a millisecond before', async (t: TestContext) => {
  t.plan(4);
  const clock = new FakeClock();
  const rec = new Recorder();
  const bp = new BatchProcessor(conf({ batch_max_size: 3, inactive_timeout: 1, max_retry_count: 1, retry_delay: 0 }), rec.flush, { clock });
  // APISIX TEST 11: one entry, 300 ms later three more: [1,2,3] goes full, [4] one second after its push
  bp.push('1');
  clock.advance(300);
  bp.push('2');
  bp.push('3');
  bp.push('4');
  t.assert.deepStrictEqual(await rec.until(1), [['1', '2', '3']]);
  clock.advance(999);
  await turn();
  t.assert.strictEqual(rec.calls.length, 1, 'at 999 ms of inactivity the buffer waits (the cut would have queued a flush before this turn)');
  clock.advance(1);
  t.assert.deepStrictEqual(await rec.until(2), [['1', '2', '3'], ['4']]);
  t.assert.strictEqual(clock.t, 1300);
});

test('buffer_duration: a buffer that keeps getting entries goes buffer_duration after its first one', async (t: TestContext) => {
  t.plan(3);
  const clock = new FakeClock();
  const rec = new Recorder();
  const bp = new BatchProcessor(conf({ inactive_timeout: 2, buffer_duration: 10 }), rec.flush, { clock });
  for (let i = 0; i < 10; i++) {
    bp.push(String(i));
    clock.advance(1000); // one a second: never inactive for 2 s
  }
  // the buffer was cut at t=10 s, just before the loop would have pushed an 11th
  const calls = await rec.until(1);
  t.assert.deepStrictEqual(calls[0], ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  t.assert.strictEqual(clock.t, 10_000);
  t.assert.ok(clock.timers.size === 0, 'no timer left once the buffer is empty');
});

test('push arms one timer for a buffer, however many entries come (O(1): no timer churn per entry)', (t: TestContext) => {
  t.plan(2);
  const clock = new FakeClock();
  const bp = new BatchProcessor(conf(), new Recorder().flush, { clock });
  for (let i = 0; i < 500; i++) bp.push(String(i));
  t.assert.strictEqual(clock.timers.size, 1);
  t.assert.deepStrictEqual([...clock.timers].map((h) => [h.at, h.keepAlive]), [[5000, false]], 'unref\'d, due at inactive_timeout');
});

test('retries: a failed batch is retried after retry_delay, at most max_retry_count times, then dropped (APISIX TEST 5, 6, 8)', async (t: TestContext) => {
  t.plan(7);
  const errors: string[] = [];
  // first fails, second try succeeds
  {
    const clock = new FakeClock();
    const rec = new Recorder(['boom']);
    const bp = new BatchProcessor(conf({ batch_max_size: 2, max_retry_count: 2, retry_delay: 1 }), rec.flush, { clock, onError: (m) => errors.push(m) });
    bp.push('a');
    bp.push('b');
    await rec.until(1);
    await turn();
    clock.advance(999);
    await turn();
    t.assert.strictEqual(rec.calls.length, 1, 'the retry waits retry_delay');
    clock.advance(1);
    t.assert.deepStrictEqual(await rec.until(2), [['a', 'b'], ['a', 'b']]);
    await turn();
    t.assert.deepStrictEqual([bp.stats().processed, bp.stats().failed], [2, 0]);
  }
  // always fails: 1 + max_retry_count calls, then the entries are counted as failed
  {
    const clock = new FakeClock();
    const rec = new Recorder(['no', 'no', 'no', 'no']);
    const bp = new BatchProcessor(conf({ batch_max_size: 2, max_retry_count: 2, retry_delay: 0 }), rec.flush, { clock, onError: (m) => errors.push(m) });
    bp.push('a');
    bp.push('b');
    for (let n = 1; n <= 3; n++) {
      await rec.until(n);
      await turn();
      clock.advance(0);
    }
    await turn();
    t.assert.strictEqual(rec.calls.length, 3);
    t.assert.deepStrictEqual(bp.stats(), { pushed: 2, processed: 0, failed: 2, dropped: 0, pending: 0, pendingWeight: 0 });
  }
  t.assert.strictEqual(errors[0], 'Batch Processor[log buffer] failed to process entries: boom');
  t.assert.strictEqual(errors.at(-1), 'Batch Processor[log buffer] exceeded the max_retry_count[3] dropping the entries');
});

test('partly consumed batches resume after the consumed entries (APISIX TEST 12)', async (t: TestContext) => {
  t.plan(3);
  const clock = new FakeClock();
  const errors: string[] = [];
  const part = { error: 'error after consuming single entry', done: 1 };
  const rec = new Recorder([part, part, part]);
  const bp = new BatchProcessor(conf({ batch_max_size: 3, max_retry_count: 1, retry_delay: 0 }), rec.flush, { clock, onError: (m) => errors.push(m) });
  for (const m of ['1', '2', '3', '4']) bp.push(m);
  await rec.until(1);
  await turn();
  clock.advance(0); // the retry of [2,3]
  await rec.until(2);
  await turn();
  clock.advance(5000); // [4] goes on inactivity
  t.assert.deepStrictEqual(await rec.until(3), [['1', '2', '3'], ['2', '3'], ['4']]);
  await turn();
  t.assert.deepStrictEqual([bp.stats().processed, bp.stats().failed, bp.stats().pending], [3, 1, 0]);
  t.assert.strictEqual(errors[0], 'Batch Processor[log buffer] failed to process entries [2/3]: error after consuming single entry');
});

test('a flush that throws or rejects is a failed flush, not an exception out of push()', async (t: TestContext) => {
  t.plan(2);
  const errors: string[] = [];
  let n = 0;
  const bp = new BatchProcessor(conf({ batch_max_size: 1 }), (): Promise<FlushResult> => {
    n++;
    if (n === 1) throw new Error('sync throw');
    return Promise.reject(new Error('rejected'));
  }, { clock: new FakeClock(), onError: (m) => errors.push(m) });
  bp.push('a');
  bp.push('b');
  const deadline = performance.now() + 2000;
  while (bp.stats().failed < 2 && performance.now() < deadline) await turn();
  t.assert.strictEqual(bp.stats().failed, 2);
  t.assert.deepStrictEqual(errors.filter((e) => e.includes('failed to process')), [
    'Batch Processor[log buffer] failed to process entries: sync throw', 'Batch Processor[log buffer] failed to process entries: rejected',
  ]);
});

test('bounded: past max_pending_entries or the weight cap an entry is refused and counted; room comes back as batches end', async (t: TestContext) => {
  t.plan(5);
  const rec = new Recorder([HOLD]);
  const bp = new BatchProcessor(conf({ batch_max_size: 2 }), rec.flush, { clock: new FakeClock(), maxPendingEntries: 3 });
  t.assert.deepStrictEqual(['a', 'b', 'c', 'd'].map((m) => bp.push(m)), [true, true, true, false]);
  await rec.until(1);
  rec.held[0]?.(true); // [a, b] done: two places free
  const deadline = performance.now() + 2000;
  while (bp.stats().pending > 1 && performance.now() < deadline) await turn();
  t.assert.deepStrictEqual([bp.push('e'), bp.push('f'), bp.push('g')], [true, true, false]);
  t.assert.strictEqual(bp.stats().dropped, 2);

  const weighed = new BatchProcessor(conf(), new Recorder().flush, { clock: new FakeClock(), maxPendingWeight: 10, weigh: (s: string) => s.length });
  t.assert.deepStrictEqual(['aaaa', 'bbbb', 'cc', 'd'].map((m) => weighed.push(m)), [true, true, true, false], 'weight 4+4+2 = 10 fits, one more does not');
  t.assert.deepStrictEqual([weighed.stats().pending, weighed.stats().pendingWeight, weighed.stats().dropped], [3, 10, 1]);
});

test('maxInFlight: at most that many flushes at once; the next batch starts when one ends', async (t: TestContext) => {
  t.plan(3);
  const rec = new Recorder([HOLD, HOLD, HOLD]);
  const bp = new BatchProcessor(conf({ batch_max_size: 1 }), rec.flush, { clock: new FakeClock(), maxInFlight: 2 });
  for (const m of ['a', 'b', 'c']) bp.push(m);
  await rec.until(2);
  await turn();
  t.assert.strictEqual(rec.calls.length, 2, 'the third batch waits for a slot');
  rec.held[0]?.(true);
  t.assert.deepStrictEqual(await rec.until(3), [['a'], ['b'], ['c']]);
  rec.held[1]?.(true);
  rec.held[2]?.(true);
  const deadline = performance.now() + 2000;
  while (bp.stats().processed < 3 && performance.now() < deadline) await turn();
  t.assert.strictEqual(bp.stats().processed, 3);
});

test('close(): the buffer goes at once, a retry skips its delay, later pushes are refused', async (t: TestContext) => {
  t.plan(4);
  const clock = new FakeClock();
  const rec = new Recorder(['fail once']);
  const bp = new BatchProcessor(conf({ batch_max_size: 2, max_retry_count: 1, retry_delay: 60 }), rec.flush, { clock });
  bp.push('a');
  bp.push('b'); // goes, fails, waits 60 s for its retry
  bp.push('c'); // sits in the buffer for inactive_timeout
  await rec.until(1);
  await turn();
  await bp.close(1000);
  t.assert.deepStrictEqual(rec.calls, [['a', 'b'], ['a', 'b'], ['c']], 'the older batch first');
  t.assert.strictEqual(clock.t, 0, 'no time had to pass');
  t.assert.strictEqual(bp.push('d'), false);
  t.assert.deepStrictEqual(bp.stats(), { pushed: 3, processed: 3, failed: 0, dropped: 1, pending: 0, pendingWeight: 0 });
});

test('close() is bounded: what is still queued fails at the bound, abort is called, a flush that never ends is abandoned', async (t: TestContext) => {
  t.plan(4);
  const clock = new FakeClock();
  const rec = new Recorder([HOLD]);
  const bp = new BatchProcessor(conf({ batch_max_size: 1 }), rec.flush, { clock });
  bp.push('stuck');
  bp.push('queued');
  await rec.until(1);
  let aborted = 0;
  const closed = bp.close(500, () => { aborted++; });
  await turn();
  const [bound] = [...clock.timers];
  t.assert.strictEqual(bound?.keepAlive, true, 'the close bound keeps the process alive until close() resolves');
  clock.advance(500); // first bound: 'queued' fails, abort()
  await turn();
  clock.advance(500); // second bound: 'stuck' is abandoned
  await closed;
  t.assert.strictEqual(aborted, 1);
  t.assert.deepStrictEqual([bp.stats().failed, bp.stats().pending], [2, 0]);
  rec.held[0]?.(true); // a late answer changes nothing
  await turn();
  t.assert.strictEqual(bp.stats().processed, 0);
});

test('the real clock: timers are unref\'d (a quiet buffer does not keep the process alive) and the inactive flush happens', async (t: TestContext) => {
  t.plan(2);
  const rec = new Recorder();
  const flags: boolean[] = [];
  const spy: Clock = {
    now: REAL_CLOCK.now,
    setTimeout: (fn, ms, keepAlive) => { flags.push(keepAlive); return REAL_CLOCK.setTimeout(fn, ms, keepAlive); },
    clearTimeout: REAL_CLOCK.clearTimeout,
  };
  const bp = new BatchProcessor(conf({ inactive_timeout: 1 }), rec.flush, { clock: spy });
  bp.push('x');
  t.assert.deepStrictEqual(await rec.until(1), [['x']]);
  t.assert.ok(flags.length > 0 && flags.every((k) => !k), `every timer unref'd: ${JSON.stringify(flags)}`);
});
