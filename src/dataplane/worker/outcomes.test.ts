// The worker's batching of connect outcomes for passive health: one message per batch, pairs in order, capped.
import { test, type TestContext } from 'node:test';
import { OUTCOME_CODE } from '../../model/messages.ts';
import type { UpstreamNode } from '../balancers/balancer.ts';
import { OutcomeBatcher } from './outcomes.ts';

const node = (slot: number): UpstreamNode => ({ slot }) as UpstreamNode;

/** The batcher and the batches it sent; `next()` waits for the next one (bounded). */
function batcher(): { b: OutcomeBatcher; next: () => Promise<number[]> } {
  const sent: number[][] = [];
  let wake: (() => void) | undefined;
  const b = new OutcomeBatcher((pairs) => { sent.push(pairs); wake?.(); });
  const next = (): Promise<number[]> => new Promise((resolve, reject) => {
    const take = (): void => { clearTimeout(timer); resolve(sent.shift() as number[]); };
    const timer = setTimeout(() => reject(new Error('no batch within 2 s')), 2000);
    if (sent.length > 0) take();
    else wake = take;
  });
  return { b, next };
}

test('outcomes: reported together in one batch, as (slot, code) pairs in order; a later one starts the next batch', async (t: TestContext) => {
  const { b, next } = batcher();
  b.report(node(3), 'ok');
  b.report(node(7), 'failed');
  b.report(node(3), 'timeout');
  t.assert.deepStrictEqual(await next(), [3, OUTCOME_CODE.ok, 7, OUTCOME_CODE.failed, 3, OUTCOME_CODE.timeout]);
  b.report(node(9), 'ok');
  t.assert.deepStrictEqual(await next(), [9, OUTCOME_CODE.ok]);
});

test('outcomes: a batch is capped at 20,000 outcomes; the rest of a burst is dropped, the next batch has room again', async (t: TestContext) => {
  const { b, next } = batcher();
  for (let i = 0; i < 25_000; i++) b.report(node(i), 'failed');
  const first = await next();
  t.assert.equal(first.length, 40_000);
  t.assert.deepStrictEqual(first.slice(-2), [19_999, OUTCOME_CODE.failed], 'the first 20,000 kept, the later ones dropped');
  b.report(node(1), 'ok');
  t.assert.deepStrictEqual(await next(), [1, OUTCOME_CODE.ok]);
});
