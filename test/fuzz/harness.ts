// The fuzz harness (issue 14): every parser of untrusted bytes is a FuzzTarget, driven by fast-check (property-based,
// seeded, shrinking a failure to a small input). Why fast-check and not coverage-guided @jazzer.js/core: on this
// machine jazzer 4.0.0's prebuilt fuzzer needs glibc 2.38 (Debian 12 has 2.36) and 2.1.0 downloads its binaries
// from GitHub at install, which the CI machine cannot reach; fast-check is plain JavaScript from the npm registry.
// The generators make up for the missing coverage feedback: each target builds valid inputs and mutates them, so the
// deep paths are reached, and reports how often each kind of answer came out (a target that never reaches `ok` is
// seen at once).
//
// One input passes when the target answers it within `boundMs`, does not throw, and its answer is consistent (each
// target's `check`). `npm test` runs 10,000 inputs per target (test/fuzz/fuzz.test.ts); `npm run fuzz` runs
// 1,000,000 per target, each in its own worker thread under a watchdog that reports an input that never returns
// (test/fuzz/run.ts).
import fc from 'fast-check';

export type Verdict = { readonly kind: string } | { readonly fail: string };

export interface FuzzTarget<T = unknown> {
  readonly name: string;
  readonly arbitrary: fc.Arbitrary<T>;
  /** The answer to one input: its kind (for the tally), or why it is wrong. Throwing is a failure too. */
  check(input: T): Verdict;
  /** The input as text, for a report and for the watchdog (hex for bytes). */
  show(input: T): string;
  /** The longest one input may take, ms (inside `npm test`, where other suites load the machine, 20x this). */
  readonly boundMs: number;
  /** Kinds of answer the target must reach in a run of 10,000 (e.g. ok, need_more, invalid). */
  readonly mustReach: readonly string[];
}

export interface FuzzFailure {
  readonly message: string;
  /** The shrunk input. */
  readonly input: string;
  readonly seed: number;
  /** fast-check's replay path: `fc.assert(..., { seed, path })` runs exactly this case again. */
  readonly path: string | undefined;
}

export interface FuzzReport {
  readonly name: string;
  readonly runs: number;
  readonly seconds: number;
  readonly slowestMs: number;
  readonly kinds: Readonly<Record<string, number>>;
  readonly failure: FuzzFailure | undefined;
}

export interface RunOptions {
  readonly runs: number;
  readonly seed: number;
  /** Multiplies boundMs (a loaded machine). */
  readonly slack?: number;
  /** Called with each input before it is checked (the watchdog keeps the last one). */
  readonly onInput?: (shown: () => string) => void;
}

/** What went wrong with one input, or undefined; the kind is tallied. */
function judge<T>(target: FuzzTarget<T>, input: T, boundMs: number, tally: Map<string, number> | undefined, slowest: { ms: number }): string | undefined {
  const t0 = performance.now();
  let v: Verdict;
  try {
    v = target.check(input);
  } catch (err) {
    return `threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
  }
  const ms = performance.now() - t0;
  if (ms > slowest.ms) slowest.ms = ms;
  if ('fail' in v) return v.fail;
  tally?.set(v.kind, (tally.get(v.kind) ?? 0) + 1);
  if (ms > boundMs) {
    // a garbage collection can pause one input: slow only if it is slow every time
    let best = ms;
    for (let i = 0; i < 2 && best > boundMs; i++) {
      const t1 = performance.now();
      target.check(input);
      best = Math.min(best, performance.now() - t1);
    }
    if (best > boundMs) return `answered (${v.kind}) after ${best.toFixed(1)} ms (the fastest of 3), over the bound of ${boundMs} ms`;
  }
  return undefined;
}

export function runTarget<T>(target: FuzzTarget<T>, opts: RunOptions): FuzzReport {
  const boundMs = target.boundMs * (opts.slack ?? 1);
  const tally = new Map<string, number>();
  const slowest = { ms: 0 };
  let shrinking = false;
  const t0 = performance.now();
  const out = fc.check(fc.property(target.arbitrary, (input) => {
    opts.onInput?.(() => target.show(input));
    // while fast-check shrinks a failure, its smaller inputs are not tallied
    const why = judge(target, input, boundMs, shrinking ? undefined : tally, slowest);
    if (why !== undefined) shrinking = true;
    return why === undefined;
  }), { numRuns: opts.runs, seed: opts.seed, endOnFailure: false });
  const seconds = (performance.now() - t0) / 1000;
  let failure: FuzzFailure | undefined;
  if (out.failed && out.counterexample !== null) {
    const [input] = out.counterexample;
    const message = judge(target, input, boundMs, undefined, { ms: 0 }) ?? 'failed only in the run (timing?)';
    failure = { message, input: target.show(input).slice(0, 4000), seed: out.seed, path: out.counterexamplePath ?? undefined };
  } else if (out.failed) {
    failure = { message: String(out.errorInstance ?? 'fast-check failed without a counterexample'), input: '', seed: out.seed, path: undefined };
  }
  return { name: target.name, runs: out.numRuns, seconds, slowestMs: slowest.ms, kinds: Object.fromEntries(tally), failure };
}

/** Bytes as hex, for `show`. */
export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A value as JSON (undefined and cycles cannot occur in fast-check's JSON arbitraries). */
export const json = (v: unknown): string => JSON.stringify(v) ?? String(v);

/**
 * Mutations of a byte string, as fuzzers do them: flip a bit, a boundary byte, truncate, insert or delete a range,
 * overwrite a 16-bit length field, duplicate a range. Each arbitrary mutates a `base`.
 */
export function mutated(base: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  const step = fc.tuple(fc.nat(7), fc.nat(), fc.nat(), fc.uint8Array({ maxLength: 16 }));
  return fc.tuple(base, fc.array(step, { minLength: 1, maxLength: 4 })).map(([b0, steps]) => {
    let b = Buffer.from(b0);
    for (const [op, p, q, bytes] of steps) {
      const at = b.length === 0 ? 0 : p % b.length;
      switch (op) {
        case 0: if (b.length > 0) b[at] = (b[at] ?? 0) ^ (1 << (q % 8)); break;
        case 1: if (b.length > 0) b[at] = [0x00, 0xff, 0x7f, 0x80, q % 256][q % 5] ?? 0; break;
        case 2: b = b.subarray(0, at); break;
        case 3: b = Buffer.concat([b.subarray(0, at), bytes, b.subarray(at)]); break;
        case 4: b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + (q % 32)))]); break;
        case 5: if (at + 1 < b.length) b.writeUInt16BE([0, 1, 0xffff, 0x4000, q % 65536][q % 5] ?? 0, at); break;
        default: b = Buffer.concat([b, b.subarray(at, at + 1 + (q % 64))]); break;
      }
    }
    return new Uint8Array(b);
  });
}

/** Text mutations for YAML and templates: the same, on the UTF-8 bytes, read back as text. */
export function mutatedText(base: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return mutated(base.map((s) => new Uint8Array(Buffer.from(s)))).map((b) => Buffer.from(b).toString('utf8'));
}
