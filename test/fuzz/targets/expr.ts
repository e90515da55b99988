// Fuzzes the lua-resty-expr compiler and evaluator (src/lib/expr.ts): valid rule trees, mutations of them (subtree
// swaps, dropped or added elements, type changes, deep wrapping), random JSON values and deep nesting, with random
// and adversarial regexes. Each input is compiled and, if it compiles, evaluated against random variable sets (long
// runs of one letter to provoke backtracking, IPs, numeric strings). Checks: nothing throws, every rejection has a
// non-empty error, eval returns a boolean and `["!AND", r, r]` is its negation, and compile plus evals finish within
// BOUND_MS. This is the traffic-split plugin's `vars` evaluator.
import fc from 'fast-check';
import { compileExpr, type VarLookup } from '../../../src/lib/expr.ts';
import { json, type FuzzTarget } from '../harness.ts';
import { pick, prng } from '../prng.ts';

const BOUND_MS = 50;
const NAMES = ['remote_addr', 'server_port', 'sni', 'k', 'x'];
/** Names Lua reads as logic operators; rare, as each spoils its tree. */
const ODD_NAMES = ['AND', 'or'];
const OPS = ['==', '~=', '>', '>=', '<', '<=', '~~', '~*', 'in', 'has', 'ipmatch', 'IN', 'Ipmatch', '=', '!', 'bogus', ''];
const LOGIC = ['AND', 'OR', '!AND', '!OR', 'and', '!or', 'XOR'];
const IPS = ['127.0.0.1', '10.0.0.0/8', '0.0.0.0/0', '::1', '2001:db8::/32', '::/0', '[::1]', '1.2.3.4/33', 'foo', '', '::ffff:10.0.0.1', '10.0.0.1/abc'];
const RE_ATOMS = ['a', 'A', '.', '\\w', '\\d', '[a-z]', '[^b]', '(', ')', '(?:', '(?=', '(?<n>', '\\k<n>', '|', '*', '+', '?', '{2,}', '{0,300}', '{3}', '\\1', '^', '$', '\\', '[', 'x', '\\b'];
const EVIL = ['(a+)+$', '(a|a)*b', '.*.*.*x', '(a|aa)+$', '(\\w+\\.)*\\w+x', '^(a)\\1*(a+)+$', '(?=a)(a|a)*b', '(.*a){12}'];

type R = () => number;
const int = (r: R, n: number): number => Math.floor(r() * n);

function regex(r: R): string {
  if (r() < 0.25) return pick(r, EVIL);
  if (r() < 0.4) return pick(r, ['^a+$', '[a-z]+x', 'A', '^(\\w+\\.)?example\\.com$', '\\d{1,5}', '(a)\\1', '(?=a)\\w{2,20}']);
  let s = '';
  for (let i = int(r, 10); i >= 0; i--) s += pick(r, RE_ATOMS);
  return s;
}

function value(r: R, op: string): unknown {
  switch (op) {
    case 'ipmatch': case 'Ipmatch': return r() < 0.5 ? pick(r, IPS) : Array.from({ length: int(r, 4) }, () => pick(r, IPS));
    case '~~': case '~*': return r() < 0.9 ? regex(r) : randomJson(r, 2);
    case 'in': return Array.from({ length: int(r, 5) }, () => scalar(r));
    default: return scalar(r);
  }
}

function scalar(r: R): unknown {
  return pick(r, [() => String(int(r, 20000)), () => int(r, 20000) - 100, () => pick(r, ['v', 'a', '0x10', ' 9000 ', 'inf', 'nan', '1e3', '']), () => null, () => r() < 0.5])();
}

function leaf(r: R): unknown[] {
  const name = r() < 0.02 ? pick(r, ODD_NAMES) : pick(r, NAMES);
  const op = pick(r, OPS.slice(0, 11));
  const v = value(r, op);
  const f = r();
  return f < 0.2 ? [name, '!', op, v] : f < 0.3 ? [name, r() < 0.5 ? 'v' : int(r, 100)] : f < 0.35 ? [name, op] : [name, op, v];
}

/** A rule list: a logic list, a list of expressions, or (below the top) one expression. */
function tree(r: R, depth: number, top: boolean): unknown[] {
  if (!top && (depth <= 0 || r() < 0.4)) return leaf(r);
  const kids = Array.from({ length: 2 + int(r, 3) }, () => tree(r, depth - 1, false));
  if (r() < 0.5) return [pick(r, LOGIC.slice(0, 6)), ...kids];
  return kids;
}

