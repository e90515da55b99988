// lua-resty-expr v1 (https://github.com/api7/lua-resty-expr, lib/resty/expr/v1.lua, 1.3.2 as pinned by APISIX) for
// traffic-split's `rules[].match[].vars`: compiled once per snapshot into closures, so that a connection only looks up
// variables and compares. The compile errors keep lua-resty-expr's wording, because APISIX's Admin API answers
// "failed to validate the 'vars' expression: <err>" with them.
//
// Semantics follow v1.lua with JSON input (null is cjson's ngx.null: truthy at compile time, nil at eval time):
// - `[]` (and `{}`, which cjson cannot tell apart) compiles to "always true"; missing/null/false → "missing argument rule".
// - a top-level rule whose first element is not a list must start with AND/OR/!AND/!OR (any case), else
//   "rule should be wrapped inside brackets"; a list of expressions is an AND; a logic list needs ≥ 2 operands.
// - `[var, op, value]`, `[var, "!", op, value]`, and the compatibility form `[var, value]` (meaning ==, value
//   lowercased as the Lua code does); elements past the fourth are ignored, as in Lua. Operators are case-insensitive.
// - Lua equality never coerces: `==`/`~=` compare a number value with tonumber(var), anything else by type and value
//   (so a number from the lookup never equals a string value, and `in` lists match by type). `>`/`>=`/`<`/`<=`
//   apply Lua's tonumber to both sides (hex, exponents, inf/nan, surrounding whitespace) and are false if either is not
//   a number. A missing variable: == null/missing is true, ~= "x" is true, ~= null is false, everything else false.
// - `has` needs a list-valued variable; a VarLookup never returns one (nor does nginx), so it is always false.
// Deviations, each where Lua would throw at eval time or silently mismatch (all are compile errors here):
// - a non-string variable name, a non-string/number operator, a non-list where an expression belongs: "invalid
//   expression"; a non-string regex: "invalid regex: string expected"; nesting past MAX_DEPTH: "rule nested too deep".
// - regexes use JavaScript syntax (ngx.re uses PCRE with "jo"); one JS cannot compile is "invalid regex '<p>': <why>".
//   Catastrophic backtracking: patterns run on V8's linear-time engine (the `l` flag; `~*` with its ASCII letters
//   spelled in both cases, as that engine has no `i`) when it accepts them. The rest (backreferences, lookaround,
//   counts over 16) run on the backtracking engine only if backtrackRisk finds them bounded, else
//   "regex '<p>' may backtrack catastrophically". Patterns are capped at MAX_PATTERN characters.
// - ipmatch entries are parsed by lib/ip.ts: a bad prefix length is "invalid ip address: <entry>" (ipmatcher reads
//   "/abc" as /32), and IPv4-mapped IPv6 counts as IPv4 on both sides (Node's dual-stack sockets report ::ffff:a.b.c.d).
import { setFlagsFromString } from 'node:v8';
import { cidrHas, compileCidr, parseIp, type CompiledCidr } from './ip.ts';

export type VarLookup = (name: string) => string | number | undefined;
export type CompiledExpr = (vars: VarLookup) => boolean;
export type ExprCompile = { ok: true; eval: CompiledExpr } | { ok: false; error: string };

/** Nesting bound: the outer list is level 1, each nested list one more; APISIX rules in the wild use 2 to 4. */
export const MAX_DEPTH = 32;
/** Longest regex accepted; the linear engine's cost is (pattern × subject). */
const MAX_PATTERN = 4096;
/** Product of the quantifier maxima allowed in a pattern that must run on the backtracking engine. */
const MAX_BACKTRACK_WORK = 10_000;

type Node = (vars: VarLookup) => boolean;
type Value = string | number | undefined;

const ALWAYS: CompiledExpr = () => true;
const LOGIC = new Set(['AND', 'OR', '!AND', '!OR']);
const OPS = new Set(['==', '~=', '>', '>=', '<', '<=', '~~', '~*', 'in', 'has', 'ipmatch']);

