// A short run of every fuzz target inside `npm test` (10,000 inputs each, a fixed seed per target so a failure
// replays); the long runs are `npm run fuzz` (test/fuzz/run.ts). Bounds are 20x looser here: other suites load the
// machine, and a real hang or a runaway regex takes seconds, far past either bound.
import { test, type TestContext } from 'node:test';
import { runTarget } from './harness.ts';
import { TARGETS } from './targets/index.ts';

const RUNS = 10_000;

for (const [name, load] of Object.entries(TARGETS)) {
  test(`fuzz ${name}: ${RUNS} inputs, none throws, hangs or answers wrongly; every kind of answer is reached`, async (t: TestContext) => {
    const { target } = await load();
    const seed = [...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, 7);
    const r = runTarget(target, { runs: RUNS, seed, slack: 20 });
    t.diagnostic(`${r.runs} inputs in ${r.seconds.toFixed(2)} s, slowest ${r.slowestMs.toFixed(2)} ms: ${JSON.stringify(r.kinds)}`);
    t.assert.deepStrictEqual(r.failure, undefined);
    t.assert.equal(r.runs, RUNS);
    for (const k of target.mustReach) t.assert.ok((r.kinds[k] ?? 0) > 0, `the inputs reached "${k}" (${JSON.stringify(r.kinds)})`);
  });
}