function randomJson(r: R, depth: number): unknown {
  const f = r();
  if (depth <= 0 || f < 0.4) return pick(r, [() => scalar(r), () => pick(r, OPS), () => pick(r, LOGIC), () => regex(r)])();
  if (f < 0.85) return Array.from({ length: int(r, 5) }, () => randomJson(r, depth - 1));
  return Object.fromEntries(Array.from({ length: int(r, 3) }, (_, i) => [`k${i}`, randomJson(r, depth - 1)]));
}

function mutate(r: R, x: unknown, depth = 0): unknown {
  if (!Array.isArray(x) || x.length === 0 || r() < 0.3) {
    switch (int(r, 5)) {
      case 0: return randomJson(r, 3);
      case 1: return pick(r, OPS);
      case 2: return scalar(r);
      case 3: return [pick(r, LOGIC), x];
      default: return x;
    }
  }
  const a = [...(x as unknown[])];
  const j = int(r, a.length);
  switch (int(r, 5)) {
    case 0: a.splice(j, 1); break;
    case 1: a.splice(j, 0, randomJson(r, 2)); break;
    case 2: a[j] = mutate(r, a[j], depth + 1); break;
    case 3: a[j] = pick(r, [...OPS, ...LOGIC, '!']); break;
    default: a[j] = mutate(r, a[j], depth + 1); a.push(leaf(r));
  }
  return a;
}

function deep(r: R): unknown {
  let x: unknown = leaf(r);
  for (let i = 20 + int(r, 200); i > 0; i--) x = r() < 0.5 ? [x] : [pick(r, LOGIC.slice(0, 4)), x, leaf(r)];
  return x;
}

function vars(r: R): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const n of NAMES) {
    if (r() < 0.2) continue;
    out[n] = pick(r, [
      () => 'a'.repeat(int(r, r() < 0.05 ? 20000 : 60)) + pick(r, ['', 'b', 'x', '!']),
      () => pick(r, IPS).replace(/\/.*/, ''),
      () => String(int(r, 70000)),
      () => int(r, 70000),
      () => pick(r, ['v', 'A', '0x2328', ' 12 ', 'nan', '-inf', '', 'www.example.com']),
    ])();
  }
  return out;
}

function input(r: R): unknown {
  const f = r();
  if (f < 0.15) return randomJson(r, 4);
  if (f < 0.25) return deep(r);
  const t = tree(r, 1 + int(r, 4), true);
  return f < 0.55 ? t : mutate(r, mutate(r, t));
}

interface ExprInput { readonly rule: unknown; readonly sets: readonly Record<string, string | number>[] }

// fast-check draws a seed per input; the rule-aware generators above build the rule and its variables from it.
const arbitrary = fc.integer().map((seed): ExprInput => {
  const r = prng(seed);
  return { rule: input(r), sets: Array.from({ length: 3 }, () => vars(r)) };
});

export const target: FuzzTarget<ExprInput> = {
  name: 'traffic-split-expr',
  arbitrary,
  show: (x) => json(x).slice(0, 4000),
  boundMs: BOUND_MS,
  mustReach: ['compiled', 'rejected'],
  check({ rule, sets }) {
    const c = compileExpr(rule);
    if (!c.ok) return typeof c.error === 'string' && c.error !== '' ? { kind: 'rejected' } : { fail: 'rejection without an error' };
    // one level deeper may pass MAX_DEPTH; that rejection is not a disagreement
    const wrapped = Array.isArray(rule) && rule.length > 0 ? compileExpr(['!AND', rule, rule]) : undefined;
    const neg = wrapped !== undefined && !wrapped.ok && wrapped.error.includes('too deep') ? undefined : wrapped;
    for (const s of sets) {
      const look: VarLookup = (n) => (Object.hasOwn(s, n) ? s[n] : undefined);
      const got = c.eval(look);
      if (typeof got !== 'boolean') return { fail: `eval returned ${String(got)}` };
      if (neg !== undefined && (!neg.ok || neg.eval(look) !== !got)) return { fail: '["!AND", r, r] is not the negation' };
    }
    return { kind: 'compiled' };
  },
};