// V8's linear-time regex engine sits behind a flag that only adds the `l` flag to RegExp; it changes no other regex.
// (The flag is held in a variable: lint does not know `l`.)
const LINEAR_FLAG: string = 'l';
const LINEAR = ((): boolean => {
  try { new RegExp('', LINEAR_FLAG); return true; } catch { /* flag not set yet */ }
  try { setFlagsFromString('--enable-experimental-regexp-engine'); new RegExp('', LINEAR_FLAG); return true; } catch { return false; }
})();

export function compileExpr(rule: unknown): ExprCompile {
  if (rule === undefined || rule === null || rule === false) return { ok: false, error: 'missing argument rule' };
  if (!Array.isArray(rule)) {
    if (isTable(rule) && Object.keys(rule).length === 0) return { ok: true, eval: ALWAYS };
    return { ok: false, error: 'rule should be wrapped inside brackets' };
  }
  if (rule.length === 0) return { ok: true, eval: ALWAYS };
  if (!isTable(rule[0])) {
    const op = nameOf(rule[0], asciiUpper);
    if (op === undefined || !LOGIC.has(op)) return { ok: false, error: 'rule should be wrapped inside brackets' };
  }
  const node = compileRules(rule, 1);
  return typeof node === 'string' ? { ok: false, error: node } : { ok: true, eval: node };
}

/** A rule list, a logic list or one expression; an error string on failure. */
function compileRules(rules: unknown, depth: number): Node | string {
  if (depth > MAX_DEPTH) return `rule nested too deep (max ${MAX_DEPTH} levels)`;
  if (!isTable(rules)) return 'invalid expression';
  if (!Array.isArray(rules) || rules.length === 0) return 'rule too short'; // Lua: #{k = v} is 0
  if (isTable(rules[0])) return compileList('AND', rules, 0, depth);
  const op = nameOf(rules[0], asciiUpper);
  if (op === undefined) return 'invalid expression';
  if (LOGIC.has(op)) return rules.length <= 2 ? 'rule too short' : compileList(op, rules, 1, depth);
  return compileLeaf(rules);
}

function compileList(op: string, rules: unknown[], from: number, depth: number): Node | string {
  const kids: Node[] = [];
  for (let i = from; i < rules.length; i++) {
    const k = compileRules(rules[i], depth + 1);
    if (typeof k === 'string') return k;
    kids.push(k);
  }
  const n = kids.length;
  const every = (v: VarLookup): boolean => { for (let i = 0; i < n; i++) if (!(kids[i] as Node)(v)) return false; return true; };
  const some = (v: VarLookup): boolean => { for (let i = 0; i < n; i++) if ((kids[i] as Node)(v)) return true; return false; };
  if (op === 'AND') return every;
  if (op === 'OR') return some;
  if (op === '!AND') return (v) => !every(v);
  return (v) => !some(v);
}

function compileLeaf(expr: unknown[]): Node | string {
  let reverse = false;
  let name: unknown, rawOp: unknown, value: unknown;
  if (expr.length === 4) {
    if (expr[1] !== '!') return "bad 'not' expression";
    reverse = true;
    [name, , rawOp, value] = expr;
  } else {
    [name, rawOp, value] = expr;
  }
  let op: string | undefined;
  if (rawOp !== undefined) {
    op = nameOf(rawOp, asciiLower);
    if (op === undefined) return 'invalid expression';
  }
  if (value === undefined && (op === undefined || !OPS.has(op))) {
    value = op; // compatibility: [var, value] means ==
    op = '==';
    if (value === undefined) return 'invalid expression';
  }
  if (name === undefined || op === undefined) return 'invalid expression';
  if (!OPS.has(op)) return `invalid operator '${op}'`;
  if (typeof name !== 'string') return 'invalid expression';
  const test = compileOp(op, value);
  if (typeof test === 'string') return test;
  return reverse ? (v) => !test(v(name)) : (v) => test(v(name));
}

