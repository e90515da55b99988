import { test, type TestContext } from 'node:test';
import { fuzzExpr } from './expr.fuzz.ts';

test('lua-resty-expr compiler: 10k fuzzed rules, no throw, no hang, every rejection with an error', (t: TestContext) => {
  t.plan(3);
  const r = fuzzExpr(10_000, 7, 1000);
  t.assert.deepStrictEqual(r.failures, []);
  t.assert.ok(r.compiled > 1000, `valid rules were generated (${r.compiled})`);
  t.assert.ok(r.rejected > 1000, `and invalid ones (${r.rejected})`);
});
