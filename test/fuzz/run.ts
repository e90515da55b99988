// `npm run fuzz [-- NAME...] [--runs N] [--seed S]`: every fuzz target (targets/index.ts), 1,000,000 inputs each by
// default, two at a time (one per core), each in a worker thread of its own under a watchdog: a target that makes no
// progress for WATCHDOG_MS is stopped and reported as a hang, with its seed and the index of the input it was on.
// Prints one line per target and a table; exits 1 if any target failed or hung.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { runTarget, type FuzzReport } from './harness.ts';
import { TARGETS } from './targets/index.ts';

const WATCHDOG_MS = 30_000;

interface Job { readonly name: string; readonly runs: number; readonly seed: number; readonly progress: SharedArrayBuffer }

if (!isMainThread) {
  const job = workerData as Job;
  const load = TARGETS[job.name];
  if (load === undefined) throw new Error(`no fuzz target ${job.name}`);
  const { target } = await load();
  const count = new Int32Array(job.progress);
  const report = runTarget(target, { runs: job.runs, seed: job.seed, onInput: () => { Atomics.add(count, 0, 1); } });
  parentPort?.postMessage(report);
} else {
  const args = process.argv.slice(2);
  const flag = (f: string, dflt: number): number => {
    const i = args.indexOf(f);
    if (i < 0) return dflt;
    const v = Number(args[i + 1]);
    args.splice(i, 2);
    return v;
  };
  const runs = flag('--runs', 1_000_000);
  const seed = flag('--seed', Date.now() % 2 ** 31);
  const names = args.length > 0 ? args : Object.keys(TARGETS);
  const unknown = names.filter((n) => TARGETS[n] === undefined);
  if (unknown.length > 0) {
    console.error(`unknown fuzz targets: ${unknown.join(', ')} (known: ${Object.keys(TARGETS).join(', ')})`);
    process.exit(2);
  }

  const runOne = (name: string): Promise<FuzzReport | { name: string; hang: string }> => new Promise((resolve) => {
    const progress = new SharedArrayBuffer(4);
    const count = new Int32Array(progress);
    const w = new Worker(new URL(import.meta.url), { workerData: { name, runs, seed, progress } satisfies Job });
    let last = -1;
    let still = 0;
    const dog = setInterval(() => {
      const now = Atomics.load(count, 0);
      still = now === last ? still + 1000 : 0;
      last = now;
      if (still >= WATCHDOG_MS) {
        clearInterval(dog);
        void w.terminate();
        resolve({ name, hang: `no progress for ${WATCHDOG_MS / 1000} s at input #${now - 1} (seed ${seed}; fast-check regenerates it with fc.sample(arbitrary, { seed, numRuns: ${now} }))` });
      }
    }, 1000);
    w.once('message', (r: FuzzReport) => { clearInterval(dog); resolve(r); });
    w.once('error', (err: Error) => { clearInterval(dog); resolve({ name, hang: `the worker failed: ${err.message}` }); });
  });

  const results: (FuzzReport | { name: string; hang: string })[] = [];
  const queue = [...names];
  await Promise.all([0, 1].map(async () => {
    for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
      const r = await runOne(n);
      console.log(JSON.stringify(r));
      results.push(r);
    }
  }));
  console.log(`\nseed ${seed}, ${runs} inputs per target\n`);
  console.log('| target | inputs | seconds | inputs/s | slowest ms | answers | result |');
  console.log('|---|---|---|---|---|---|---|');
  let bad = 0;
  for (const r of results.sort((a, b) => a.name.localeCompare(b.name))) {
    if ('hang' in r) {
      bad++;
      console.log(`| ${r.name} | | | | | | HANG: ${r.hang} |`);
      continue;
    }
    if (r.failure !== undefined) bad++;
    const kinds = Object.entries(r.kinds).map(([k, v]) => `${k} ${v}`).join(', ');
    const result = r.failure === undefined ? 'ok' : `FAILED: ${r.failure.message} on ${r.failure.input.slice(0, 200)} (seed ${r.failure.seed}, path ${r.failure.path ?? '-'})`;
    console.log(`| ${r.name} | ${r.runs} | ${r.seconds.toFixed(1)} | ${Math.round(r.runs / r.seconds)} | ${r.slowestMs.toFixed(2)} | ${kinds} | ${result} |`);
  }
  process.exit(bad > 0 ? 1 : 0);
}