function compileOp(op: string, raw: unknown): ((l: Value) => boolean) | string {
  const r = raw === null ? undefined : raw; // ngx.null is nil once evaluated
  switch (op) {
    case '==': return equals(r);
    case '~=': {
      if (typeof r === 'number') return (l) => { const n = luaToNumber(l); return n === undefined || n !== r; };
      const eq = equals(r);
      return (l) => !eq(l);
    }
    case '>': case '>=': case '<': case '<=': {
      const rn = luaToNumber(typeof r === 'string' || typeof r === 'number' ? r : undefined);
      if (rn === undefined) return () => false;
      const cmp = op === '>' ? (a: number) => a > rn : op === '>=' ? (a: number) => a >= rn
        : op === '<' ? (a: number) => a < rn : (a: number) => a <= rn;
      return (l) => { const n = luaToNumber(l); return n !== undefined && cmp(n); };
    }
    case '~~': case '~*': {
      const re = compileRegex(r, op === '~*');
      if (typeof re === 'string') return re;
      return (l) => l !== undefined && re.test(typeof l === 'string' ? l : luaNumStr(l));
    }
    case 'in': {
      const strs = new Set<string>();
      const nums = new Set<number>();
      if (Array.isArray(r)) for (const x of r as unknown[]) {
        if (typeof x === 'string') strs.add(x); else if (typeof x === 'number') nums.add(x);
      }
      return (l) => (typeof l === 'string' ? strs.has(l) : typeof l === 'number' && !Number.isNaN(l) && nums.has(l));
    }
    case 'has': return () => false;
    default: return compileIpmatch(raw);
  }
}

/** Lua `l == r` after `==`'s number rule: a number value compares with tonumber(var). */
function equals(r: unknown): (l: Value) => boolean {
  if (typeof r === 'number') return (l) => luaToNumber(l) === r;
  if (typeof r === 'string') return (l) => l === r;
  if (r === undefined) return (l) => l === undefined;
  return () => false; // a boolean or a table never equals a variable
}

function compileIpmatch(raw: unknown): ((l: Value) => boolean) | string {
  if (raw === undefined || raw === false || raw === '') return 'invalid ip address';
  const list: unknown[] = Array.isArray(raw) ? raw : isTable(raw) ? [] : [raw];
  if (list.length === 0) return 'invalid ip address';
  const cidrs: CompiledCidr[] = [];
  for (const e of list) {
    if (typeof e !== 'string') return `invalid ip address: ${JSON.stringify(e) ?? String(e)}`;
    const slash = e.indexOf('/');
    const addr = slash < 0 ? e : e.slice(0, slash);
    const c = compileCidr(unbracket(addr) + (slash < 0 ? '' : e.slice(slash)));
    if (c === undefined) return `invalid ip address: ${parseIp(unbracket(addr)) === undefined ? addr : e}`;
    cidrs.push(c);
  }
  const n = cidrs.length;
  return (l) => {
    if (typeof l !== 'string') return false;
    const ip = parseIp(unbracket(l));
    if (ip === undefined) return false;
    for (let i = 0; i < n; i++) if (cidrHas(cidrs[i] as CompiledCidr, ip)) return true;
    return false;
  };
}

function compileRegex(r: unknown, caseless: boolean): RegExp | string {
  if (typeof r !== 'string' && typeof r !== 'number') return 'invalid regex: string expected';
  const src = typeof r === 'string' ? r : luaNumStr(r);
  if (src.length > MAX_PATTERN) return `regex too long (max ${MAX_PATTERN} characters)`;
  let re: RegExp;
  try {
    re = new RegExp(src, caseless ? 'i' : '');
  } catch (err) {
    const msg = err instanceof Error ? err.message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '') : String(err);
    return `invalid regex '${src}': ${msg}`;
  }
  if (LINEAR) {
    // the linear engine has no `i`: a caseless pattern runs there with its ASCII letters spelled in both cases
    try { return new RegExp(caseless ? foldAscii(src) : src, LINEAR_FLAG); } catch { /* needs backtracking */ }
  }
  return backtrackRisk(src) ? `regex '${src}' may backtrack catastrophically` : re;
}

/**
 * `a` → `[aA]` and `[a-c]` → `[a-cA-C]`, so a pattern matches ASCII letters in either case without the `i` flag
 * (PCRE's default tables fold ASCII only, too). Escapes, group names and `(?flags:` are copied as they are; an
 * identity escape of a letter (`\q`) folds like the letter. The pattern is already known to compile.
 */
function foldAscii(src: string): string {
  const swap = (c: string): string => (c >= 'a' && c <= 'z' ? c.toUpperCase() : c >= 'A' && c <= 'Z' ? c.toLowerCase() : '');
  const isLetter = (c: string): boolean => swap(c) !== '';
  const hexEsc = (s: string): string | undefined => (/^[0-9a-fA-F]+$/.test(s) ? String.fromCharCode(parseInt(s, 16)) : undefined);
  let out = '';
  let i = 0;
  // one class item at src[i] (after `[`): its text, and the char when it is a single literal
  const classAtom = (): [string, string | undefined] => {
    const c = src[i] as string;
    if (c !== '\\') { i++; return [c, c]; }
    const d = src[i + 1] ?? '';
    const hex = d === 'x' ? src.slice(i + 2, i + 4) : d === 'u' ? src.slice(i + 2, i + 6) : '';
    const lit = hex.length === (d === 'x' ? 2 : 4) ? hexEsc(hex) : undefined;
    if (lit !== undefined) { const t = src.slice(i, i + 2 + hex.length); i += 2 + hex.length; return [t, lit]; }
    i += 2;
    return [`\\${d}`, /[dDwWsSbBnrtvf0-9cxuk]/.test(d) || d === '' ? undefined : d];
  };
  while (i < src.length) {
    const c = src[i] as string;
    if (c === '\\') {
      const d = src[i + 1] ?? '';
      if (d === 'k' && src[i + 2] === '<') { const j = src.indexOf('>', i); out += src.slice(i, j + 1); i = j + 1; continue; }
      if (d === 'c') { out += src.slice(i, i + 3); i += 3; continue; }
      const [text, lit] = classAtom();
      out += lit !== undefined && isLetter(lit) ? `[${text}${swap(lit)}]` : text;
    } else if (c === '[') {
      let body = '';
      let extra = '';
      i++;
      if (src[i] === '^') { body += '^'; i++; }
      while (i < src.length && src[i] !== ']') {
        const [text, lo] = classAtom();
        body += text;
        if (src[i] === '-' && src[i + 1] !== ']' && src[i + 1] !== undefined && lo !== undefined) {
          i++;
          const [text2, hi] = classAtom();
          body += `-${text2}`;
          if (hi === undefined) continue;
          for (const [a, z] of [['a', 'z'], ['A', 'Z']] as const) {
            const from = lo > a ? lo : a;
            const to = hi < z ? hi : z;
            if (from <= to) extra += from === to ? swap(from) : `${swap(from)}-${swap(to)}`;
          }
        } else if (lo !== undefined && isLetter(lo)) extra += swap(lo);
      }
      i++;
      out += `[${body}${extra}]`;
    } else if (c === '(' && src[i + 1] === '?') {
      const m = /^\(\?(?:<(?![=!])[^>]*>|[a-zA-Z-]*:|)/.exec(src.slice(i));
      const t = m?.[0] ?? '(?';
      out += t;
      i += t.length;
    } else {
      out += isLetter(c) ? `[${c}${swap(c)}]` : c;
      i++;
    }
  }
  return out;
}

/**
 * A static check for patterns that must run on the backtracking engine (backreferences, lookaround, counts over 16):
 * true when a group repeated more than once holds a quantifier, an alternation or a backreference ((a+)+, (a|a)*,
 * (\1)*), when any quantifier is unbounded (V8 takes seconds on /.*.*x/ against 2,000 characters), or when the
 * bounded counts multiply past MAX_BACKTRACK_WORK. The pattern is already known to compile.
 */
function backtrackRisk(src: string): boolean {
  const stack: { risky: boolean }[] = [{ risky: false }];
  let work = 1;
  let i = 0;
  // reads a quantifier at src[i]; returns its max (Infinity, n, or 1 when there is none) and advances i
  const quant = (): number => {
    const c = src[i];
    let max = 1;
    if (c === '*' || c === '+') { max = Infinity; i++; } else if (c === '?') { i++; } else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(src.slice(i));
      if (m === null) return 1;
      max = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]);
      i += m[0].length;
    } else return 1;
    if (src[i] === '?') i++;
    work *= Math.max(max, 1);
    return max;
  };
  const top = (): { risky: boolean } => stack[stack.length - 1] as { risky: boolean };
  while (i < src.length) {
    const c = src[i];
    if (c === '\\') {
      const d = src[i + 1] ?? '';
      i += 2;
      const backref = /[1-9k]/.test(d);
      if (quant() > 1 || backref) top().risky = true;
    } else if (c === '[') {
      i++;
      if (src[i] === '^') i++;
      while (i < src.length && src[i] !== ']') i += src[i] === '\\' ? 2 : 1;
      i++;
      if (quant() > 1) top().risky = true;
    } else if (c === '(') {
      stack.push({ risky: false });
      i += src[i + 1] === '?' ? 2 : 1;
    } else if (c === ')') {
      const body = stack.length > 1 ? (stack.pop() as { risky: boolean }) : { risky: false };
      i++;
      const max = quant();
      if (max > 1 && body.risky) return true;
      if (max > 1 || body.risky) top().risky = true;
    } else if (c === '|') {
      top().risky = true;
      i++;
    } else {
      i++;
      if (quant() > 1) top().risky = true;
    }
  }
  return work > MAX_BACKTRACK_WORK;
}

const isTable = (v: unknown): v is object => v !== null && typeof v === 'object';
const unbracket = (s: string): string => (s.length > 2 && s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s);
const asciiUpper = (s: string): string => s.replace(/[a-z]+/g, (m) => m.toUpperCase());
const asciiLower = (s: string): string => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());

/** string.upper/lower as Lua applies them: strings as ASCII, numbers through tostring; other types throw in Lua. */
function nameOf(v: unknown, fold: (s: string) => string): string | undefined {
  if (typeof v === 'string') return fold(v);
  if (typeof v === 'number') return luaNumStr(v);
  return undefined;
}

const LUA_NUM = /^[\t\n\v\f\r ]*([+-]?)(?:(\d+(?:\.\d*)?|\.\d+)([eE][+-]?\d+)?|0[xX]([\da-fA-F]*)(?:\.([\da-fA-F]*))?([pP][+-]?\d+)?|([iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN]))[\t\n\v\f\r ]*$/;

/**
 * LuaJIT's tonumber on a string (lj_strscan): decimal, hex with optional fraction and binary exponent, inf, nan,
 * surrounding whitespace. The pattern is unambiguous, so a long digit string costs linear time.
 */
export function luaToNumber(v: Value): number | undefined {
  if (typeof v === 'number') return v;
  if (v === undefined) return undefined;
  const m = LUA_NUM.exec(v);
  if (m === null) return undefined;
  const sign = m[1] === '-' ? -1 : 1;
  if (m[2] !== undefined) return sign * Number(m[2] + (m[3] ?? ''));
  if (m[7] !== undefined) return /^n/i.test(m[7]) ? NaN : sign * Infinity;
  const int = m[4] ?? '';
  const frac = m[5] ?? '';
  if (int === '' && frac === '') return undefined;
  let n = 0;
  for (const d of int + frac) n = n * 16 + parseInt(d, 16);
  const exp = (m[6] === undefined ? 0 : Number(m[6].slice(1))) - 4 * frac.length;
  return sign * n * 2 ** exp;
}

/** Lua's tostring for a number (LuaJIT "%.14g"). */
export function luaNumStr(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  if (n === 0) return Object.is(n, -0) ? '-0' : '0';
  const e = n.toExponential(13);
  const at = e.indexOf('e');
  const x = Number(e.slice(at + 1));
  const trim = (s: string): string => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
  if (x < -4 || x >= 14) return `${trim(e.slice(0, at))}e${x < 0 ? '-' : '+'}${String(Math.abs(x)).padStart(2, '0')}`;
  return trim(n.toFixed(13 - x));
}
